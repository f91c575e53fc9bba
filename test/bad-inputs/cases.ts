// The bad-input corpus: one row per malformed (or odd but accepted) input, run through the real CLI by
// corpus.test.ts; docs/bad-inputs.md is generated from this list (scripts/bad-inputs-doc.ts).
//
// Every case runs in its own temporary project: `stages`, `configs` and `models` link to the repository's, `assets`
// to the shared fixtures (assets/img: two 64×64 RGB PNGs; assets/models: small ONNX nets), plus the case's files.
// Rejected cases assert exit code, a message naming the file and line/key or item and what was expected, no stack
// trace, and an artifacts/ tree unchanged by the command; accepted cases (odd images) assert exit 0, the note in
// the items table and the one summary warning line.
import { chmodSync, mkdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { encodePng, getSharp } from '../../src/image/io.ts';

export type FileSpec = string | Uint8Array | (() => Promise<Uint8Array> | Uint8Array);

export interface Case {
  id: string;
  area: 'pipeline' | 'params' | '--set' | 'cli' | 'model' | 'labels' | 'image' | 'dataset' | 'filesystem';
  /** What is wrong (one line, for the docs table). */
  input: string;
  files?: Record<string, FileSpec>;
  args: string[];
  exit: number;
  /** Must match stderr (rejected) or stdout + stderr (accepted). */
  message: RegExp;
  /** Accepted-with-note cases: the note of item `item` in artifacts/p/imgs/items.arrow. */
  note?: { item: string; re: RegExp };
  /** Runs before the command (after files are written); returns a reason to skip, or undefined. */
  setup?: (dir: string) => string | undefined;
  teardown?: (dir: string) => void;
}

// ---- pipeline snippets ----------------------------------------------------------------------------------------
const IMGS = '  imgs: { uses: dataset, params: { root: assets/img, labels: { from: none } } }\n';
const MODEL = '  model: { uses: load-model, include: configs/models/demo.yaml }\n';
const pipe = (...stages: string[]) => `name: p\nstages:\n${stages.join('')}`;
const cam = (params: string) => `  cams:\n    uses: cam\n    inputs: { model: model, images: imgs }\n    params: ${params}\n`;
const lime = (params: string) => `  lime:\n    uses: lime\n    inputs: { model: model, images: imgs }\n    params: ${params}\n`;
const acts = (params: string) => `  acts:\n    uses: collect-activations\n    inputs: { model: model, dataset: imgs }\n    params: ${params}\n`;
const loadModel = (params: string) => `  model: { uses: load-model, params: ${params} }\n`;
const folder = (root: string, extra = '') => `  imgs: { uses: dataset, params: { root: ${root}, labels: { from: none }${extra} } }\n`;
const broden = (root: string) => `  imgs: { uses: dataset, params: { root: ${root}, kind: broden } }\n`;
const P = ['pipelines/p.yaml'];
const validate = ['validate', ...P];
const run = ['run', ...P];

// ---- image generators (sharp for what the PNG encoder does not write) ------------------------------------------
const rgb = (w: number, h: number, seed = 1) => Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 31 + seed * 17) % 256);
const png = (w: number, h: number, ch: 1 | 2 | 3 | 4 = 3) => () => encodePng(Uint8Array.from({ length: w * h * ch }, (_, i) => (i * 13) % 256), w, h, ch);
async function sharpOf(w: number, h: number) {
  const sharp = await getSharp();
  return sharp(Buffer.from(rgb(w, h)), { raw: { width: w, height: h, channels: 3 } });
}
const png16 = () => sharpOf(40, 40).then((s) => s.toColourspace('rgb16').png().toBuffer());
const exifJpeg = () => sharpOf(48, 40).then((s) => s.jpeg().withMetadata({ orientation: 6 }).toBuffer());
const cmykJpeg = () => sharpOf(40, 40).then((s) => s.toColourspace('cmyk').jpeg().toBuffer());
const hugeJpeg = async () => {
  const sharp = await getSharp();
  return sharp({ create: { width: 4100, height: 4100, channels: 3, background: '#808080' } }).jpeg({ quality: 50 }).toBuffer();
};
/** A 64×64 JPEG cut after `at` bytes (≥ 1) or that fraction of its length (< 1). */
const truncatedJpeg = (at: number) => async () => {
  const full = await sharpOf(64, 64).then((s) => s.jpeg().toBuffer());
  return full.subarray(0, at < 1 ? Math.floor(full.length * at) : at);
};
const garbage = () => Uint8Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24);

/** A dataset folder with one odd image beside a normal one. */
const oddFolder = (name: string, spec: FileSpec): Record<string, FileSpec> => ({ 'data/odd/ok.png': png(64, 64), [`data/odd/${name}`]: spec });
const oddPipe = pipe(folder('data/odd'));

// ---- Broden fixtures: index.csv / label.csv / category.csv text --------------------------------------------------
const brodenLabel = 'number,name,category,frequency,coverage,syns\n0,-,-,0,0,\n1,red,color(1),1,0.5,\n';
const brodenFiles = (index: string, extra: Record<string, FileSpec> = {}): Record<string, FileSpec> => ({
  'data/br/index.csv': index,
  'data/br/label.csv': brodenLabel,
  'data/br/images/a.png': png(16, 16),
  ...extra,
});
const brodenHead = 'image,split,ih,iw,sh,sw,color\n';

