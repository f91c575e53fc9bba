// Network Dissection bench: a synthetic concept dataset (src/data/synth/shapes.ts, Broden format, 224² images,
// 112² masks like broden1_224) and the ResNet-18-shaped ONNX of src/model/testing/nets.ts (random weights), layers
// layer2-4. Baseline: the forward passes alone (decode + model.activations of the three layers, batch 32, results
// dropped). Dissection: the pipeline dataset → load-model → collect-activations → quantile-thresholds → label-units
// run by the engine (cache commits included). Each runs in a fresh child process (its own peak RSS), three times,
// alternating (baseline, dissection, baseline, …); the median run of each side is compared. Target: whole dissection ≤
// 1.2× the forward passes. Extrapolated to Broden's 63,305 images (time, disk, RSS).
// 1000 images (--quick: 64). Also the disk-light mode (collect-activations maps: false) at two sizes extrapolated to
// Broden, and kill -9 of the dissection demo (work lost, from the resume counts).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BenchFigure, BenchFn } from './types.ts';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BRODEN = 63305;
const LAYERS = ['layer2', 'layer3', 'layer4'];

function child(script: string, args: string[] = []): any {
  const r = spawnSync(process.execPath, ['--import', 'tsx', script, ...args], { cwd: repo, encoding: 'utf8', env: { ...process.env, XAI_TEST: '1' }, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${script} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  const last = r.stdout.trim().split('\n').pop()!;
  return JSON.parse(last);
}

const url = (p: string) => JSON.stringify(pathToFileURL(join(repo, p)).href);

const bench: BenchFn = async ({ quick }) => {
  // XAI_BENCH_DISSECT_N / _REPS: other sizes for a partial run on a busy machine (say so when reporting)
  const n = Number(process.env.XAI_BENCH_DISSECT_N) || (quick ? 64 : 1000);
  const dir = mkdtempSync(join(os.tmpdir(), 'xai-bench-dissect-'));
  const figures: BenchFigure[] = [];
  try {
    const { generateShapes } = await import('../src/data/synth/shapes.ts');
    const { resnet18 } = await import('../src/model/testing/nets.ts');
    const t0 = performance.now();
    await generateShapes(join(dir, 'shapes'), { count: n, size: 224, seed: 1 });
    const genS = (performance.now() - t0) / 1000;
    const net = resnet18({ seed: 18 });
    const onnxFile = join(dir, 'resnet18.onnx');
    writeFileSync(onnxFile, net.onnx);
    const layers = Object.fromEntries(LAYERS.map((l) => [l, net.layers[l]]));
    const config = { path: onnxFile, layers };

    // Baseline: decode + forward of the three layers, batch 32, nothing kept.
    const base = join(dir, 'baseline.mjs');
    writeFileSync(
      base,
      `const { openModel } = await import(${url('src/model/index.ts')});\n` +
        `const { openDataset, loadImages } = await import(${url('src/data/index.ts')});\n` +
        `const t0 = performance.now(); const c0 = process.cpuUsage(); let fwd = 0; let sum = 0;\n` +
        `const model = await openModel(${JSON.stringify(config)});\n` +
        `const ds = await openDataset({ kind: 'broden', root: process.argv[2] ?? ${JSON.stringify(join(dir, 'shapes'))} });\n` +
        `for (let i = 0; i < ds.items.length; i += 32) {\n` +
        `  const batch = await loadImages(ds.items.slice(i, i + 32), model.info.input);\n` +
        `  const t = performance.now();\n` +
        `  const a = await model.activations(batch, ${JSON.stringify(LAYERS)});\n` +
        `  fwd += performance.now() - t; sum += a.layer4.data[0];\n` +
        `}\n` +
        `const c = process.cpuUsage(c0);\n` +
        `process.stdout.write(JSON.stringify({ total: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6, forward: fwd / 1000, maxRssMb: process.resourceUsage().maxRSS / 1024, sum }) + '\\n');\n`,
    );
    // Dissection through the engine, in a fresh project each time (no cache hits).
    const st = (k: string) => JSON.stringify(join(repo, 'stages', `${k}.ts`));
    const dissectOnce = (rep: number | string, shapes = join(dir, 'shapes'), maps = true) => {
      const proj = join(dir, `project-${rep}`);
      mkdirSync(join(proj, 'pipelines'), { recursive: true });
      writeFileSync(
        join(proj, 'pipelines', 'd.yaml'),
        `name: benchdissect\nstages:\n` +
          `  data: { uses: ${st('dataset')}, params: { kind: broden, root: ${JSON.stringify(shapes)} } }\n` +
          `  model: { uses: ${st('load-model')}, params: ${JSON.stringify(config)} }\n` +
          `  acts: { uses: ${st('collect-activations')}, inputs: { model: model, dataset: data }, params: { layers: ${JSON.stringify(LAYERS)}, batchSize: 32${maps ? '' : ', maps: false'} } }\n` +
          `  thresholds: { uses: ${st('quantile-thresholds')}, inputs: { activations: acts } }\n` +
          `  labels: { uses: ${st('label-units')}, inputs: { activations: acts, thresholds: thresholds } }\n`,
      );
      const run = join(dir, `dissect-${rep}.mjs`);
      writeFileSync(
        run,
        `const { analyze } = await import(${url('src/engine/analyze.ts')});\n` +
          `const { executePlan } = await import(${url('src/engine/runner.ts')});\n` +
          `const { dirSize } = await import(${url('src/engine/cache.ts')});\n` +
          `const { EventBus } = await import(${url('src/engine/events.ts')});\n` +
          `const bus = new EventBus(); const cpu = {}; const at = {}; const gc = {}; let current;\n` +
          `const now = () => { const c = process.cpuUsage(); return (c.user + c.system) / 1e6; };\n` +
          // GC pauses of the main thread per stage (the label-units variance question: GC or not)
          `const { PerformanceObserver } = await import('node:perf_hooks');\n` +
          `new PerformanceObserver((l) => { for (const e of l.getEntries()) if (current) gc[current] = (gc[current] ?? 0) + e.duration / 1000; }).observe({ entryTypes: ['gc'] });\n` +
          `bus.on((e) => { if (e.type === 'stage-start') { at[e.stageId] = now(); current = e.stageId; } if (e.type === 'stage-done') cpu[e.stageId] = now() - at[e.stageId]; });\n` +
          `const t0 = performance.now();\n` +
          `const plan = await analyze(${JSON.stringify(join(proj, 'pipelines', 'd.yaml'))}, { root: ${JSON.stringify(proj)} });\n` +
          `const r = await executePlan(plan, { jobs: 1, bus });\n` +
          `const total = (performance.now() - t0) / 1000;\n` +
          `if (!r.ok) { console.error(JSON.stringify(r.failed)); process.exit(1); }\n` +
          `const s = Object.fromEntries(Object.entries(r.record.stages).map(([k, v]) => [k, v.seconds]));\n` +
          `const acts = r.record.stages.acts;\n` +
          `const bytes = dirSize(${JSON.stringify(join(proj, 'artifacts', 'cache', 'collect-activations'))} + '/' + acts.key);\n` +
          `const cacheBytes = dirSize(${JSON.stringify(join(proj, 'artifacts', 'cache'))});\n` +
          `process.stdout.write(JSON.stringify({ total, cpuTotal: now(), stages: s, cpu, gc, mapsBytes: bytes, cacheBytes, maxRssMb: process.resourceUsage().maxRSS / 1024 }) + '\\n');\n`,
      );
      const out = child(run);
      rmSync(proj, { recursive: true, force: true }); // frees the maps (680 MB at 1000 images) before the next run
      return out;
    };
    // Alternating runs (baseline, dissection, baseline, …); each side's median run is compared (the box is shared and
    // noisy: identical runs vary by ±6%), every run is listed in the notes.
    const reps = Number(process.env.XAI_BENCH_DISSECT_REPS) || (quick ? 1 : 3);
    const bs: any[] = [];
    const ds: any[] = [];
    for (let rep = 0; rep < reps; rep++) {
      bs.push(child(base));
      ds.push(dissectOnce(rep));
    }
    const stageSumOf = (x: any) => (x.stages.acts as number) + (x.stages.thresholds as number) + (x.stages.labels as number);
    const median = <T>(xs: T[], v: (x: T) => number) => [...xs].sort((a, c) => v(a) - v(c))[(xs.length - 1) >> 1];
    const b = median(bs, (x) => x.total);
    const d = median(ds, stageSumOf);
    const runs = `runs (s): baseline ${bs.map((x) => x.total.toFixed(1)).join(', ')}; dissection ${ds.map((x) => stageSumOf(x).toFixed(1)).join(', ')}; median of each compared`;
    const forwardOnly = b.forward;
    const baseline = b.total;
    const stageSum = (d.stages.acts as number) + (d.stages.thresholds as number) + (d.stages.labels as number);
    const dissect = stageSum;
    const notes = `${n} images 224², ResNet-18 shapes (random weights) layers 2–4, batch 32, ${os.availableParallelism()} cores shared with other work (noisy); ${runs}; dataset generation ${genS.toFixed(0)} s not counted`;
    figures.push({ name: `forward passes alone (open model + decode + activations layer2-4), ${n} images`, value: baseline, unit: 's', notes: `of which model.activations ${forwardOnly.toFixed(1)} s; peak RSS ${b.maxRssMb.toFixed(0)} MiB` });
    figures.push({
      name: `whole dissection (collect-activations + quantile-thresholds + label-units stages), ${n} images`,
      value: dissect,
      unit: 's',
      baseline: { name: 'forward passes alone', value: baseline },
      ratio: dissect / baseline,
      target: '≤ 1.2× forward passes',
      pass: dissect / baseline <= 1.2,
      notes: `stages (s): ${Object.entries(d.stages).map(([k, v]) => `${k} ${(v as number).toFixed(1)}`).join(', ')}; ${notes}`,
    });
    figures.push({
      name: 'engine run wall (+ dataset and load-model stages, cache commits with sha256 of the maps)',
      value: d.total,
      unit: 's',
      baseline: { name: 'forward passes alone', value: baseline },
      ratio: d.total / baseline,
    });
    const cpuDissect = d.cpu.acts + d.cpu.thresholds + d.cpu.labels;
    figures.push({
      name: 'whole dissection CPU time (user + sys of the three stages)',
      value: cpuDissect,
      unit: 's',
      baseline: { name: 'forward passes alone, CPU time', value: b.cpu },
      ratio: cpuDissect / b.cpu,
      notes: `CPU seconds are less sensitive than wall time to the other processes sharing the cores; stages: ${Object.entries(d.cpu).map(([k, v]) => `${k} ${(v as number).toFixed(1)}`).join(', ')}`,
    });
    figures.push({ name: 'whole dissection vs model.activations time only', value: dissect / forwardOnly, unit: '×', notes: 'excludes image decoding and model opening from the baseline' });
    // label-units' run-to-run variance: wall vs CPU time (process, all threads) vs main-thread GC pauses, per run.
    const spread = (xs: number[]) => Math.max(...xs) / Math.min(...xs);
    figures.push({
      name: `label-units wall-time spread over ${ds.length} identical runs (max / min)`,
      value: spread(ds.map((x) => x.stages.labels)),
      unit: '×',
      notes: `wall (s) ${ds.map((x) => x.stages.labels.toFixed(1)).join(' / ')}; CPU (s, user + sys, all threads) ${ds.map((x) => x.cpu.labels.toFixed(1)).join(' / ')} (spread ${spread(ds.map((x) => x.cpu.labels)).toFixed(2)}×); main-thread GC pauses (s) ${ds.map((x) => (x.gc.labels ?? 0).toFixed(2)).join(' / ')}: a wall spread with a flat CPU time and small GC is waiting (other processes on the shared cores), not work`,
    });
    const overhead = (d.stages.thresholds as number) + (d.stages.labels as number) + Math.max(0, (d.stages.acts as number) - baseline);
    figures.push({ name: 'dissection overhead beyond the forward passes, per image', value: (overhead / n) * 1000, unit: 'ms/image', notes: 'thresholds + labels + (collect − baseline)' });
    figures.push({ name: 'peak RSS, dissection process', value: d.maxRssMb, unit: 'MiB', notes: `baseline process ${b.maxRssMb.toFixed(0)} MiB` });
    const perImage = d.mapsBytes / n;
    figures.push({ name: 'stored float32 maps per image (layer2-4)', value: perImage / 1024, unit: 'KiB', notes: `${(d.mapsBytes / 2 ** 20).toFixed(0)} MiB for ${n} images` });
    // Broden extrapolation: time and disk linear in images; memory bounded except TopQuantile's exact buffers.
    const { TopQuantile } = await import('../src/algo/dissect/index.ts');
    const shapes = [[128, 28], [256, 14], [512, 7]];
    // all layers' selections in one pass while they fit quantile-thresholds' memoryMB (512 MiB; more passes beyond)
    const tq = (N: number) => Math.min(512, shapes.reduce((a, [u, s]) => a + TopQuantile.bytesFor(u, N * s * s, 0.005), 0) / 2 ** 20);
    figures.push({ name: `extrapolated Broden (${BRODEN} images) whole dissection, this machine`, value: ((dissect / n) * BRODEN) / 3600, unit: 'h', notes: 'linear in images' });
    figures.push({ name: `extrapolated Broden maps on disk`, value: (perImage * BRODEN) / 2 ** 30, unit: 'GiB', notes: 'float32; dtype float16 halves it' });
    figures.push({
      name: 'extrapolated Broden peak RSS',
      value: d.maxRssMb - tq(n) + tq(BRODEN),
      unit: 'MiB',
      notes: `measured peak − quantile buffers at ${n} images (${tq(n).toFixed(1)} MiB) + at ${BRODEN} (${tq(BRODEN).toFixed(0)} MiB, layers 2–4 in one pass within the 512 MiB default budget); everything else is per batch or per unit`,
    });

    // ── Disk-light dissection (collect-activations maps: false): two forwards (thresholds, then the tally), no maps on
    // disk. Two sizes (5,000 and 10,000 images; --quick or XAI_BENCH_LIGHT_SIZES=a,b: smaller), each against its own
    // forward-passes baseline; cache size and time extrapolated linearly (fit through both sizes) to Broden's 63,305;
    // peak RSS at both sizes (flat memory: only the exact selection buffers grow with the images).
    const sizes = (process.env.XAI_BENCH_LIGHT_SIZES?.split(',').map(Number) ?? (quick ? [96, 192] : [5000, 10000])) as [number, number];
    const light = sizes.map((m) => {
      const root = join(dir, `shapes-${m}`);
      return { m, root };
    });
    const lr: { m: number; base: any; run: any }[] = [];
    const lightReps = Number(process.env.XAI_BENCH_LIGHT_REPS) || 1;
    const lightSum = (x: any) => (x.stages.acts as number) + (x.stages.thresholds as number) + (x.stages.labels as number);
    for (const { m, root } of light) {
      const g0 = performance.now();
      await generateShapes(root, { count: m, size: 224, seed: 2 });
      const gen = (performance.now() - g0) / 1000;
      // XAI_BENCH_LIGHT_REPS (default 1): alternating runs at each size, each side's median compared (the shared box's
      // ±6% run-to-run noise, amplified by the linear extrapolation to Broden)
      const bl: any[] = [];
      const rl: any[] = [];
      for (let rep = 0; rep < lightReps; rep++) {
        bl.push(child(base, [root]));
        rl.push(dissectOnce(`light-${m}-${rep}`, root, false));
      }
      const base1 = median(bl, (x) => x.total);
      const run1 = median(rl, (x) => lightSum(x));
      rmSync(root, { recursive: true, force: true });
      lr.push({ m, base: base1, run: { ...run1, gen } });
    }
    const lightCpu = (x: any) => (x.cpu.acts as number) + (x.cpu.thresholds as number) + (x.cpu.labels as number);
    for (const { m, base: b1, run: r1 } of lr) {
      figures.push({
        name: `disk-light dissection (maps: false: thresholds + labels each recompute the forward), ${m} images`,
        value: lightSum(r1),
        unit: 's',
        baseline: { name: 'forward passes alone', value: b1.total },
        ratio: lightSum(r1) / b1.total,
        // issue 20's target (≤ 2.2× the forward time) is on the Broden-sized run extrapolated from these two sizes (row
        // below), which leaves out the fixed costs and the forward baseline's run-to-run spread; each size is stated
        target: 'stated (≤ 2.2× applies to the Broden extrapolation)',
        notes: `${lightReps > 1 ? `median of ${lightReps} alternating runs; ` : ''}CPU time (user + sys, all threads) ${lightCpu(r1).toFixed(1)} s vs forward passes ${b1.cpu.toFixed(1)} s: ${(lightCpu(r1) / b1.cpu).toFixed(2)}× (less sensitive to other processes than wall time); stages (s): ${Object.entries(r1.stages).map(([k, v]) => `${k} ${(v as number).toFixed(1)}`).join(', ')}; cache ${(r1.cacheBytes / 2 ** 20).toFixed(1)} MiB; peak RSS ${r1.maxRssMb.toFixed(0)} MiB (baseline ${b1.maxRssMb.toFixed(0)}); 224² images, masks 112²; dataset generation ${r1.gen.toFixed(0)} s not counted; noisy, shared box`,
      });
    }
    const [a, c] = lr;
    const lin = (f: (x: any) => number) => {
      const slope = (f(c) - f(a)) / (c.m - a.m);
      return f(a) + slope * (BRODEN - a.m);
    };
    const cacheB = lin((x) => x.run.cacheBytes);
    figures.push({
      name: `disk-light: extrapolated Broden (${BRODEN} images) cache`,
      value: cacheB / 2 ** 30,
      unit: 'GiB',
      target: '≤ 1 GB',
      pass: cacheB <= 1e9,
      notes: `linear through ${a.m} images (${(a.run.cacheBytes / 2 ** 20).toFixed(1)} MiB) and ${c.m} (${(c.run.cacheBytes / 2 ** 20).toFixed(1)} MiB), whole cache of the run (dataset, model, collect-activations, thresholds, labels); stored maps would be ${((perImage * BRODEN) / 2 ** 30).toFixed(1)} GiB`,
    });
    const ratioAt = lin((x) => lightSum(x.run)) / lin((x) => x.base.total);
    figures.push({
      name: `disk-light: extrapolated Broden time / forward time`,
      value: ratioAt,
      unit: '×',
      target: '≤ 2.2×',
      pass: ratioAt <= 2.2,
      notes: `dissection ${(lin((x) => lightSum(x.run)) / 3600).toFixed(2)} h vs forward passes ${(lin((x) => x.base.total) / 3600).toFixed(2)} h on this machine (linear through both sizes: the noise of the two runs is amplified ${((BRODEN - a.m) / (c.m - a.m)).toFixed(0)}× in the slope; XAI_BENCH_LIGHT_REPS=3 takes medians)`,
    });
    const cpuAt = lin((x) => lightCpu(x.run)) / lin((x) => x.base.cpu);
    figures.push({
      name: `disk-light: extrapolated Broden CPU time / forward CPU time`,
      value: cpuAt,
      unit: '×',
      notes: `user + sys of all threads, the same linear fit (${lr.map((x) => `${x.m}: ${(lightCpu(x.run) / x.base.cpu).toFixed(2)}×`).join(', ')}); informative: less sensitive than wall time to other processes on a shared box`,
    });
    const rssGrowth = c.run.maxRssMb / a.run.maxRssMb;
    figures.push({
      name: `disk-light: peak RSS at ${c.m} vs ${a.m} images`,
      value: rssGrowth,
      unit: '×',
      baseline: { name: `peak RSS at ${a.m} images (MiB)`, value: a.run.maxRssMb },
      ratio: rssGrowth,
      target: '≤ 1.1× (flat memory)',
      pass: rssGrowth <= 1.1,
      notes: `${c.run.maxRssMb.toFixed(0)} vs ${a.run.maxRssMb.toFixed(0)} MiB; of the growth, the exact selection buffers account for ${(tq(c.m) - tq(a.m)).toFixed(0)} MiB (${tq(BRODEN).toFixed(0)} MiB at Broden, bounded by memoryMB)`,
    });
    // The kept order statistics grow with the images by design (≈ q·N·H·W per unit, bounded by memoryMB): the same ratio
    // with their bytes (selection buffers, computed from the params: TopQuantile.bytesFor, not measured) taken out of
    // both peaks — what "flat memory" asks of everything else.
    const netGrowth = (c.run.maxRssMb - tq(c.m)) / (a.run.maxRssMb - tq(a.m));
    figures.push({
      name: `disk-light: peak RSS at ${c.m} vs ${a.m} images, net of the kept order statistics`,
      value: netGrowth,
      unit: '×',
      baseline: { name: `peak RSS at ${a.m} images − its selection buffers (MiB)`, value: a.run.maxRssMb - tq(a.m) },
      ratio: netGrowth,
      target: '≤ 1.1× (flat memory)',
      pass: netGrowth <= 1.1,
      notes: `(${c.run.maxRssMb.toFixed(0)} − ${tq(c.m).toFixed(0)}) vs (${a.run.maxRssMb.toFixed(0)} − ${tq(a.m).toFixed(0)}) MiB: selection buffers (8 bytes per kept value, q = 0.005, layers 2–4) computed from the params; the checkpoint of the selection (its kept values, written every few seconds) adds up to as much again while it is written`,
    });

    // ── kill -9 at a random point of the dissection demo: work lost, from the resume counts of the rerun.
    figures.push(...(await killBench(dir, quick)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return figures;
};

/**
 * The dissection demo (pipelines/dissect-demo.yaml's stages, 400 images) run in a child process that prints its
 * events; killed with SIGKILL at random times (seeded), rerun in the same project. Work lost at a kill: in the stage
 * that was running, (items it had done at the kill − items the rerun resumed) × its time per item (from the rerun's
 * manifest), plus, if it was killed while committing a finished stage, nothing (a complete entry is kept).
 */
async function killBench(dir: string, quick: boolean): Promise<BenchFigure[]> {
  const { spawn } = await import('node:child_process');
  const st = (k: string) => JSON.stringify(join(repo, 'stages', `${k}.ts`));
  const cfg = JSON.stringify(join(repo, 'configs', 'models', 'demo.yaml'));
  const onnx = JSON.stringify(join(repo, 'models', 'demo', 'model.onnx'));
  const yaml =
    `name: killdemo\nstages:\n` +
    `  shapes: { uses: ${st('synth-dataset')}, params: { count: 400, size: 128, seed: 1 } }\n` +
    `  model: { uses: ${st('load-model')}, include: ${cfg}, params: { path: ${onnx}, labels: ${JSON.stringify(join(repo, 'models', 'demo', 'labels.txt'))} } }\n` +
    `  activations: { uses: ${st('collect-activations')}, inputs: { model: model, dataset: shapes }, params: { layers: [layer1, layer2, layer3], batchSize: 50 } }\n` +
    `  thresholds: { uses: ${st('quantile-thresholds')}, inputs: { activations: activations } }\n` +
    `  labels: { uses: ${st('label-units')}, inputs: { activations: activations, thresholds: thresholds } }\n`;
  const script = join(dir, 'kill-run.mjs');
  writeFileSync(
    script,
    `const { analyze } = await import(${url('src/engine/analyze.ts')});\n` +
      `const { executePlan } = await import(${url('src/engine/runner.ts')});\n` +
      `const { EventBus } = await import(${url('src/engine/events.ts')});\n` +
      `const bus = new EventBus();\n` +
      `bus.on((e) => { if (e.type === 'stage-start' || e.type === 'stage-progress' || e.type === 'stage-done') process.stdout.write(JSON.stringify({ type: e.type, stageId: e.stageId, done: e.done, total: e.total, map: e.map, seconds: e.seconds, t: performance.now() }) + '\\n'); });\n` +
      `const plan = await analyze(process.argv[2] + '/pipelines/p.yaml', { root: process.argv[2] });\n` +
      `const r = await executePlan(plan, { jobs: 1, bus });\n` +
      `process.exit(r.ok ? 0 : 1);\n`,
  );
  const runDemo = (proj: string, killAfterMs?: number) =>
    new Promise<{ events: any[]; killed: boolean; spawnAt: number }>((resolve, reject) => {
      const spawnAt = performance.now();
      const ch = spawn(process.execPath, ['--import', 'tsx', script, proj], { cwd: repo, env: { ...process.env, XAI_TEST: '1' } });
      const events: any[] = [];
      let buf = '';
      let killed = false;
      ch.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          try {
            events.push({ ...JSON.parse(line), at: performance.now() });
          } catch {
            /* not an event */
          }
        }
      });
      let err = '';
      ch.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const timer = killAfterMs === undefined ? undefined : setTimeout(() => ((killed = true), ch.kill('SIGKILL')), killAfterMs);
      ch.on('close', (code) => {
        if (timer) clearTimeout(timer);
        if (!killed && code !== 0) reject(new Error(`demo run failed (${code}): ${err.slice(-1500)}`));
        else resolve({ events, killed, spawnAt });
      });
    });
  // a clean run: its duration bounds the kill times
  const clean = join(dir, 'kill-clean');
  mkdirSync(join(clean, 'pipelines'), { recursive: true });
  writeFileSync(join(clean, 'pipelines', 'p.yaml'), yaml);
  const c0 = performance.now();
  await runDemo(clean);
  const total = performance.now() - c0;
  rmSync(clean, { recursive: true, force: true });
  let seed = 20;
  const rnd = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32);
  const kills = quick ? 2 : 5;
  const losses: { at: number; stage: string; lost: number }[] = [];
  for (let k = 0; k < kills; k++) {
    const proj = join(dir, `kill-${k}`);
    mkdirSync(join(proj, 'pipelines'), { recursive: true });
    writeFileSync(join(proj, 'pipelines', 'p.yaml'), yaml);
    const at = 0.1 * total + rnd() * 0.85 * total;
    const first = await runDemo(proj, at);
    const again = await runDemo(proj);
    // the stage that was running at the kill, and how far it had got (its last progress event)
    const started = first.events.filter((e) => e.type === 'stage-start').map((e) => e.stageId);
    const finished = new Set(first.events.filter((e) => e.type === 'stage-done').map((e) => e.stageId));
    const running = started.filter((s) => !finished.has(s)).pop();
    let lost = 0;
    if (running) {
      const progress = first.events.filter((e) => e.type === 'stage-progress' && e.stageId === running).pop();
      const done = again.events.find((e) => e.type === 'stage-done' && e.stageId === running);
      const map = done?.map ? (Object.values(done.map)[0] as { items: number; computed: number; resumed: number }) : undefined;
      const startAt = first.events.find((e) => e.type === 'stage-start' && e.stageId === running).at;
      const killAt = first.spawnAt + at;
      if (map && done) {
        const perItem = done.seconds / Math.max(1, map.computed); // the rerun's time per computed item (an upper bound: it includes setup)
        lost = Math.max(0, ((progress?.done ?? 0) - map.resumed) * perItem);
      } else lost = Math.max(0, (killAt - startAt) / 1000); // a stage without per-item work: all of its time so far
    }
    losses.push({ at: at / 1000, stage: running ?? '(between stages)', lost });
    rmSync(proj, { recursive: true, force: true });
  }
  const worst = Math.max(...losses.map((x) => x.lost));
  return [
    {
      name: 'kill -9 at a random point of the dissection demo: work lost (worst of the kills)',
      value: worst,
      unit: 's',
      target: '≤ 5 s',
      pass: worst <= 5,
      notes: `demo run ${(total / 1000).toFixed(1)} s; kills (s into the run → stage, lost s): ${losses.map((x) => `${x.at.toFixed(1)} → ${x.stage} ${x.lost.toFixed(1)}`).join('; ')}; lost = (items done at the kill − items the rerun resumed) × the rerun's time per computed item (stages without per-item work: their elapsed time); noisy, shared box`,
    },
  ];
}

export default bench;
