// `xai sweep --objective`: the Pareto front against avg_time of another board column, maximised or minimised
// (src/engine/sweep.ts scoreboardTable / parseObjective); fronts derived by hand on three configurations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_OBJECTIVE, formatScoreboard, parseObjective, scoreboardTable, type ComboResult } from '../../src/engine/sweep.ts';
import { ConfigError } from '../../src/engine/errors.ts';

const combo = (id: string, sb: Record<string, number>): ComboResult => ({ combo: { id, values: {}, sets: [] }, status: 'ok', scoreboard: sb });
// A: fastest, worst deletion AUC (0.3), best IoU; B: slower, best deletion AUC (0.2); C: slowest, 0.25 (dominated by B
// for min deletion; dominated by A for max IoU and for max deletion).
const results = [
  combo('A', { avg_time: 1, avg_iou: 0.9, avg_deletion_auc: 0.3 }),
  combo('B', { avg_time: 2, avg_iou: 0.8, avg_deletion_auc: 0.2 }),
  combo('C', { avg_time: 3, avg_iou: 0.7, avg_deletion_auc: 0.25 }),
];

test('the default objective (avg_iou, max) and a minimised one give the hand-derived fronts', async () => {
  assert.deepEqual((await scoreboardTable([], results)).front, [0]);
  assert.deepEqual((await scoreboardTable([], results, new Set(), { metric: 'avg_deletion_auc', direction: 'min' })).front, [0, 1]);
  assert.deepEqual((await scoreboardTable([], results, new Set(), { metric: 'avg_deletion_auc', direction: 'max' })).front, [0]);
  const { table } = await scoreboardTable([], results, new Set(), { metric: 'avg_deletion_auc', direction: 'min' });
  assert.deepEqual(table.getChild('avg_deletion_auc')!.toArray(), Float64Array.from([0.3, 0.2, 0.25]));
  assert.deepEqual(Array.from(table.getChild('pareto')!, Boolean), [true, true, false]);
  const text = formatScoreboard([], results, [0, 1], { metric: 'avg_deletion_auc', direction: 'min' });
  assert.match(text.split('\n')[0], /avg_iou\s+avg_deletion_auc\s+avg_time/);
  assert.doesNotMatch(formatScoreboard([], results, [0]), /avg_deletion_auc/);
});

test('--objective parsing: metric[:max|min], unknown metrics refused with the list', () => {
  assert.deepEqual(parseObjective('avg_road_combined'), { metric: 'avg_road_combined', direction: 'max' });
  assert.deepEqual(parseObjective('avg_deletion_auc:min'), { metric: 'avg_deletion_auc', direction: 'min' });
  assert.deepEqual(DEFAULT_OBJECTIVE, { metric: 'avg_iou', direction: 'max' });
  assert.throws(() => parseObjective('deletion'), (e: unknown) => e instanceof ConfigError && /avg_deletion_auc/.test(String((e as ConfigError).expected ?? e.message)));
  assert.throws(() => parseObjective('avg_iou:up'), ConfigError);
});
