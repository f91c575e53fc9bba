// Bench contract: each bench/*.bench.ts default-exports a BenchFn; bench/run.ts runs them all in one process run
// and writes bench/results/bench.json and bench/results/bench.md (figures with their targets and ratios).

export interface BenchFigure {
  /** Short name, e.g. 'ort forward resnet18-224 ms/image'. */
  name: string;
  value: number;
  unit: string;
  /** Baseline measured in the same run, when the target is a ratio. */
  baseline?: { name: string; value: number };
  /** value / baseline.value (or another stated ratio). */
  ratio?: number;
  /** Human-readable target, e.g. '≤ 1.6× forward' or '< 1 s'. */
  target?: string;
  /** Whether the target was met. */
  pass?: boolean;
  notes?: string;
}

export interface BenchOptions {
  /** `npm run bench -- --quick`: smaller sizes, for a smoke run. */
  quick: boolean;
}

export type BenchFn = (opts: BenchOptions) => Promise<BenchFigure[]>;
