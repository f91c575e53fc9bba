// Stage `scoreboard`: the seed's score board entry of one LIME configuration — {avg_iou, avg_time, n_images, params}.
// avg_iou: the LIME mask's IoU with the reference `against` names (auto: the ground truth when every image has a mask
// or no CAM is given, else the chosen CAM for every image, binarised as the compare stage states; mixed, only when
// asked for: per image, ground truth where it exists, else the CAM — labelled 'mixed'). The table holds results only (byte-reproducible): avg_iou, its spread, and the
// deterministic cost forwards_per_image (model forwards per image: LIME's samples). avg_time is a measurement: the
// lime entry's seconds per image (its manifest timings, measured with nothing else computing beside it, since this
// stage declares the input `timed`), read where the board is shown — `xai show`, `xai sweep`, `xai runs`, the report —
// so `--force lime` shows the new time. Inputs: `lime` (required) and `compare` (for the CAM reference).
import { Field, Float64, Int32, Schema, Utf8 } from 'apache-arrow';
import { ConfigError } from '../src/engine/errors.ts';
import type { Json, StageDef, UpstreamOutputs } from '../src/engine/types.ts';

interface Params {
  against: 'auto' | 'gt' | 'cam' | 'mixed';
  method?: string;
  /** LIME params left out of `params` (speed-only or display-only settings). */
  omit: string[];
}

export const scoreboardSchema = new Schema([
  new Field('avg_iou', new Float64(), true),
  new Field('n_images', new Int32(), false),
  new Field('against', new Utf8(), false),
  new Field('n_gt', new Int32(), false),
  new Field('n_cam', new Int32(), false),
  new Field('iou_std', new Float64(), true),
  new Field('forwards_per_image', new Float64(), true),
  new Field('params', new Utf8(), false),
  new Field('lime_stage', new Utf8(), false),
  new Field('lime_key', new Utf8(), false),
  new Field('avg_deletion_auc', new Float64(), true),
  new Field('avg_insertion_auc', new Float64(), true),
  new Field('avg_road_combined', new Float64(), true),
]);

/** The evaluate metrics a board carries (the evaluate summary's means of LIME's rows), by board column. */
export const EVALUATE_COLUMNS = { avg_deletion_auc: 'deletion_auc', avg_insertion_auc: 'insertion_auc', avg_road_combined: 'road_combined' } as const;

