// Stage `describe-units` (CLIP-Dissect, step 2): per unit of each pooled layer, the concept of the vocabulary that
// best matches its most activating probe images under one of CLIP-Dissect's similarity functions (soft_wpmi by
// default, with similarity.py's defaults; src/algo/clipdissect), matrix products on onnxruntime. Writes a `units`
// table shaped like label-units' (so concept-stats / compare-concepts read either) and descriptions.csv
// byte-compatible with CLIP-Dissect's describe_neurons.py (columns layer, unit, description, similarity).
import type { Json, StageDef } from '../src/engine/types.ts';

export interface DescribeUnitsParams {
  similarity: 'soft_wpmi' | 'wpmi' | 'rank_reorder' | 'cos_similarity' | 'cos_similarity_cubed';
  layers?: string[];
  top_k?: number;
  a?: number;
  lam?: number;
  min_prob?: number;
  p_start?: number;
  p_end?: number;
  p?: number;
  top_fraction?: number;
  scale_p?: number;
  min_norm?: number;
  threads: number;
}

const num = (description: string, exclusiveMinimum?: number) => ({ type: 'number', ...(exclusiveMinimum !== undefined ? { exclusiveMinimum } : {}), description });

export default {
  kind: 'describe-units',
  version: '1',
  description: 'CLIP-Dissect: the best concept of a vocabulary per unit (soft_wpmi, wpmi, rank_reorder, cos_similarity, cos_similarity_cubed) + descriptions.csv',
  params: {
    type: 'object',
    properties: {
      similarity: { enum: ['soft_wpmi', 'wpmi', 'rank_reorder', 'cos_similarity', 'cos_similarity_cubed'], default: 'soft_wpmi', description: 'CLIP-Dissect’s similarity_fn' },
      layers: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1, description: 'pooled layers to describe (default: all of the activations stage)' },
      top_k: { type: 'integer', minimum: 1, description: 'soft_wpmi / wpmi: top images per unit (defaults 100 / 28)' },
      a: num('soft_wpmi / wpmi: softmax scale of the image-concept similarities (defaults 10 / 2)'),
      lam: num('soft_wpmi / wpmi: weight of log p(concept) (defaults 1 / 0.6)'),
      min_prob: num('soft_wpmi / wpmi: added inside the log (default 1e-7)', 0),
      p_start: num('soft_wpmi: weight of the top image (default 0.998)', 0),
      p_end: num('soft_wpmi: weight of the last top image (default 0.97)', 0),
      p: num('rank_reorder: error exponent (default 3)', 0),
      top_fraction: { type: 'number', exclusiveMinimum: 0, maximum: 1, description: 'rank_reorder: fraction of images used (default 0.05)' },
      scale_p: num('rank_reorder: exponent of the mean similarity divisor (default 0.5)'),
      min_norm: num('cos_similarity_cubed: norm floor (default 1e-3)', 0),
      threads: { type: 'integer', minimum: 1, maximum: 64, default: 2, description: 'onnxruntime threads for the matrix products' },
    },
  },
  keyExclude: ['threads'],
  inputs: {
    activations: { description: 'a collect-activations stage run with pool: avg | max over the probe dataset', kinds: ['collect-activations'] },
    clip: { description: 'a clip-embeddings stage over the same dataset', kinds: ['clip-embeddings'] },
  },
  outputs: {
    units: { description: 'layer, unit, label (the description), category, similarity, interpretable (always true)', type: 'table' },
    'descriptions.csv': { description: 'CLIP-Dissect’s descriptions.csv: layer,unit,description,similarity', type: 'file' },
  },
  async run(ctx) {
    const { Bool, Field, Float32, Int32, Schema, Utf8 } = await import('apache-arrow');
    const { tableFromRows } = await import('../src/arrow/io.ts');
    const { ConfigError } = await import('../src/engine/errors.ts');
    const algo = await import('../src/algo/clipdissect/index.ts');
    const { ortGemm } = await import('../src/explain/clipdissect/gemm.ts');
    const { pooledTargets } = await import('../src/explain/clipdissect/pooled.ts');
    const { conceptCounts } = await import('../src/algo/dissect/index.ts');
    const p = ctx.params;
    const at = (f: string) => `stages.${ctx.stageId}.params.${f}`;
    const acts = ctx.inputs.activations, clipIn = ctx.inputs.clip;

    const features = acts.meta.features as { pool?: string; layers: { layer: string }[] } | undefined;
    if (!features?.pool) throw new ConfigError(`input '${acts.stageId}' ran without pool: avg | max (CLIP-Dissect needs per-image pooled activations)`, { path: `stages.${acts.stageId}.params.pool` });
    if (JSON.stringify(acts.meta.dataset) !== JSON.stringify(clipIn.meta.dataset)) {
      throw new ConfigError(`inputs '${acts.stageId}' and '${clipIn.stageId}' ran over different datasets`, { expected: 'the same probe dataset for the activations and the CLIP embeddings' });
    }
    const available = features.layers.map((l) => l.layer);
    const layers = p.layers ?? available;
    layers.forEach((l, i) => {
      if (!available.includes(l)) throw new ConfigError(`layer '${l}' is not among ${acts.stageId}'s layers`, { path: at(`layers[${i}]`), expected: available.join(', ') });
    });

    // probe images: those both stages processed, in activation order
    const actImages = await acts.table('images');
    const clipImages = await clipIn.table('images');
    const concepts = await clipIn.table('concepts');
    const dim = Number((clipIn.meta.clip as { dim: number }).dim);
    const embByImage = new Map<number, Float32Array>();
    const ec = clipImages.getChild('embedding')!, ic = clipImages.getChild('image')!;
    for (let r = 0; r < clipImages.numRows; r++) embByImage.set(Number(ic.get(r)), (ec.get(r) as { toArray(): Float32Array }).toArray());
    const C = concepts.numRows;
    const text = new Float32Array(C * dim);
    const names: string[] = [], cats: string[] = [];
    const tc = concepts.getChild('embedding')!, nc = concepts.getChild('name')!, cc = concepts.getChild('category')!;
    for (let c = 0; c < C; c++) {
      text.set((tc.get(c) as { toArray(): Float32Array }).toArray(), c * dim);
      names.push(String(nc.get(c)));
      cats.push(String(cc.get(c)) || 'concept');
    }
    const gemm = await ortGemm(p.threads);
    const opts: Record<string, number> = {};
    for (const k of ['top_k', 'a', 'lam', 'min_prob', 'p_start', 'p_end', 'p', 'top_fraction', 'scale_p', 'min_norm'] as const) if (p[k] !== undefined) opts[k] = p[k]!;

    const rows: { layer: string; unit: number; label: string; category: string; similarity: number; interpretable: boolean }[] = [];
    for (const layer of layers) {
      const t = pooledTargets(actImages, layer);
      const keep: number[] = [];
      for (let i = 0; i < t.nImages; i++) if (embByImage.has(t.imageIndex[i])) keep.push(i);
      if (keep.length < t.nImages) ctx.log.warn(`${layer}: ${t.nImages - keep.length} image(s) without a CLIP embedding left out`);
      const N = keep.length;
      const target = { acts: new Float32Array(t.nUnits * N), nUnits: t.nUnits, nImages: N };
      for (let u = 0; u < t.nUnits; u++) for (let j = 0; j < N; j++) target.acts[u * N + j] = t.acts[u * t.nImages + keep[j]];
      const image = new Float32Array(N * dim);
      keep.forEach((i, j) => image.set(embByImage.get(t.imageIndex[i])!, j * dim));
      const k = p.similarity === 'soft_wpmi' || p.similarity === 'wpmi' ? (opts.top_k ?? algo.DEFAULTS[p.similarity].top_k) : 1;
      if (k > N) throw new ConfigError(`top_k ${k} exceeds the ${N} probe images`, { path: at('top_k'), expected: `at most ${N}` });
      if (p.similarity === 'rank_reorder' && Math.trunc(N * (opts.top_fraction ?? algo.DEFAULTS.rank_reorder.top_fraction)) < 1) {
        throw new ConfigError(`top_fraction × ${N} probe images is below one image`, { path: at('top_fraction') });
      }
      const t0 = performance.now();
      const s = await algo.similarity(p.similarity, { image, text, nImages: N, nConcepts: C, dim }, target, gemm, opts);
      const best = algo.bestConcepts(s);
      for (let u = 0; u < t.nUnits; u++) {
        const c = best.concept[u];
        rows.push({ layer, unit: u, label: c >= 0 ? names[c] : '', category: c >= 0 ? cats[c] : '', similarity: best.score[u], interpretable: c >= 0 });
      }
      const counts = conceptCounts(rows.filter((r) => r.layer === layer).map((r) => ({ unit: r.unit, label: -1, name: r.label, category: r.category, iou: r.similarity, interpretable: r.interpretable, perCategory: [] })));
      ctx.log.info(
        `${layer}: ${t.nUnits} units × ${C} concepts × ${N} images, ${p.similarity} in ${((performance.now() - t0) / 1000).toFixed(1)} s; ` +
          `${counts.length} unique concepts, top ${counts.slice(0, 3).map((c) => `${c.name} (${c.count})`).join(', ')}`,
      );
    }
    const schema = new Schema([
      new Field('layer', new Utf8(), false),
      new Field('unit', new Int32(), false),
      new Field('label', new Utf8(), false),
      new Field('category', new Utf8(), false),
      new Field('similarity', new Float32(), true),
      new Field('interpretable', new Bool(), false),
    ]);
    await ctx.out.table('units', tableFromRows(rows.map((r) => ({ ...r, similarity: Number.isNaN(r.similarity) ? null : r.similarity })), schema));
    await ctx.out.file('descriptions.csv', algo.descriptionsCsv(rows.map((r) => ({ layer: r.layer, unit: r.unit, description: r.label, similarity: r.similarity }))));
    ctx.out.meta('categories', [...new Set(cats)]);
    ctx.out.meta('method', { kind: 'clip-dissect', similarity: p.similarity, options: opts, pool: features.pool } as Json);
    ctx.out.meta('model', acts.meta.model as Json);
  },
} satisfies StageDef<DescribeUnitsParams>;
