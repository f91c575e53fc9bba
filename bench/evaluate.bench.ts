// evaluate stage bench: ResNet-18-shaped ONNX (random weights, src/model/testing/nets.ts), 224² (112² with --quick),
// one image and one explanation (a smooth blob map) through src/explain/evaluate.ts evaluateImage, against forwards
// measured in the same run (Model.predict of the same number of inputs in one call):
// - deletion + insertion at 20 steps (40 perturbed inputs + the shared unperturbed one): ≤ 1.2 × 40 forwards;
// - ROAD at the library's 9 percentiles (18 imputed inputs + 1): ≤ 1.2 × its 19 forwards.
//   Also stated: its 18 imputations alone (ms per solve, CG iterations, one V-cycle) and the lower bound they imply.
// Judged on process CPU time (user + sys), best of interleaved runs, onnxruntime on one intra-op thread (the
// machine is shared; see cam.bench.ts).
// - sanity check (src/explain/sanity.ts cascade): the cost of one layer step (randomised model bytes, a fresh model
//   opened from them, Grad-CAM at layer4 recomputed for one image, the comparison), stated against one Grad-CAM of the
//   same image on an open model (no target: the issue asks for the cost to be stated).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import type { BenchFigure, BenchFn } from './types.ts';
import { resnet18, rng } from '../src/model/testing/nets.ts';

