// ONNX → TF.js layers model, with optional renaming of the ONNX values first.
// Usage: node --import tsx scripts/export-tfjs.ts --onnx IN.onnx --out TFJS_DIR
//          [--rename-scopes] [--rename OLD=NEW ...] [--write-onnx OUT.onnx]
//  --rename-scopes  name values after PyTorch scopes (`/layer1/conv1/Conv_output_0` → `layer1.conv1`)
//  --rename A=B     rename value A to B (applied after --rename-scopes, so A may be a scope name)
//  --write-onnx     write the renamed ONNX model there (may equal IN)
import { readFile, writeFile } from 'node:fs/promises';
import { decodeOnnx, encodeOnnx, renameValues, scopeRenames } from '../src/model/convert/onnx-graph.ts';
import { convertOnnxFileToTfjs } from '../src/model/convert/onnx-to-tfjs.ts';

function usage(msg: string): never {
  console.error(`export-tfjs: ${msg}\nusage: export-tfjs --onnx IN.onnx --out DIR [--rename-scopes] [--rename OLD=NEW ...] [--write-onnx OUT.onnx]`);
  process.exit(2);
}

const argv = process.argv.slice(2);
let onnxIn = '';
let out = '';
let writeOnnx = '';
let scopes = false;
const renames: Array<[string, string]> = [];
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const next = () => argv[++i] ?? usage(`${a} needs a value`);
  if (a === '--onnx') onnxIn = next();
  else if (a === '--out') out = next();
  else if (a === '--write-onnx') writeOnnx = next();
  else if (a === '--rename-scopes') scopes = true;
  else if (a === '--rename') {
    const v = next();
    const eq = v.indexOf('=');
    if (eq <= 0) usage(`--rename expects OLD=NEW, got '${v}'`);
    renames.push([v.slice(0, eq), v.slice(eq + 1)]);
  } else usage(`unknown argument '${a}'`);
}
if (!onnxIn || !out) usage('--onnx and --out are required');

let src = onnxIn;
if (scopes || renames.length || writeOnnx) {
  if (!writeOnnx) usage('--rename/--rename-scopes need --write-onnx (the tfjs layer names follow the renamed ONNX)');
  const m = decodeOnnx(await readFile(onnxIn), onnxIn);
  if (scopes) renameValues(m, scopeRenames(m));
  if (renames.length) renameValues(m, Object.fromEntries(renames));
  await writeFile(writeOnnx, encodeOnnx(m));
  src = writeOnnx;
  console.log(`wrote ${writeOnnx}`);
}
const r = await convertOnnxFileToTfjs(src, out);
console.log(`wrote ${r.modelJson} + ${r.weightsFile} (${r.bytes} bytes, ${Object.keys(r.layerNames).length} layers)`);
