// The engine's public API (the CLI commands use these; so can scripts and other commands):
// analyzer (pipeline file → validated plan) → executor (cache check, run, commit) → run records; status; events.
export { analyze, type Plan, type PlanStage } from './analyze.ts';
export { executePlan, type RunOptions, type RunResult } from './runner.ts';
export { computeStatus, type StageStatus } from './status.ts';
export { EventBus, type RunEvent } from './events.ts';
export { attachProgress } from './progress.ts';
export { ArtifactStore, type Manifest } from './cache.ts';
export { readState, readLatestRun, listPipelines, type RunRecord, type PipelineState } from './runs.ts';
export { runSweep, expand, type SweepSpec, type SweepResult, type Combination } from './sweep.ts';
export { ConfigError, ConfigErrors, StageError, ItemError, itemError, nearest, didYouMean } from './errors.ts';
export type * from './types.ts';
