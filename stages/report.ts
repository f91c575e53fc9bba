// Stage `report`: the HTML report of the pipeline's outputs as a static site (src/report, docs/report.md) —
// index.html in the stage's output directory (latest view: artifacts/<pipeline>/<stage id>/index.html). Inputs are
// all optional: any of cam, lime, compare, scoreboard, label-units, concept-stats, compare-concepts stages (and the
// dataset); their upstreams are found through the cache, so e.g. the dataset behind the cams needs no input of its own.
// Every section is optional: the report shows what its inputs have. (Its cache key covers src/report through the
// import graph: a change to the site code recomputes it.)
import type { StageDef } from '../src/engine/types.ts';

interface Params {
  title?: string;
  images: number;
  topImages: number;
  thumb: number;
}

const any = (description: string, kinds?: string[]) => ({ description, optional: true, ...(kinds ? { kinds } : {}) });

export default {
  kind: 'report',
  version: '1',
  description: 'HTML report (static site): CAM/LIME overlays per image, CAM-LIME IoU, dissection units, concept comparison, scoreboard, metadata',
  params: {
    type: 'object',
    properties: {
      title: { type: 'string', minLength: 1, description: 'page title (default: "<pipeline> — xai report")' },
      images: { type: 'integer', minimum: 1, maximum: 1000, default: 24, description: 'images in the per-image gallery (the IoU chart covers all)' },
      topImages: { type: 'integer', minimum: 1, maximum: 100, default: 5, description: "top-activating images drawn per unit (≤ label-units' topN)" },
      thumb: { type: 'integer', minimum: 16, maximum: 512, default: 96, description: 'side of each top-image thumbnail in the units table, px' },
    },
  },
  inputs: {
    cams: any('a cam stage (overlays per image and method)', ['cam']),
    lime: any('a lime stage (overlays per image)', ['lime']),
    compare: any('a compare stage (CAM vs LIME IoU per image)', ['compare']),
    scoreboard: any('a scoreboard stage', ['scoreboard']),
    dissection: any('a label-units stage (units table, top images)', ['label-units']),
    stats: any('a concept-stats stage (its label-units stage is used)', ['concept-stats']),
    concepts: any('a compare-concepts stage (shared / exclusive concepts of two dissections)', ['compare-concepts']),
    images: any('the dataset stage of the explained images', ['dataset', 'synth-dataset']),
    evaluate: any('an evaluate stage (faithfulness: summary and mean deletion / insertion curves)', ['evaluate']),
    sanity: any('a sanity-check stage (similarity to the original CAM vs randomised depth)', ['sanity-check']),
    stability: any('a lime-stability stage (LIME stability over seeds)', ['lime-stability']),
    more1: any('any other stage to include (with its upstreams)'),
    more2: any('any other stage to include (with its upstreams)'),
    more3: any('any other stage to include (with its upstreams)'),
  },
  outputs: {
    'index.html': { description: 'the report page (opens from disk)', type: 'file' },
    site: { description: 'assets/, img/, charts/, data/: the files the page uses', type: 'files' },
  },
  async run(ctx) {
    const { dirname, relative } = await import('node:path');
    const { EntryStore } = await import('../src/report/sources.ts');
    const { buildReport } = await import('../src/report/build.ts');
    const { openCache } = await import('../src/engine/cache.ts');
    const store = new EntryStore(openCache(ctx.projectRoot));
    const given = Object.values(ctx.inputs).flatMap((up) => store.get(up.kind, up.key, up.stageId) ?? []);
    if (!given.length) ctx.log.warn('no inputs: the report has only its metadata section');
    const outDir = dirname(ctx.out.path('index.html'));
    const res = await buildReport(given, {
      outDir,
      root: ctx.projectRoot,
      title: ctx.params.title,
      maxImages: ctx.params.images,
      topImages: ctx.params.topImages,
      thumb: ctx.params.thumb,
      // entries finished before this process started came from the cache
      runStartedMs: Date.now() - process.uptime() * 1000,
      log: (m) => ctx.log.info(m),
    });
    ctx.out.meta('sections', res.sections);
    ctx.out.meta('index', 'index.html');
    // the work dir becomes the cache entry at commit; the latest view artifacts/<pipeline>/<stage id>/ links to it
    const committed = ctx.out.committedPath('index.html');
    ctx.log.info(`${res.sections.length} section(s) [${res.sections.join(', ')}], ${res.files} files`);
    ctx.log.info(`open ${relative(process.cwd(), committed)} (latest: artifacts/<pipeline>/${ctx.stageId}/index.html)`);
  },
} satisfies StageDef<Params>;
