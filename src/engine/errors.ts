// Error classes shared by the engine, the CLI and the stages.
// - ConfigError: the user's input (pipeline, config fragment, CLI args, stage params) is wrong → exit 2, nothing runs.
// - StageError: a stage failed while running → exit 1, the stage is named.
// - itemError(): one item of a per-item stage failed (recorded in `<table>_errors` unless fail_on_item_error).

/** Where in a file an error is (1-based line/column). */
export interface Location {
  file?: string;
  line?: number;
  column?: number;
}

export interface ConfigErrorInfo extends Location {
  /** Dotted key path, e.g. `stages.lime.params.num_samples`. */
  path?: string;
  /** What was expected, e.g. `integer >= 1`. */
  expected?: string;
  /** A suggested fix, e.g. the nearest valid key. */
  suggestion?: string;
}

/**
 * A usage or configuration error. Message format:
 * `pipelines/x.yaml:12:5: stages.lime.params.num_sampels: unknown key (did you mean 'num_samples'?)`
 */
export class ConfigError extends Error {
  readonly exitCode = 2;
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
  readonly path?: string;
  readonly expected?: string;
  readonly suggestion?: string;
  /** The message without the location prefix. */
  readonly detail: string;

  constructor(detail: string, info: ConfigErrorInfo = {}) {
    super(formatConfigError(detail, info));
    this.name = 'ConfigError';
    this.detail = detail;
    this.file = info.file;
    this.line = info.line;
    this.column = info.column;
    this.path = info.path;
    this.expected = info.expected;
    this.suggestion = info.suggestion;
  }
}

export function formatConfigError(detail: string, info: ConfigErrorInfo): string {
  let loc = '';
  if (info.file) {
    loc = info.file;
    if (info.line) loc += `:${info.line}` + (info.column ? `:${info.column}` : '');
    loc += ': ';
  }
  const path = info.path ? `${info.path}: ` : '';
  let msg = `${loc}${path}${detail}`;
  if (info.expected && !detail.includes(info.expected)) msg += ` (expected ${info.expected})`;
  if (info.suggestion) msg += ` (${info.suggestion})`;
  return msg;
}

/** Several config errors found in one pass (validation reports them all, then exits 2). */
export class ConfigErrors extends ConfigError {
  readonly errors: ConfigError[];
  constructor(errors: ConfigError[]) {
    super(errors.map((e) => e.message).join('\n'));
    this.name = 'ConfigErrors';
    this.errors = errors;
    Object.defineProperty(this, 'message', { value: errors.map((e) => e.message).join('\n') });
  }
}

/** A stage failed while running. */
export class StageError extends Error {
  readonly exitCode = 1;
  readonly stageId: string;
  constructor(stageId: string, message: string, options?: { cause?: unknown }) {
    super(`stage '${stageId}': ${message}`, options);
    this.name = 'StageError';
    this.stageId = stageId;
  }
}

/** An error about one item of a per-item stage (an image that cannot be decoded, …). */
export class ItemError extends Error {
  readonly item: string;
  constructor(item: string, message: string, options?: { cause?: unknown }) {
    super(`item '${item}': ${message}`, options);
    this.name = 'ItemError';
    this.item = item;
  }
}

/** Throws an ItemError for `item` (use inside `ctx.map` fns to make the recorded message explicit). */
export function itemError(item: string, message: string, cause?: unknown): never {
  throw new ItemError(item, message, cause === undefined ? undefined : { cause });
}

/** Message of any thrown value. */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

/** Levenshtein edit distance. */
export function levenshtein(a: string, b: string): number {
  if (a === b) return 0;
  const m = a.length;
  const n = b.length;
  if (m === 0) return n;
  if (n === 0) return m;
  let prev = new Array<number>(n + 1);
  let cur = new Array<number>(n + 1);
  for (let j = 0; j <= n; j++) prev[j] = j;
  for (let i = 1; i <= m; i++) {
    cur[0] = i;
    for (let j = 1; j <= n; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1;
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
    }
    [prev, cur] = [cur, prev];
  }
  return prev[n];
}

/**
 * The candidate nearest to `word` (Levenshtein, case-insensitive), or undefined when none is close enough
 * (distance ≤ max(2, ⌊len/3⌋), or one is a prefix/substring of the other).
 */
export function nearest(word: string, candidates: Iterable<string>): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = levenshtein(w, c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  if (best === undefined) return undefined;
  const limit = Math.max(2, Math.floor(word.length / 3));
  if (bestD <= limit) return best;
  const b = best.toLowerCase();
  if (w.length >= 3 && (b.includes(w) || w.includes(b))) return best;
  return undefined;
}

/** `did you mean 'x'?` for the nearest candidate, or undefined. */
export function didYouMean(word: string, candidates: Iterable<string>): string | undefined {
  const n = nearest(word, candidates);
  return n === undefined ? undefined : `did you mean '${n}'?`;
}
