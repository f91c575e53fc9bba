// Faithfulness and stability metrics of explanations (the evaluate stage): pure functions over typed arrays.
export * from './curves.ts';
export * from './road.ts';
export * from './stats.ts';
export * from './stability.ts';
