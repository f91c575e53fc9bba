// TF.js model IO from/to disk without tfjs-node and without the network: model.json + weight shards.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type * as tfTypes from '@tensorflow/tfjs';

type IO = typeof tfTypes.io;
type Artifacts = tfTypes.io.ModelArtifacts;

interface ModelJson {
  modelTopology: object;
  weightsManifest: { paths: string[]; weights: tfTypes.io.WeightsManifestEntry[] }[];
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  signature?: object;
  userDefinedMetadata?: Record<string, unknown>;
  modelInitializer?: object;
  trainingConfig?: tfTypes.io.TrainingConfig;
}

/** An IOHandler loading `model.json` and its weight shards from disk. Errors name the file. */
export function fileLoadHandler(modelJsonPath: string): tfTypes.io.IOHandler {
  return {
    async load(): Promise<Artifacts> {
      let j: ModelJson;
      try {
        j = JSON.parse(await readFile(modelJsonPath, 'utf8'));
      } catch (e) {
        throw new Error(`${modelJsonPath}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : `not a valid model.json (${(e as Error).message})`}`);
      }
      if (!j || typeof j !== 'object' || !j.modelTopology || !Array.isArray(j.weightsManifest)) {
        throw new Error(`${modelJsonPath}: not a TF.js model.json (needs modelTopology and weightsManifest)`);
      }
      const specs: tfTypes.io.WeightsManifestEntry[] = [];
      const buffers: Uint8Array[] = [];
      for (const group of j.weightsManifest) {
        for (const p of group.paths) {
          const f = join(dirname(modelJsonPath), p);
          try {
            buffers.push(await readFile(f));
          } catch {
            throw new Error(`${modelJsonPath}: weight shard ${p} not found`);
          }
        }
        specs.push(...group.weights);
      }
      const total = buffers.reduce((a, b) => a + b.byteLength, 0);
      const data = new Uint8Array(total);
      let o = 0;
      for (const b of buffers) {
        data.set(b, o);
        o += b.byteLength;
      }
      return {
        modelTopology: j.modelTopology,
        weightSpecs: specs,
        weightData: data.buffer,
        format: j.format,
        generatedBy: j.generatedBy,
        convertedBy: j.convertedBy,
        signature: j.signature,
        userDefinedMetadata: j.userDefinedMetadata as Artifacts["userDefinedMetadata"],
        modelInitializer: j.modelInitializer,
        trainingConfig: j.trainingConfig,
      };
    },
  };
}

/** An IOHandler saving `model.json` + `weights.bin` into `dir`. */
export function fileSaveHandler(io: IO, dir: string): tfTypes.io.IOHandler {
  return io.withSaveHandler(async (a: Artifacts) => {
    await mkdir(dir, { recursive: true });
    const wd = a.weightData;
    const parts: ArrayBuffer[] = wd === undefined ? [] : Array.isArray(wd) ? wd : [wd];
    const bytes = Buffer.concat(parts.map((p) => new Uint8Array(p)));
    await writeFile(join(dir, 'weights.bin'), bytes);
    const json: ModelJson = {
      modelTopology: a.modelTopology as object,
      weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs ?? [] }],
      format: a.format ?? 'layers-model',
      generatedBy: a.generatedBy,
      convertedBy: a.convertedBy ?? null,
    };
    await writeFile(join(dir, 'model.json'), JSON.stringify(json));
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: bytes.byteLength } };
  });
}
