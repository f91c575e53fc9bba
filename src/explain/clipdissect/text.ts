// Concept embeddings from a CLIP text encoder exported to ONNX (input: token ids int64 N × context length, as
// clip.tokenize gives them; output: N × dim) and CLIP's BPE merges file (bpe_simple_vocab_16e6.txt.gz or
// decompressed), both from the user's disk — CLIP-Dissect's save_clip_text_features on onnxruntime.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { ClipTokenizer } from '../../algo/clipdissect/index.ts';
import { ConfigError } from '../../engine/errors.ts';
import { loadOrt, sessionOptions } from '../../model/onnx/runtime.ts';

export async function encodeConcepts(
  encoderFile: string,
  mergesFile: string,
  concepts: readonly string[],
  o: { contextLength: number; threads: number; batch?: number; shown: (p: string) => string },
): Promise<{ embedding: Float32Array; dim: number }> {
  const raw = readFileSync(mergesFile);
  const text = (raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw).toString('utf8');
  const tok = new ClipTokenizer(text);
  let ids: BigInt64Array;
  try {
    ids = tok.tokenize(concepts, o.contextLength);
  } catch (e) {
    throw new ConfigError(`${(e as Error).message} (a concept of the list tokenised with ${o.shown(mergesFile)})`);
  }
  const ort = await loadOrt();
  let session;
  try {
    session = await ort.InferenceSession.create(readFileSync(encoderFile), sessionOptions(o.threads));
  } catch (e) {
    throw new ConfigError(`cannot open the text encoder ${o.shown(encoderFile)}: ${(e as Error).message}`);
  }
  const batch = o.batch ?? 256;
  const parts: Float32Array[] = [];
  let dim = -1;
  for (let from = 0; from < concepts.length; from += batch) {
    const n = Math.min(batch, concepts.length - from);
    const input = new ort.Tensor('int64', ids.subarray(from * o.contextLength, (from + n) * o.contextLength), [n, o.contextLength]);
    const out = (await session.run({ [session.inputNames[0]]: input }))[session.outputNames[0]];
    if (out.dims.length !== 2 || out.dims[0] !== n) throw new ConfigError(`the text encoder ${o.shown(encoderFile)} gave shape [${out.dims.join(', ')}]`, { expected: `[${n}, dim]` });
    dim = Number(out.dims[1]);
    parts.push(Float32Array.from(out.data as Float32Array));
  }
  await session.release();
  const embedding = new Float32Array(concepts.length * dim);
  let off = 0;
  for (const p of parts) {
    embedding.set(p, off);
    off += p.length;
  }
  return { embedding, dim };
}
