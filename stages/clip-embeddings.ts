// Stage `clip-embeddings` (CLIP-Dissect, step 1): embeds a probe dataset with a CLIP image encoder (an ONNX file
// on the user's disk, opened by an upstream load-model stage whose config gives its input size and normalisation;
// its output is the embedding) and loads the concept vocabulary's precomputed text embeddings (.npy + concept list,
// .arrow or .csv: src/explain/clipdissect/concepts.ts) or computes them with a CLIP text-encoder ONNX and CLIP's BPE
// merges file (src/explain/clipdissect/text.ts). Both L2-normalised per row as CLIP-Dissect
// (utils.get_similarity_from_activations). Per-image resumable through ctx.map.
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { Json, StageDef } from '../src/engine/types.ts';
import { ConfigError } from '../src/engine/errors.ts';

export interface ClipEmbeddingsParams {
  text_embeddings?: string;
  text_encoder?: string;
  tokenizer?: string;
  context_length: number;
  threads: number;
  concepts?: string;
  batchSize: number;
  limit?: number;
}

export default {
  kind: 'clip-embeddings',
  version: '1',
  description: 'CLIP-Dissect: probe-image embeddings (CLIP image encoder ONNX) and concept text embeddings, L2-normalised',
  params: {
    type: 'object',
    properties: {
      text_embeddings: { type: 'string', minLength: 1, description: 'concept embeddings: .npy (concepts × dim, with `concepts`), .arrow (concept, embedding[, category]) or .csv (concept[,category],e0,…)' },
      text_encoder: { type: 'string', minLength: 1, description: 'instead of text_embeddings: a CLIP text encoder ONNX (int64 token ids N × context_length → N × dim), with tokenizer and concepts' },
      tokenizer: { type: 'string', minLength: 1, description: 'CLIP’s BPE merges file (bpe_simple_vocab_16e6.txt.gz, or decompressed), for text_encoder' },
      context_length: { type: 'integer', minimum: 2, default: 77, description: 'token ids per concept (clip.tokenize’s context_length)' },
      threads: { type: 'integer', minimum: 1, maximum: 64, default: 2, description: 'onnxruntime threads for the text encoder' },
      concepts: { type: 'string', minLength: 1, description: 'concept list, one per line (CLIP-Dissect’s concept_set, e.g. imagenet_labels.txt); required with .npy and with text_encoder' },
      batchSize: { type: 'integer', minimum: 1, maximum: 1024, default: 32, description: 'images per forward' },
      limit: { type: 'integer', minimum: 1, description: 'only the first N images of the dataset' },
    },
  },
  inputs: {
    encoder: { description: 'a load-model stage holding the CLIP image encoder (its output is the image embedding)', kinds: ['load-model'] },
    dataset: { description: 'the probe dataset (the one collect-activations runs over)', kinds: ['dataset', 'synth-dataset'] },
  },
  outputs: {
    images: { description: 'image (dataset index), id, embedding (L2-normalised)', type: 'table' },
    concepts: { description: 'concept (index), name, category, embedding (L2-normalised)', type: 'table' },
  },
  keyExclude: ['threads'],
  reads(params) {
    return [params.text_embeddings, params.text_encoder, params.tokenizer, params.concepts].filter((f): f is string => f !== undefined);
  },
  check(params, ctx) {
    const at = (f: string) => `stages.${ctx.stageId}.params.${f}`;
    for (const key of ['text_embeddings', 'text_encoder', 'tokenizer', 'concepts'] as const) {
      const f = params[key];
      if (f !== undefined && !existsSync(isAbsolute(f) ? f : resolve(ctx.projectRoot, f))) throw new ConfigError(`file not found: ${f}`, { file: ctx.where, path: at(key) });
    }
    if ((params.text_embeddings === undefined) === (params.text_encoder === undefined)) {
      throw new ConfigError('give the concept embeddings one way', { file: ctx.where, path: at('text_embeddings'), expected: 'text_embeddings (a file), or text_encoder + tokenizer + concepts' });
    }
    if (params.text_encoder !== undefined) {
      if (!params.tokenizer) throw new ConfigError('text_encoder needs CLIP’s BPE merges file', { file: ctx.where, path: at('tokenizer'), expected: 'bpe_simple_vocab_16e6.txt.gz from your CLIP install' });
      if (!params.concepts) throw new ConfigError('text_encoder needs the concept list', { file: ctx.where, path: at('concepts'), expected: 'a text file, one concept per line' });
      return;
    }
    const te = params.text_embeddings!;
    if (!/\.(npy|arrow|csv)$/i.test(te)) throw new ConfigError(`unknown embedding file type: ${te}`, { file: ctx.where, path: at('text_embeddings'), expected: '.npy, .arrow or .csv' });
    if (/\.npy$/i.test(te) && !params.concepts) throw new ConfigError('a .npy embedding file needs its concept list', { file: ctx.where, path: at('concepts'), expected: 'a text file, one concept per line, in the rows’ order' });
  },
  async run(ctx) {
    const { Field, Float32, Int32, Schema, Utf8 } = await import('apache-arrow');
    const { tensorField } = await import('../src/arrow/conventions.ts');
    const { tableFromRows } = await import('../src/arrow/io.ts');
    const { openUpstreamModel } = await import('../src/model/index.ts');
    const { openDataset, refFromMeta } = await import('../src/data/index.ts');
    const { checkedEmbeddings, readConceptEmbeddings, readConceptList } = await import('../src/explain/clipdissect/concepts.ts');
    const { encodeConcepts } = await import('../src/explain/clipdissect/text.ts');
    const p = ctx.params;

    const shown = (f: string) => [p.text_embeddings, p.text_encoder, p.tokenizer, p.concepts].find((x) => x !== undefined && ctx.resolve(x) === f) ?? f;
    const text = p.text_embeddings
      ? readConceptEmbeddings(ctx.resolve(p.text_embeddings), p.concepts ? ctx.resolve(p.concepts) : undefined, shown)
      : await (async () => {
          // CLIP-Dissect tokenises each word as is (clip.tokenize(["{}".format(word) …]))
          const concepts = readConceptList(ctx.resolve(p.concepts!), p.concepts!);
          const t = await encodeConcepts(ctx.resolve(p.text_encoder!), ctx.resolve(p.tokenizer!), concepts, { contextLength: p.context_length, threads: p.threads, shown });
          return checkedEmbeddings({ concepts, categories: concepts.map(() => ''), ...t }, p.text_encoder!);
        })();
    const source = p.text_embeddings ?? p.text_encoder!;
    const model = await openUpstreamModel(ctx.inputs.encoder, ctx.projectRoot);
    const D = model.info.numClasses;
    if (D !== text.dim) {
      throw new ConfigError(`the image encoder '${model.info.id}' outputs ${D}-d embeddings but ${source} holds ${text.dim}-d ones`, { path: `stages.${ctx.stageId}.params.${p.text_embeddings ? 'text_embeddings' : 'text_encoder'}` });
    }
    const ds = await openDataset(refFromMeta(ctx.inputs.dataset.meta, ctx.inputs.dataset.stageId), { baseDir: ctx.projectRoot });
    const items = p.limit ? ds.items.slice(0, p.limit) : ds.items;
    if (items.length === 0) throw new ConfigError(`dataset ${ds.root} has no items`);
    ctx.log.info(`${items.length} probe images → ${D}-d embeddings; ${text.concepts.length} concepts`);

    const emb = (of: string) => tensorField('embedding', new Float32(), [D], ['dim'], { description: `L2-normalised CLIP embedding of the ${of}` });
    const schema = new Schema([new Field('image', new Int32(), false), new Field('id', new Utf8(), false), emb('image')]);
    const item = await import('../src/explain/clipdissect/embed-item.ts');
    const res = await ctx.map({
      table: 'images',
      items,
      id: (it) => it.id,
      schema,
      batchSize: p.batchSize,
      chunkSize: p.batchSize * 2,
      worker: { module: item, factory: 'createEmbed', config: { model: ctx.inputs.encoder.meta.config as unknown as import('../src/model/index.ts').ModelConfig, dim: D } },
    });
    if (res.errors.length) ctx.log.warn(`${res.errors.length} image(s) failed and are left out (table images_errors); first: ${res.errors[0].item}: ${res.errors[0].message}`);

    const cschema = new Schema([
      new Field('concept', new Int32(), false),
      new Field('name', new Utf8(), false),
      new Field('category', new Utf8(), false),
      emb('concept'),
    ]);
    await ctx.out.table(
      'concepts',
      tableFromRows(text.concepts.map((name, c) => ({ concept: c, name, category: text.categories[c], embedding: text.embedding.subarray(c * D, (c + 1) * D) })), cschema),
    );
    ctx.out.meta('clip', { dim: D, images: items.length - res.errors.length, concepts: text.concepts.length, encoder: model.info.id } as Json);
    ctx.out.meta('dataset', ctx.inputs.dataset.meta.dataset as Json);
    ctx.out.meta('backend', model.info.backend);
  },
} satisfies StageDef<ClipEmbeddingsParams>;
