// The typed event stream of a run (in the spirit of google/wireit's events): the executor emits, the progress
// display (progress.ts) and the run record (RunRecorder in runs.ts) consume.
import type { MapStats } from './cache.ts';
import type { Json } from './types.ts';

export type StageOutcome = 'cached' | 'done' | 'failed' | 'skipped' | 'interrupted';

export type RunEvent =
  | { type: 'run-start'; pipeline: string; runId: string; stages: string[]; jobs: number; time: number }
  /** The stage's cache key is known (its upstreams finished): key inputs for the run record. */
  | { type: 'stage-key'; stageId: string; kind: string; key: string; inputs: Record<string, { stage: string; key: string }>; reads: Record<string, string>; time: number }
  | { type: 'stage-start'; stageId: string; kind: string; key: string; time: number }
  /** A complete cache entry was reused. */
  | {
      type: 'stage-cached';
      stageId: string;
      kind: string;
      key: string;
      backend?: Json;
      map?: Record<string, MapStats>;
      /** Seconds the entry took when it was computed. */
      computeSeconds?: number;
      /** Another stage of this run with the same key that computed it (executions are memoised by key). */
      sameAs?: string;
      time: number;
    }
  /** A cache entry failed verification and will be recomputed. */
  | { type: 'stage-corrupt'; stageId: string; key: string; reason: string; time: number }
  | { type: 'stage-progress'; stageId: string; done: number; total: number; unit?: string; time: number }
  | { type: 'stage-log'; stageId: string; level: 'info' | 'warn' | 'debug'; message: string; time: number }
  | { type: 'stage-done'; stageId: string; kind: string; key: string; seconds: number; backend?: Json; map?: Record<string, MapStats>; time: number }
  | { type: 'stage-failed'; stageId: string; error: string; interrupted: boolean; seconds: number; time: number }
  /** Not run because an upstream stage failed (or the run was interrupted). */
  | { type: 'stage-skipped'; stageId: string; reason: string; interrupted: boolean; time: number }
  | { type: 'run-end'; ok: boolean; interrupted: boolean; seconds: number; time: number };

export type RunEventType = RunEvent['type'];
export type Listener = (e: RunEvent) => void;

/** Distributive Omit over the union: an event without its `time`. */
export type EventInput = RunEvent extends infer E ? (E extends RunEvent ? Omit<E, 'time'> : never) : never;

export class EventBus {
  private listeners: Listener[] = [];
  on(fn: Listener): () => void {
    this.listeners.push(fn);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== fn);
    };
  }
  emit(e: EventInput): void {
    const ev = { ...e, time: Date.now() } as RunEvent;
    for (const l of this.listeners) {
      try {
        l(ev);
      } catch {
        /* a broken listener must not break the run */
      }
    }
  }
}
