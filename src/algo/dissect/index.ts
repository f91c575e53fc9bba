// Network Dissection (NetDissect-Lite semantics): exact quantile thresholds, IoU tally, unit labels, statistics.
// Flow per layer: TopQuantile (pass over all activations) → thresholds → IouTally.addImage per image → labelUnits;
// TopImages over per-image maxima for the report; conceptCounts / layerSummary / compareDissections for statistics.
export * from './quantile.ts';
export * from './tally.ts';
export * from './upsample.ts';
export * from './label.ts';
export * from './stats.ts';
export * from './overlay.ts';