export default {
  kind: 'scoreboard',
  version: '1',
  description: "score board entry of a LIME configuration: {avg_iou, avg_time (s per image), n_images, params}",
  params: {
    type: 'object',
    properties: {
      against: {
        enum: ['auto', 'gt', 'cam', 'mixed'],
        default: 'auto',
        description:
          "what the LIME mask is scored against: auto = the ground truth when every image has a mask (or no CAM is given), else the chosen CAM for every image; gt = ground truth only (images without a mask are left out); cam = the CAM only; mixed = per image, the ground truth where it has a mask, else the CAM (labelled 'mixed')",
      },
      method: { type: 'string', description: "the chosen CAM, as 'method' or 'method@layer' (default: the compare stage's first CAM)" },
      omit: {
        type: 'array',
        items: { type: 'string' },
        default: ['overlay', 'predict_batch_size', 'limit'],
        description: 'LIME params left out of the recorded configuration (speed- or display-only)',
      },
    },
  },
  inputs: {
    lime: { description: 'the lime stage whose configuration is scored (computed alone: its time per image is the board avg_time)', timed: true },
    compare: { description: 'a compare stage over the same lime stage (per-image IoU with the CAM and ground truth)', optional: true, kinds: ['compare'] },
    evaluate: { description: "an evaluate stage over the same lime stage: the means of LIME's deletion / insertion AUC and ROAD combined join the board", optional: true, kinds: ['evaluate'] },
  },
  outputs: {
    scoreboard: {
      description: 'one row: avg_iou, n_images, against (gt | cam:<method@layer> | mixed), n_gt, n_cam, iou_std, forwards_per_image, params (JSON), lime_stage, lime_key, avg_deletion_auc, avg_insertion_auc, avg_road_combined (with an evaluate input, else null)',
      type: 'table',
      columns: {
        avg_deletion_auc: "mean deletion AUC of LIME's maps (evaluate input; lower = more faithful) [0, 1]",
        avg_insertion_auc: "mean insertion AUC of LIME's maps (evaluate input; higher = more faithful) [0, 1]",
        avg_road_combined: "mean ROAD combined score of LIME's maps (evaluate input; higher = more faithful)",
      },
    },
    'scoreboard.json': { description: '{avg_iou, n_images, forwards_per_image, params} (avg_time: a measurement, see xai show / xai sweep)', type: 'file' },
  },
  async run(ctx) {
    const { summarize } = await import('../src/algo/compare/index.ts');
    const { tableFromRows } = await import('../src/arrow/io.ts');
    const p = ctx.params;
    const limeIn = ctx.inputs.lime as UpstreamOutputs;
    const cmpIn = ctx.inputs.compare as UpstreamOutputs | undefined;
    if (!limeIn.tables.includes('explanations')) throw new ConfigError(`input 'lime' (stage '${limeIn.stageId}') has no table 'explanations': is it a lime stage?`);
    if (p.against === 'cam' && !cmpIn) throw new ConfigError(`against: cam needs the 'compare' input (a compare stage with CAMs)`, { path: `stages.${ctx.stageId}.inputs` });

    // Per image (LIME's top label): time, and gt_iou as the lime stage computed it.
    // (read one record batch at a time: the explanations hold a mask per row)
    const images = new Map<string, { samples: number; gt: number | null; cam: number | null }>();
    for await (const b of limeIn.batches('explanations')) {
      const get = (n: string) => {
        const c = b.getChild(n);
        if (!c) throw new ConfigError(`stage '${limeIn.stageId}': table explanations has no column '${n}'`);
        return c;
      };
      const ids = get('id'), rank = get('rank'), samples = get('samples'), gtIou = b.getChild('gt_iou');
      for (let r = 0; r < b.numRows; r++) {
        if (rank.get(r) !== 0) continue;
        const g = gtIou?.get(r) as number | null | undefined;
        images.set(ids.get(r) as string, { samples: Number(samples.get(r)), gt: g ?? null, cam: null });
      }
    }

    // From compare: LIME vs GT (same numbers as gt_iou, but for the label compared) and LIME vs the chosen CAM.
    let camLabel = '';
    if (cmpIn) {
      const t = await cmpIn.table('per_image');
      const c = (n: string) => t.getChild(n)!;
      const names: string[] = [];
      for (let r = 0; r < t.numRows; r++) {
        const m = c('method').get(r) as string | null;
        if (m !== null) {
          const nm = `${m}@${c('layer').get(r)}`;
          if (!names.includes(nm)) names.push(nm);
        }
      }
      let chosen: string | undefined;
      if (p.method) {
        chosen = names.find((n) => n === p.method) ?? names.find((n) => n.split('@')[0] === p.method);
        if (!chosen) throw new ConfigError(`the compare stage '${cmpIn.stageId}' has no CAM '${p.method}'`, { path: `stages.${ctx.stageId}.params.method`, suggestion: names.length ? `CAMs: ${names.join(', ')}` : 'it compared no CAM' });
      } else chosen = names[0];
      if (chosen) camLabel = chosen;
      for (let r = 0; r < t.numRows; r++) {
        const id = c('image').get(r) as string;
        const im = images.get(id);
        if (!im) continue;
        const m = c('method').get(r) as string | null;
        if (m === null || `${m}@${c('layer').get(r)}` === chosen) {
          if (m !== null) im.cam = c('iou').get(r) as number;
          const lg = c('lime_gt_iou').get(r) as number | null;
          if (lg !== null) im.gt = lg;
        }
      }
    }

    // auto: one reference for every scored image — the CAM when some image lacks a mask and a CAM is there, else the
    // ground truth (of the images that have it); never a mix
    const all = [...images.values()];
    const mode = p.against === 'auto' ? (camLabel && all.some((im) => im.gt === null) ? 'cam' : 'gt') : p.against;
    const ious: number[] = [];
    const forwards: number[] = [];
    let nGt = 0, nCam = 0;
    for (const im of all) {
      let v: number | null = null;
      if (mode !== 'cam' && im.gt !== null) {
        v = im.gt;
        nGt++;
      } else if (mode !== 'gt' && im.cam !== null) {
        v = im.cam;
        nCam++;
      }
      if (v === null) continue;
      ious.push(v);
      forwards.push(im.samples);
    }
    if (ious.length === 0) {
      throw new ConfigError(
        mode === 'gt' ? `no image of stage '${limeIn.stageId}' has a ground-truth mask (against: gt)` : `nothing to score: no ground-truth masks and no CAM to compare with (give the scoreboard a 'compare' input with CAMs)`,
        { path: `stages.${ctx.stageId}` },
      );
    }
    const against = mode === 'mixed' ? 'mixed' : mode === 'gt' ? 'gt' : `cam:${camLabel}`;
    const si = summarize(ious), sf = summarize(forwards);
    const r4 = (x: number) => Math.round(x * 1e4) / 1e4;
    const limeParams = (limeIn.params ?? {}) as Record<string, Json>;
    const params = Object.fromEntries(Object.entries(limeParams).filter(([k]) => !p.omit.includes(k)));
    const entry = { avg_iou: r4(si.mean), n_images: ious.length, forwards_per_image: r4(sf.mean), params };
    // With an evaluate input: LIME's faithfulness means (its summary rows of explanation 'lime').
    const faith: Record<string, number | null> = {};
    const evIn = ctx.inputs.evaluate as UpstreamOutputs | undefined;
    if (evIn) {
      const t = await evIn.table('summary');
      const [ex, mt, mean] = ['explanation', 'metric', 'mean'].map((n) => t.getChild(n)!);
      for (const [col, metric] of Object.entries(EVALUATE_COLUMNS)) {
        let v: number | null = null;
        for (let r = 0; r < t.numRows; r++) if (ex.get(r) === 'lime' && mt.get(r) === metric) v = mean.get(r) as number | null;
        faith[col] = v === null ? null : r4(v);
      }
      if (Object.values(faith).every((v) => v === null)) ctx.log.warn(`evaluate stage '${evIn.stageId}' scored no LIME map: bind it to this lime stage`);
    }
    await ctx.out.table(
      'scoreboard',
      tableFromRows([{ ...entry, params: JSON.stringify(params), against, n_gt: nGt, n_cam: nCam, iou_std: r4(si.std), lime_stage: limeIn.stageId, lime_key: limeIn.key, ...faith }], scoreboardSchema),
    );
    await ctx.out.file('scoreboard.json', JSON.stringify(entry, null, 2) + '\n');
    ctx.log.info(`avg_iou ${entry.avg_iou} (against ${against}), ${entry.forwards_per_image} forwards/image, ${entry.n_images} images`);
    // avg_time is joined where the board is shown, from the lime entry's timings (see the header)
    ctx.out.meta('scoreboard', { ...entry, ...faith, against, time_of: { stage: limeIn.stageId, kind: limeIn.kind, key: limeIn.key } } as unknown as Json);
    ctx.out.meta('metrics', { avg_iou: entry.avg_iou, n_images: entry.n_images, forwards_per_image: entry.forwards_per_image });
  },
} satisfies StageDef<Params>;
