// JSON schema of a pipeline's `sweep:` block (src/engine/sweep.ts expands it; `xai sweep` runs it). Kept apart from
// sweep.ts so that pipeline.ts can validate the block without an import cycle.
const dist = {
  anyOf: [
    { type: 'array', minItems: 1 },
    { type: 'object', required: ['choice'], additionalProperties: false, properties: { choice: { type: 'array', minItems: 1 } } },
    { type: 'object', required: ['int'], additionalProperties: false, properties: { int: { type: 'array', items: { type: 'integer' }, minItems: 2, maxItems: 2 } } },
    { type: 'object', required: ['uniform'], additionalProperties: false, properties: { uniform: { type: 'array', items: { type: 'number' }, minItems: 2, maxItems: 2 } } },
    { type: 'object', required: ['loguniform'], additionalProperties: false, properties: { loguniform: { type: 'array', items: { type: 'number', exclusiveMinimum: 0 }, minItems: 2, maxItems: 2 } } },
  ],
};
const key = { pattern: '^stages\\.[A-Za-z_][A-Za-z0-9_-]*\\..+' };

export const sweepSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    description: { type: 'string' },
    grid: { type: 'object', propertyNames: key, additionalProperties: { type: 'array', minItems: 1 } },
    random: {
      type: 'object',
      required: ['trials', 'params'],
      additionalProperties: false,
      properties: {
        trials: { type: 'integer', minimum: 1 },
        seed: { type: 'integer' },
        params: { type: 'object', minProperties: 1, propertyNames: key, additionalProperties: dist },
      },
    },
    stages: { type: 'array', items: { type: 'string' }, minItems: 1 },
    collect: { type: 'string' },
  },
} as const;