const runsNotes = (item: string, re: RegExp) => ({ item, re });

// A pipeline of a model config in the project (configs/ links to the repository's, so case configs live in cfg/).
const modelCfg = (yaml: string) => ({ 'cfg/m.yaml': yaml, 'pipelines/p.yaml': pipe(IMGS, '  model: { uses: load-model, include: cfg/m.yaml }\n') });

export const cases: Case[] = [
  // ---- pipeline file ------------------------------------------------------------------------------------------
  { id: 'yaml-syntax', area: 'pipeline', input: 'unclosed flow mapping', files: { 'pipelines/p.yaml': 'name: p\nstages:\n  a: { uses: dataset\n' }, args: validate, exit: 2, message: /pipelines\/p\.yaml:\d+:\d+: YAML syntax error/ },
  { id: 'yaml-empty', area: 'pipeline', input: 'empty pipeline file', files: { 'pipelines/p.yaml': '' }, args: validate, exit: 2, message: /pipelines\/p\.yaml:1:1: expected a mapping with 'stages:'/ },
  { id: 'yaml-duplicate-key', area: 'pipeline', input: 'a stage id twice', files: { 'pipelines/p.yaml': pipe(IMGS, IMGS) }, args: validate, exit: 2, message: /pipelines\/p\.yaml:4:\d+: YAML syntax error: Map keys must be unique/ },
  { id: 'pipeline-not-found', area: 'pipeline', input: 'pipeline path that does not exist', args: ['validate', 'pipelines/nope.yaml'], exit: 2, message: /pipelines\/nope\.yaml: pipeline file not found/ },
  { id: 'unknown-kind', area: 'pipeline', input: '`uses: camm`', files: { 'pipelines/p.yaml': pipe(IMGS, MODEL, '  cams: { uses: camm, inputs: { model: model, images: imgs } }\n') }, args: validate, exit: 2, message: /p\.yaml:5:\d+: stages\.cams\.uses: unknown stage kind 'camm' \(did you mean 'cam'\?\)/ },
  { id: 'unknown-input-ref', area: 'pipeline', input: 'input names a stage that does not exist', files: { 'pipelines/p.yaml': pipe(IMGS, '  cams: { uses: cam, inputs: { model: modle, images: imgs } }\n') }, args: validate, exit: 2, message: /p\.yaml:4:\d+: stages\.cams\.inputs\.model: unknown stage 'modle'/ },
  { id: 'unknown-input-name', area: 'pipeline', input: 'input name the kind does not take', files: { 'pipelines/p.yaml': pipe(IMGS, MODEL, '  cams: { uses: cam, inputs: { model: model, images: imgs, imgs: imgs } }\n') }, args: validate, exit: 2, message: /p\.yaml:5:\d+: stages\.cams\.inputs\.imgs: stage kind 'cam' has no input 'imgs'/ },
  { id: 'missing-input', area: 'pipeline', input: 'cam without its images input', files: { 'pipelines/p.yaml': pipe(MODEL, '  cams: { uses: cam, inputs: { model: model } }\n') }, args: validate, exit: 2, message: /p\.yaml:4:\d+: stages\.cams\.inputs: missing required input 'images'/ },
  { id: 'input-wrong-kind', area: 'pipeline', input: 'images input bound to a load-model stage', files: { 'pipelines/p.yaml': pipe(MODEL, '  cams: { uses: cam, inputs: { model: model, images: model } }\n') }, args: validate, exit: 2, message: /p\.yaml:4:\d+: stages\.cams\.inputs\.images: input 'images' takes a stage of kind dataset or synth-dataset, but 'model' is 'load-model'/ },
  { id: 'cycle', area: 'pipeline', input: 'two stages feeding each other', files: { 'pipelines/p.yaml': pipe('  a: { uses: compare, inputs: { lime: b } }\n', '  b: { uses: compare, inputs: { lime: a } }\n') }, args: validate, exit: 2, message: /p\.yaml:4:\d+: stages\.b\.inputs: dependency cycle: a → b → a/ },
  { id: 'include-missing', area: 'pipeline', input: '`include:` of a missing fragment', files: { 'pipelines/p.yaml': pipe('  model: { uses: load-model, include: configs/models/nope.yaml }\n') }, args: validate, exit: 2, message: /p\.yaml:3:\d+: .*configs\/models\/nope\.yaml.*not found/ },
  { id: 'export-unknown-stage', area: 'pipeline', input: '`export:` names no stage', files: { 'pipelines/p.yaml': pipe(IMGS) + 'export:\n  - { table: imgz.items, format: csv }\n' }, args: validate, exit: 2, message: /p\.yaml:5:\d+: export\[0\]\.table: export: unknown stage 'imgz' \(did you mean 'imgs'\?\)/ },

  // ---- stage params -------------------------------------------------------------------------------------------
  { id: 'param-unknown-key', area: 'params', input: 'misspelt LIME key num_sampels', files: { 'pipelines/p.yaml': pipe(IMGS, MODEL, lime('{ num_sampels: 10 }')) }, args: validate, exit: 2, message: /p\.yaml:8:\d+: stages\.lime\.params\.num_sampels: unknown key \(did you mean 'num_samples'\?\)/ },
  { id: 'param-not-integer', area: 'params', input: 'num_samples: 100.5', files: { 'pipelines/p.yaml': pipe(IMGS, MODEL, lime('{ num_samples: 100.5 }')) }, args: validate, exit: 2, message: /p\.yaml:8:\d+: stages\.lime\.params\.num_samples: expected integer or string, got number 100\.5/ },
  { id: 'param-negative', area: 'params', input: 'num_samples: -5', files: { 'pipelines/p.yaml': pipe(IMGS, MODEL, lime('{ num_samples: -5 }')) }, args: validate, exit: 2, message: /p\.yaml:8:\d+: stages\.lime\.params\.num_samples: must be >= 1, got -5/ },
  { id: 'param-enum', area: 'params', input: 'CAM method gradcamm', files: { 'pipelines/p.yaml': pipe(IMGS, MODEL, cam('{ methods: [gradcamm] }')) }, args: validate, exit: 2, message: /p\.yaml:8:\d+: stages\.cams\.params\.methods\[0\]: unknown CAM method 'gradcamm' \(expected one of gradcam, gradcam\+\+/ },
  { id: 'target-not-a-class', area: 'params', input: '`target: zebra` on the 6-class demo model', files: { 'pipelines/p.yaml': pipe(IMGS, MODEL, cam('{ target: zebra }')) }, args: validate, exit: 2, message: /p\.yaml:8:\d+: stages\.cams\.params\.target: model 'model' has no class named 'zebra' \(expected 'top1', 'label', a class index 0\.\.5 or one of circle/ },
  { id: 'target-out-of-range', area: 'params', input: '`target: 99` on the 6-class demo model', files: { 'pipelines/p.yaml': pipe(IMGS, MODEL, cam('{ target: 99 }')) }, args: run, exit: 2, message: /p\.yaml:8:\d+: stages\.cams\.params\.target: class index 99 is outside 0\.\.5 \(model 'model' has 6 classes\)/ },
  { id: 'target-class-object', area: 'params', input: '`target: { class: giraffe }`', files: { 'pipelines/p.yaml': pipe(IMGS, MODEL, cam('{ target: { class: giraffe } }')) }, args: validate, exit: 2, message: /p\.yaml:8:\d+: stages\.cams\.params\.target\.class: model 'model' has no class named 'giraffe'/ },
  { id: 'targets-override-range', area: 'params', input: 'per-image override `targets: { a.png: 42 }`', files: { 'pipelines/p.yaml': pipe(IMGS, MODEL, cam('{ targets: { a.png: 42 } }')) }, args: validate, exit: 2, message: /p\.yaml:8:\d+: stages\.cams\.params\.targets\.a\.png: class index 42 is outside 0\.\.5/ },
  { id: 'target-quoted-index', area: 'params', input: "`target: '3'` (a quoted index)", files: { 'pipelines/p.yaml': pipe(IMGS, MODEL, cam("{ target: '3' }")) }, args: validate, exit: 2, message: /p\.yaml:\d+:\d+: stages\.cams\.params\.target: target '3' is a string; write it unquoted/ },
  { id: 'layer-missing', area: 'params', input: 'CAM layer the model does not have (`run`: refused before any stage)', files: { 'pipelines/p.yaml': pipe(IMGS, MODEL, cam('{ layers: [layer3, layer9] }')) }, args: run, exit: 2, message: /p\.yaml:8:\d+: stages\.cams\.params\.layers\[1\]: model 'model' has no layer or alias 'layer9' \(aliases: stem, layer1, layer2, layer3\)/ },
  { id: 'layer-missing-dissection', area: 'params', input: 'collect-activations layer typo', files: { 'pipelines/p.yaml': pipe(IMGS, MODEL, acts('{ layers: [layr2] }')) }, args: validate, exit: 2, message: /p\.yaml:8:\d+: stages\.acts\.params\.layers\[0\]: model 'model' has no layer or alias 'layr2' \(aliases: stem, layer1, layer2, layer3\)/ },
  { id: 'layer-duplicate', area: 'params', input: 'a CAM layer listed twice', files: { 'pipelines/p.yaml': pipe(IMGS, MODEL, cam('{ layers: [layer3, layer3] }')) }, args: validate, exit: 2, message: /p\.yaml:\d+:\d+: stages\.cams\.params\.layers: a target layer is listed twice/ },
  { id: 'lime-labels-range', area: 'params', input: 'LIME `labels: [99]` with top_labels null', files: { 'pipelines/p.yaml': pipe(IMGS, MODEL, lime('{ top_labels: null, labels: [99] }')) }, args: validate, exit: 2, message: /p\.yaml:8:\d+: stages\.lime\.params\.labels\[0\]: class index 99 is outside 0\.\.5/ },
  { id: 'all-errors-at-once', area: 'params', input: 'a bad layer and a bad target in one stage', files: { 'pipelines/p.yaml': pipe(IMGS, MODEL, cam('{ layers: [nosuch], target: zebra }')) }, args: validate, exit: 2, message: /layers\[0\]: model 'model' .*has no layer or alias 'nosuch'[^]*\n.*target: model 'model' has no class named 'zebra'/ },

  // ---- --set --------------------------------------------------------------------------------------------------
  { id: 'set-type', area: '--set', input: '`--set stages.lime.num_samples=abc`', files: { 'pipelines/p.yaml': pipe(IMGS, MODEL, lime('{}')) }, args: [...validate, '--set', 'stages.lime.num_samples=abc'], exit: 2, message: /--set: stages\.lime\.params\.num_samples: num_samples must be an integer ≥ 1 or 'auto', got 'abc' \[stages\.lime\.num_samples=abc\]/ },
  { id: 'set-target', area: '--set', input: '`--set stages.cams.target=99`', files: { 'pipelines/p.yaml': pipe(IMGS, MODEL, cam('{}')) }, args: [...run, '--set', 'stages.cams.target=99'], exit: 2, message: /--set: stages\.cams\.params\.target: class index 99 is outside 0\.\.5 .*\[stages\.cams\.target=99\]/ },
  { id: 'set-unknown-stage', area: '--set', input: '`--set` of a stage that does not exist', files: { 'pipelines/p.yaml': pipe(IMGS) }, args: [...validate, '--set', 'stages.imgz.root=x'], exit: 2, message: /--set.*stages\.imgz.*(no stage|unknown stage) 'imgz'.*did you mean 'imgs'/ },
  { id: 'set-no-equals', area: '--set', input: '`--set` without `=`', files: { 'pipelines/p.yaml': pipe(IMGS) }, args: [...validate, '--set', 'stages.imgs.root'], exit: 2, message: /--set.*stages\.imgs\.root.*(expected|=)/ },
  { id: 'set-layer', area: '--set', input: '`--set stages.cams.layers=[nope]`', files: { 'pipelines/p.yaml': pipe(IMGS, MODEL, cam('{}')) }, args: [...validate, '--set', 'stages.cams.layers=[nope]'], exit: 2, message: /--set: stages\.cams\.params\.layers\[0\]: model 'model' .*has no layer or alias 'nope'/ },

  // ---- CLI flags ----------------------------------------------------------------------------------------------
  { id: 'flag-negative-count', area: 'cli', input: 'make-dataset `--count -5`', args: ['make-dataset', 'shapes', '--out', 'd', '--count', '-5'], exit: 2, message: /--count must be an integer >= 1, got '-5'/ },
  { id: 'flag-negative-limit', area: 'cli', input: 'show `--limit -1`', files: { 'pipelines/p.yaml': pipe(IMGS) }, args: ['show', ...P, 'imgs', '--limit', '-1'], exit: 2, message: /--limit must be an integer >= 0, got '-1'/ },
  { id: 'flag-unknown-option', area: 'cli', input: '`xai run p.yaml --frobnicate`', files: { 'pipelines/p.yaml': pipe(IMGS) }, args: [...run, '--frobnicate'], exit: 2, message: /unknown option '--frobnicate'/ },
  { id: 'flag-unknown-command', area: 'cli', input: '`xai frobnicate`', args: ['frobnicate'], exit: 2, message: /unknown command 'frobnicate'/ },
  { id: 'runs-nosuch', area: 'cli', input: '`xai runs nosuch`', args: ['runs', 'nosuch'], exit: 2, message: /no pipeline 'nosuch' has runs/ },
  { id: 'random-unknown-distribution', area: 'cli', input: "`--random k='gauss(1,2)'`", files: { 'pipelines/p.yaml': pipe(IMGS, MODEL, lime('{}')) }, args: ['sweep', ...P, '--random', 'stages.lime.kernel_width=gauss(1,2)', '--trials', '2', '--dry-run'], exit: 2, message: /unknown distribution 'gauss' \(expected uniform\(low, high\)/ },
  { id: 'sweep-parallel-zero', area: 'cli', input: '`xai sweep --parallel 0`', files: { 'pipelines/p.yaml': pipe(IMGS, MODEL, lime('{}')) }, args: ['sweep', ...P, '--grid', 'stages.lime.kernel_width=0.1,0.2', '--parallel', '0'], exit: 2, message: /--parallel must be an integer >= 1, got '0'/ },
  { id: 'show-truncated-arrow', area: 'cli', input: '`xai show` of a truncated .arrow file', files: { 'trunc.arrow': () => Uint8Array.from([0x41, 0x52, 0x52, 0x4f, 0x57, 0x31, 0, 0, 255, 255, 255, 255, 1, 2, 3]) }, args: ['show', 'trunc.arrow'], exit: 2, message: /trunc\.arrow is not a readable Arrow IPC file \(truncated or corrupt.*--verify/ },
  { id: 'inspect-missing-model', area: 'cli', input: '`xai inspect` of a missing model file', args: ['inspect', 'models/nope.onnx'], exit: 2, message: /xai inspect: model file not found: models\/nope\.onnx/ },

  // ---- models -------------------------------------------------------------------------------------------------
  { id: 'model-missing', area: 'model', input: 'model path that does not exist', files: { 'pipelines/p.yaml': pipe(loadModel('{ path: models/nope.onnx }')) }, args: validate, exit: 2, message: /p\.yaml:3:\d+: stages\.model\.params\.path: model file not found: models\/nope\.onnx/ },
  { id: 'model-garbage', area: 'model', input: 'random bytes as model.onnx', files: { 'm/bad.onnx': garbage, 'pipelines/p.yaml': pipe(loadModel('{ path: m/bad.onnx }')) }, args: validate, exit: 2, message: /p\.yaml:3:\d+: stages\.model\.params\.path: .*m\/bad\.onnx.*(not a valid ONNX|cannot parse|protobuf)/i },
  { id: 'model-empty', area: 'model', input: 'empty (0-byte) model.onnx', files: { 'm/empty.onnx': '', 'pipelines/p.yaml': pipe(loadModel('{ path: m/empty.onnx }')) }, args: validate, exit: 2, message: /p\.yaml:3:\d+: stages\.model\.params\.path: model file m\/empty\.onnx is empty \(0 bytes\)/ },
  { id: 'model-format-unknown', area: 'model', input: 'model.bin without `format:`', files: { 'm/model.bin': garbage, 'pipelines/p.yaml': pipe(loadModel('{ path: m/model.bin }')) }, args: validate, exit: 2, message: /stages\.model\.params\.format: cannot infer the model format of m\/model\.bin \(expected format: onnx \| tfjs-layers \| tfjs-graph\)/ },
  { id: 'model-json-garbage', area: 'model', input: 'TF.js model.json that is not JSON', files: { 'm/tf/model.json': '{ not json', 'pipelines/p.yaml': pipe(loadModel('{ path: m/tf/model.json }')) }, args: validate, exit: 2, message: /stages\.model\.params\.path: m\/tf\/model\.json is not a TF\.js model\.json/ },
  { id: 'model-size-mismatch', area: 'model', input: '`input.size: 64` for a model fixed at 128', files: modelCfg('path: models/demo/model.onnx\ninput: { size: 64 }\n'), args: validate, exit: 2, message: /cfg\/m\.yaml:2:\d+: .*input\.size: input size 64×64 does not match the model models\/demo\/model\.onnx, which takes 128×128 \[included from pipelines\/p\.yaml\] \(expected \[128, 128\]\)/ },
  { id: 'model-channels-mismatch', area: 'model', input: '`input.channels: 1` for an RGB model', files: modelCfg('path: models/demo/model.onnx\ninput: { channels: 1 }\n'), args: validate, exit: 2, message: /cfg\/m\.yaml:2:\d+: .*input\.channels: input channels 1 do not match the model models\/demo\/model\.onnx, which takes 3/ },
  { id: 'model-grey-mean3', area: 'model', input: '1-channel model with a 3-value mean', files: { ...modelCfg('path: assets/models/grey.onnx\ninput: { mean: [0.5, 0.5, 0.5] }\n') }, args: validate, exit: 2, message: /cfg\/m\.yaml:2:\d+: .*input\.mean: mean has 3 values but the model assets\/models\/grey\.onnx takes 1 channel \[included from pipelines\/p\.yaml\] \(expected \[m\] \(one value\)\)/ },
  { id: 'model-4-channels', area: 'model', input: 'model taking 4 input channels', files: modelCfg('path: assets/models/four.onnx\n'), args: validate, exit: 2, message: /cfg\/m\.yaml:1:\d+: .*path: the model assets\/models\/four\.onnx takes 4 input channels; images can be fed as 1 \(grey\) or 3 \(RGB\) channels/ },
  { id: 'model-flat-input', area: 'model', input: 'model whose input is [N, 10] (not an image)', files: modelCfg('path: assets/models/flat.onnx\n'), args: validate, exit: 2, message: /cfg\/m\.yaml:1:\d+: .*path: the model assets\/models\/flat\.onnx takes a 2-D input \[.*10\], expected an image batch \[N, C, H, W\]/ },
  { id: 'model-grey', area: 'model', input: '1-channel model: CAM and LIME on RGB images (accepted, luma)', files: { 'pipelines/p.yaml': pipe(IMGS, loadModel('{ path: assets/models/grey.onnx, input: { mean: [0.5], std: [0.25] } }'), cam('{ methods: [gradcam], layers: [feat] }'), lime('{ num_samples: 10, top_labels: 1 }')) }, args: run, exit: 0, message: /input 1×16×16 \(grey: RGB images reduced by luma\)[^]*✓ (cams|lime) done[^]*✓ (cams|lime) done/ },
  { id: 'model-alias-missing', area: 'model', input: 'layer alias naming no tensor', files: modelCfg('path: models/demo/model.onnx\nlayers: { top: layer7 }\n'), args: validate, exit: 2, message: /cfg\/m\.yaml:2:\d+: .*layers\.top: layer alias 'top' names no tensor 'layer7' in models\/demo\/model\.onnx \[included from pipelines\/p\.yaml\] \(did you mean 'layer1'\?\)/ },
  { id: 'model-output-type', area: 'model', input: '`output_type: logits` on a model ending in softmax (detected, warned)', files: { 'pipelines/p.yaml': pipe(loadModel('{ path: assets/models/softmax.onnx, output_type: logits }')) }, args: run, exit: 0, message: /output_type: logits \(set in the config; the probe's outputs look like probabilities\)/ },
  { id: 'model-config-unknown-key', area: 'model', input: 'model config key `inptu:`', files: modelCfg('path: models/demo/model.onnx\ninptu: { size: 128 }\n'), args: validate, exit: 2, message: /cfg\/m\.yaml:2:1: stages\.model\.params\.inptu: unknown key \[included from pipelines\/p\.yaml\] \(did you mean 'input'\?\)/ },

  // ---- labels files -------------------------------------------------------------------------------------------
  { id: 'labels-count', area: 'labels', input: 'labels file with 5 lines for 6 classes', files: { 'm/labels.txt': 'a\nb\nc\nd\ne\n', ...modelCfg('path: models/demo/model.onnx\nlabels: m/labels.txt\n') }, args: validate, exit: 2, message: /cfg\/m\.yaml:2:\d+: .*labels: labels file m\/labels\.txt has 5 labels but the model has 6 classes \[included from pipelines\/p\.yaml\] \(expected 6 lines\)/ },
  { id: 'labels-empty', area: 'labels', input: 'empty labels file', files: { 'm/labels.txt': '', ...modelCfg('path: models/demo/model.onnx\nlabels: m/labels.txt\n') }, args: validate, exit: 2, message: /labels: labels file m\/labels\.txt has 0 labels but the model has 6 classes/ },
  { id: 'labels-missing', area: 'labels', input: 'labels path that does not exist', files: { 'pipelines/p.yaml': pipe(loadModel('{ path: models/demo/model.onnx, labels: m/nope.txt }')) }, args: validate, exit: 2, message: /stages\.model\.params\.labels: labels file not found: m\/nope\.txt/ },

  // ---- images -------------------------------------------------------------------------------------------------
  { id: 'image-not-an-image', area: 'image', input: 'text file named x.png', files: { ...oddFolder('x.png', 'hello, not a png\n'), 'pipelines/p.yaml': oddPipe }, args: validate, exit: 2, message: /data\/odd\/x\.png: item 'x\.png': not a readable image .*\(expected a decodable image .* of at least 4×4 pixels\)/ },
  { id: 'image-empty-file', area: 'image', input: '0-byte x.jpg', files: { ...oddFolder('x.jpg', ''), 'pipelines/p.yaml': oddPipe }, args: run, exit: 2, message: /data\/odd\/x\.jpg: item 'x\.jpg': not a readable image/ },
  { id: 'image-garbage', area: 'image', input: 'random bytes named x.webp', files: { ...oddFolder('x.webp', garbage), 'pipelines/p.yaml': oddPipe }, args: validate, exit: 2, message: /data\/odd\/x\.webp: item 'x\.webp': not a readable image/ },
  { id: 'image-tiny', area: 'image', input: '3×3 PNG', files: { ...oddFolder('tiny.png', png(3, 3)), 'pipelines/p.yaml': oddPipe }, args: run, exit: 2, message: /data\/odd\/tiny\.png: item 'tiny\.png': image is 3×3, below the minimum 4×4 pixels/ },
  { id: 'image-1x1', area: 'image', input: '1×1 PNG', files: { ...oddFolder('dot.png', png(1, 1)), 'pipelines/p.yaml': oddPipe }, args: validate, exit: 2, message: /dot\.png: item 'dot\.png': image is 1×1, below the minimum 4×4 pixels/ },
  { id: 'image-truncated-header', area: 'image', input: 'JPEG cut after 300 bytes (header unreadable)', files: { ...oddFolder('cut.jpg', truncatedJpeg(300)), 'pipelines/p.yaml': oddPipe }, args: validate, exit: 2, message: /data\/odd\/cut\.jpg: item 'cut\.jpg': not a readable image \(Input file has corrupt header: VipsJpeg: premature end of JPEG image\)/ },
  { id: 'image-truncated-data', area: 'image', input: 'JPEG cut at 60 % (header intact): CAM records it in cams_errors', files: { ...oddFolder('cut.jpg', truncatedJpeg(0.6)), 'pipelines/p.yaml': pipe(folder('data/odd'), MODEL, cam('{ methods: [gradcam], layers: [layer3] }')) }, args: run, exit: 0, message: /cut\.jpg[^\n]*(cannot decode|premature|truncated|corrupt)/i },
  { id: 'image-small', area: 'image', input: '16×16 PNG (accepted, upscaled)', files: { ...oddFolder('small.png', png(16, 16)), 'pipelines/p.yaml': oddPipe }, args: run, exit: 0, message: /1 image smaller than 32×32 \(upscaled\): see the note column of imgs\.items/, note: runsNotes('small.png', /^small 16×16: upscaled$/) },
  { id: 'image-grey', area: 'image', input: 'grey PNG (accepted)', files: { ...oddFolder('grey.png', png(40, 40, 1)), 'pipelines/p.yaml': oddPipe }, args: run, exit: 0, message: /1 image in grey \(value copied to R, G, B\): see the note column/, note: runsNotes('grey.png', /^grey → RGB$/) },
  { id: 'image-grey-alpha', area: 'image', input: 'grey + alpha PNG (accepted)', files: { ...oddFolder('ga.png', png(40, 40, 2)), 'pipelines/p.yaml': oddPipe }, args: run, exit: 0, message: /1 image in grey .*, 1 image with an alpha channel \(dropped, colour kept\)/, note: runsNotes('ga.png', /^grey → RGB; alpha dropped$/) },
  { id: 'image-rgba', area: 'image', input: 'RGBA PNG (accepted, alpha dropped)', files: { ...oddFolder('rgba.png', png(40, 40, 4)), 'pipelines/p.yaml': oddPipe }, args: run, exit: 0, message: /1 image with an alpha channel \(dropped, colour kept\): see the note column/, note: runsNotes('rgba.png', /^alpha dropped$/) },
  { id: 'image-16bit', area: 'image', input: '16-bit RGB PNG (accepted)', files: { ...oddFolder('deep.png', png16), 'pipelines/p.yaml': oddPipe }, args: run, exit: 0, message: /1 image with more than 8 bits per channel \(reduced to 8\)/, note: runsNotes('deep.png', /^16-bit → 8-bit$/) },
  { id: 'image-exif', area: 'image', input: 'JPEG with EXIF orientation 6 (accepted, rotated)', files: { ...oddFolder('exif.jpg', exifJpeg), 'pipelines/p.yaml': oddPipe }, args: run, exit: 0, message: /1 image EXIF-rotated \(orientation applied\)/, note: runsNotes('exif.jpg', /^EXIF orientation 6 applied$/) },
  { id: 'image-cmyk', area: 'image', input: 'CMYK JPEG (accepted, converted)', files: { ...oddFolder('cmyk.jpg', cmykJpeg), 'pipelines/p.yaml': oddPipe }, args: run, exit: 0, message: /1 image in CMYK \(converted to sRGB\)/, note: runsNotes('cmyk.jpg', /^CMYK → sRGB$/) },
  { id: 'image-huge', area: 'image', input: '4100×4100 JPEG (accepted, noted)', files: { ...oddFolder('huge.jpg', hugeJpeg), 'pipelines/p.yaml': oddPipe }, args: run, exit: 0, message: /1 image above 16 megapixels \(downscaled\)/, note: runsNotes('huge.jpg', /^large 4100×4100: downscaled$/) },

  // ---- datasets -----------------------------------------------------------------------------------------------
  { id: 'dataset-empty-folder', area: 'dataset', input: 'image folder with no images', files: { 'data/empty/README': 'nothing here\n', 'pipelines/p.yaml': pipe(folder('data/empty'), MODEL, cam('{}')) }, args: run, exit: 2, message: /p\.yaml:3:\d+: stages\.imgs\.params\.root: no files match '\*\*\/\*\.\{jpg,.*\}' under .*data\/empty/ },
  { id: 'dataset-root-missing', area: 'dataset', input: 'dataset root that does not exist', files: { 'pipelines/p.yaml': pipe(folder('data/nope')) }, args: validate, exit: 2, message: /stages\.imgs\.params\.root: dataset root not found: .*data\/nope/ },
  { id: 'dataset-root-is-file', area: 'dataset', input: 'dataset root is a file', files: { 'data/f': 'x', 'pipelines/p.yaml': pipe(folder('data/f')) }, args: validate, exit: 2, message: /stages\.imgs\.params\.root: dataset root is not a directory: .*data\/f/ },
  { id: 'dataset-labels-csv-column', area: 'dataset', input: 'labels CSV without the label column', files: { 'data/odd/a.png': png(16, 16), 'data/odd/l.csv': 'image,klass\na.png,1\n', 'pipelines/p.yaml': pipe('  imgs: { uses: dataset, params: { root: data/odd, labels: { from: csv, csv: l.csv } } }\n') }, args: validate, exit: 2, message: /data\/odd\/l\.csv:1: header lacks column 'label' \(has image, klass\)/ },
  { id: 'dataset-class-list-empty', area: 'dataset', input: 'empty class list file', files: { 'data/odd/c1/a.png': png(16, 16), 'data/classes.txt': '', 'pipelines/p.yaml': pipe('  imgs: { uses: dataset, params: { root: data/odd, classes: data/classes.txt } }\n') }, args: validate, exit: 2, message: /stages\.imgs\.params\.classes: (class list .*classes\.txt is empty|cannot read class list)/ },
  { id: 'dataset-config-missing', area: 'dataset', input: '`config:` naming a missing dataset config', files: { 'pipelines/p.yaml': pipe('  imgs: { uses: dataset, params: { config: cfg/nope.yaml } }\n') }, args: validate, exit: 2, message: /cfg\/nope\.yaml.*config: cannot read dataset config \(ENOENT\)/ },
  { id: 'dataset-mask-missing', area: 'dataset', input: 'folder dataset with a required mask missing', files: { 'data/odd/a.png': png(16, 16), 'pipelines/p.yaml': pipe("  imgs: { uses: dataset, params: { root: data/odd, labels: { from: none }, masks: { pattern: 'masks/{path}.png', required: true } } }\n") }, args: validate, exit: 2, message: /stages\.imgs\.params\.masks\.pattern: ground-truth mask for 'a\.png' not found/ },
  { id: 'broden-no-category', area: 'dataset', input: 'Broden index.csv without category columns', files: { ...brodenFiles('image,split,ih,iw,sh,sw\na.png,train,16,16,16,16\n'), 'pipelines/p.yaml': pipe(broden('data/br')) }, args: validate, exit: 2, message: /data\/br\/index\.csv:1: no category columns \(the header has image, split, ih, iw, sh, sw\) \(expected image, split, ih, iw, sh, sw and one column per concept category/ },
  { id: 'broden-meta-column', area: 'dataset', input: 'Broden index.csv without the sh column', files: { ...brodenFiles('image,split,ih,iw,sw,color\na.png,train,16,16,16,a_color.png\n'), 'pipelines/p.yaml': pipe(broden('data/br')) }, args: validate, exit: 2, message: /data\/br\/index\.csv:1: header lacks column\(s\) sh/ },
  { id: 'broden-mask-missing', area: 'dataset', input: 'Broden row naming a mask file that is missing', files: { ...brodenFiles(`${brodenHead}a.png,train,16,16,16,16,a_color.png\n`), 'pipelines/p.yaml': pipe(broden('data/br')) }, args: run, exit: 2, message: /data\/br\/index\.csv:2: mask file of item 'a\.png' not found: .*a_color\.png/ },
  { id: 'broden-label-range', area: 'dataset', input: 'Broden image-level label 7 not in label.csv', files: { ...brodenFiles(`${brodenHead}a.png,train,16,16,16,16,7\n`), 'pipelines/p.yaml': pipe(broden('data/br')) }, args: validate, exit: 2, message: /data\/br\/index\.csv:2: column 'color': image-level label 7 is not in label\.csv/ },
  { id: 'broden-row-width', area: 'dataset', input: 'Broden index row with a missing field', files: { ...brodenFiles(`${brodenHead}a.png,train,16,16,16\n`), 'pipelines/p.yaml': pipe(broden('data/br')) }, args: validate, exit: 2, message: /data\/br\/index\.csv:2: row has 5 fields, expected 7 \(image, split, ih, iw, sh, sw, color\)/ },
  { id: 'broden-no-label-csv', area: 'dataset', input: 'Broden directory without label.csv', files: { 'data/br/index.csv': `${brodenHead}a.png,train,16,16,16,16,\n`, 'pipelines/p.yaml': pipe(broden('data/br')) }, args: validate, exit: 2, message: /data\/br\/label\.csv: cannot read Broden file \(ENOENT\)/ },
  { id: 'broden-bad-integer', area: 'dataset', input: 'Broden ih of -3', files: { ...brodenFiles(`${brodenHead}a.png,train,-3,16,16,16,\n`), 'pipelines/p.yaml': pipe(broden('data/br')) }, args: validate, exit: 2, message: /data\/br\/index\.csv:2: column 'ih' is '-3', expected an integer >= 1/ },

  // ---- filesystem ---------------------------------------------------------------------------------------------
  { id: 'fs-artifacts-is-file', area: 'filesystem', input: 'artifacts is a plain file', files: { artifacts: 'not a directory', 'pipelines/p.yaml': pipe(IMGS) }, args: run, exit: 2, message: /artifacts.*(a file is in the way|is a file, not a directory|a path component is a file)/ },
  { id: 'fs-out-proc', area: 'filesystem', input: 'make-dataset `--out /proc/nope`', args: ['make-dataset', 'shapes', '--out', '/proc/nope', '--count', '2'], exit: 2, message: /--out \/proc\/nope: cannot write under \/proc/ },
  { id: 'fs-out-under-file', area: 'filesystem', input: 'make-dataset `--out` below a file', files: { f: 'x' }, args: ['make-dataset', 'shapes', '--out', 'f/x', '--count', '2'], exit: 2, message: /f is a file, not a directory/ },
  {
    id: 'fs-artifacts-unwritable',
    area: 'filesystem',
    input: 'artifacts/ without write permission (skipped as root: chmod does not stop root)',
    files: { 'pipelines/p.yaml': pipe(IMGS) },
    args: run,
    exit: 2,
    message: /artifacts.*(permission denied|EACCES|not writable)/i,
    setup: (dir) => {
      if (process.getuid?.() === 0) return 'running as root: chmod 0555 does not stop root from writing';
      mkdirSync(`${dir}/artifacts`);
      chmodSync(`${dir}/artifacts`, 0o555);
      return undefined;
    },
  },
  {
    id: 'fs-disk-full',
    area: 'filesystem',
    input: 'make-dataset into a full 64 KiB tmpfs (skipped where tmpfs cannot be mounted)',
    args: ['make-dataset', 'shapes', '--out', 'full/d', '--count', '200'],
    exit: 1,
    message: /full\/d: no space left on the device \(ENOSPC\)/,
    setup: (dir) => {
      mkdirSync(`${dir}/full`);
      const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', `${dir}/full`], { encoding: 'utf8' });
      return r.status === 0 ? undefined : `cannot mount a tmpfs here (${(r.stderr || r.error?.message || 'mount failed').trim().split('\n')[0]})`;
    },
    teardown: (dir) => void spawnSync('umount', [`${dir}/full`]),
  },
];