const bench: BenchFn = async ({ quick }) => {
  const { openModel, closeModels } = await import('../src/model/index.ts');
  const { evaluateImage } = await import('../src/explain/evaluate.ts');
  const size = quick ? 112 : 224;
  const reps = quick ? 1 : 2;
  const dir = mkdtempSync(join(os.tmpdir(), 'xai-bench-eval-'));
  const figures: BenchFigure[] = [];
  try {
    const net = resnet18({ input: [3, size, size] });
    writeFileSync(join(dir, 'r18.onnx'), net.onnx);
    const model = await openModel({ path: 'r18.onnx', input: { size }, threads: 1 }, { root: dir, fresh: true });
    const r = rng(7);
    const per = 3 * size * size;
    const input = Float32Array.from({ length: per }, () => r() * 2 - 1);
    const map = Float32Array.from({ length: size * size }, (_, i) => Math.exp(-((((i / size) | 0) - size * 0.4) ** 2) / (size * 4) - ((i % size) - size * 0.6) ** 2 / (size * 6)));
    const expl = [{ name: 'blob', image: 'x', target: 3, targetName: null, map }];
    const cpu = async (f: () => Promise<unknown>) => {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await f();
      const c = process.cpuUsage(c0);
      return { cpu: (c.user + c.system) / 1000, wall: performance.now() - t0 };
    };
    const forwards = (n: number) => () => model.predict({ data: new Float32Array(n * per).fill(0.1), shape: [n, 3, size, size] });
    const params = (metrics: ('deletion' | 'insertion' | 'road')[]) => ({ metrics, steps: 20, baseline: 'zero' as const, road: {}, batch_size: 64 });
    const counts = { forwards: 0, predictCalls: 0 };
    const cases = [
      { name: `deletion+insertion 20 steps resnet18-${size}`, n: 41, base: 40, metrics: ['deletion', 'insertion'] as ('deletion' | 'insertion' | 'road')[] },
      { name: `ROAD 9 percentiles resnet18-${size}`, n: 19, base: 19, metrics: ['road'] as ('deletion' | 'insertion' | 'road')[] },
    ];
    await forwards(2)(); // warm-up
    let fwd19 = NaN;
    for (const c of cases) {
      let b = Infinity, v = Infinity, vw = Infinity;
      for (let k = 0; k < reps; k++) {
        b = Math.min(b, (await cpu(forwards(c.base))).cpu);
        const x = await cpu(() => evaluateImage(model, input, expl, params(c.metrics), counts, () => {}));
        v = Math.min(v, x.cpu);
        vw = Math.min(vw, x.wall);
      }
      if (c.base === 19) fwd19 = b;
      figures.push({
        name: `${c.name} ms/image`, value: v, unit: 'ms CPU', baseline: { name: `${c.base} forwards`, value: b }, ratio: v / b, target: '≤ 1.2×', pass: v / b <= 1.2,
        notes: `wall ${vw.toFixed(0)} ms; ${c.n} model inputs`,
      });
    }
    // ROAD's 18 imputations alone (road.py solves exactly; we solve the same system by CG + one multigrid V-cycle per
    // iteration to a relative residual of 1e-6, src/algo/evaluate/laplace.ts): ms per solve, CG iterations, the CPU
    // time of ONE V-cycle on the largest system, and hence the lower bound of ROAD / 19 forwards with an exact solve
    // at these iteration counts if everything but the V-cycles were free (a V-cycle's cost taken proportional to the
    // unknowns, its work being linear in them).
    {
      const { ROAD_NEIGHBOURS, ROAD_PERCENTILES, roadKeepMasks, noisyLinearImpute } = await import('../src/algo/evaluate/road.ts');
      const { MaskedLaplaceSolver } = await import('../src/algo/evaluate/laplace.ts');
      const masks = (['morf', 'lerf'] as const).flatMap((o) => roadKeepMasks(map, ROAD_PERCENTILES, o));
      const its: number[] = [];
      const solves = await cpu(async () => {
        for (const keep of masks) {
          const stats = { iterations: 0 };
          noisyLinearImpute(input, 3, size, size, keep, { noise: 0, stats });
          its.push(stats.iterations);
        }
      });
      const solver = new MaskedLaplaceSolver(size, size, masks[0], ROAD_NEIGHBOURS, 3);
      const N = solver.unknown.length * 3;
      const res = Float64Array.from({ length: N }, () => r() - 0.5), z = new Float64Array(N);
      solver.precondition(res, z);
      const vc = (await cpu(async () => {
        for (let k = 0; k < 10; k++) solver.precondition(res, z);
      })).cpu / 10;
      const itSum = its.reduce((a, x) => a + x, 0);
      const unknowns = masks.map((keep) => keep.reduce((a, k) => a + (k ? 0 : 1), 0));
      const vcycles = its.reduce((a, it, k) => a + (it * vc * unknowns[k]) / solver.unknown.length, 0);
      figures.push({
        name: `ROAD imputation alone (18 exact solves) resnet18-${size} ms/image`, value: solves.cpu, unit: 'ms CPU', baseline: { name: '19 forwards', value: fwd19 },
        ratio: solves.cpu / fwd19, target: 'stated (no target)',
        notes: `${(solves.cpu / 18).toFixed(0)} ms per solve (setup, right-hand side, CG), ${(itSum / 18).toFixed(1)} CG iterations per solve (${Math.min(...its)}–${Math.max(...its)}) ` +
          `to a relative residual of 1e-6; one V-cycle ${vc.toFixed(1)} ms at ${size}² (${((100 * solver.unknown.length) / (size * size)).toFixed(0)} % imputed, 3 channels); ` +
          `lower bound of ROAD / 19 forwards with an exact solve at these iterations (only the ${itSum} V-cycles cost, ${vcycles.toFixed(0)} ms): ` +
          `${((fwd19 + vcycles) / fwd19).toFixed(2)}×; with ONE V-cycle per percentile: ${((fwd19 + (18 * vcycles) / itSum) / fwd19).toFixed(2)}×`,
      });
    }
    // sanity check: 2 cascade steps (the logits layer, then layer4's last conv), wall ms per step (CPU time as above)
    {
      const { cascade } = await import('../src/explain/sanity.ts');
      const { computeCams } = await import('../src/explain/cam.ts');
      const rgb = { width: size, height: size, data: Uint8Array.from({ length: size * size * 3 }, () => Math.floor(r() * 256)) };
      const items = [{ id: 'x.png', path: join(dir, 'x.png') }];
      const cam = { methods: ['gradcam' as const], layerSets: [['layer4']], target: 'logit' as const, eigenSmooth: false, ablation: { batchSize: 32, value: 'library' as const }, scoreBatchSize: 16, loadOpts: {} };
      const config = { path: 'r18.onnx', input: { size }, threads: 1, layers: net.layers };
      const m2 = await openModel(config, { root: dir, fresh: true });
      const once = () => computeCams({ ...cam, methods: ['gradcam'], model: m2, items, indices: [0], targets: [3], pixels: [rgb], overlay: { enabled: false, imageWeight: 0.5 }, writeFile: async () => {}, timing: {}, counts: { forwards: 0, gradientCalls: 0, headRows: 0, maskedForwards: 0 } });
      await once(); // sessions built
      let b = Infinity;
      for (let k = 0; k < reps; k++) b = Math.min(b, (await cpu(once)).cpu);
      const orig = (await once()).flat().map((x) => ({ image: 'x.png', method: 'gradcam', layer: 'layer4', target: 3, map: x.cam as Float32Array }));
      await m2.dispose();
      const steps: number[] = [];
      const x = await cpu(() => cascade({ config, root: dir, maxSteps: 2, seed: 0, items, indices: [0], originals: orig, pixels: [rgb], cam: { ...cam, methods: ['gradcam'] }, batchSize: 1, onStep: (_s, _n, ms) => steps.push(ms) }));
      figures.push({
        name: `sanity check one layer step (Grad-CAM, 1 image) resnet18-${size} ms/step`, value: x.cpu / 2, unit: 'ms CPU', baseline: { name: 'one Grad-CAM on an open model', value: b }, ratio: x.cpu / 2 / b,
        target: 'stated (no target)', notes: `wall ${steps.map((v) => v.toFixed(0)).join(', ')} ms per step: new model bytes + model open (probe, sessions) + CAM; per extra image ≈ the baseline`,
      });
    }
    await closeModels();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return figures;
};
export default bench;
