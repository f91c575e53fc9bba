// The streamed passes of quantile-thresholds and label-units over a collect-activations output, as ctx.map items:
// its stored parts (one item per part file set), or — disk-light dissection, collect-activations `maps: false` — the
// maps recomputed with the model instead of read. Recomputed batches are collect-activations' own (the listed images
// in model batches of its `batchSize`, aligned to multiples of it in dataset order; a batch that fails is redone image
// by image, as ctx.map redoes a failed batch) and each comes out as the Parts readPart gives for a stored part
// (store.ts batchPart: float16 rounded as stored, maxima of the stored values), so thresholds and labels are
// bit-identical to the stored-maps path. The next batch's images are decoded while the current one runs.
import type { DatasetItem } from '../../data/types.ts';
import type { UpstreamOutputs } from '../../engine/types.ts';
import type { Model, Tensor } from '../../model/types.ts';
import { batchPart, partPath, readPart, type FeatureSource, type LayerEntry, type Part } from './store.ts';

/** One item of a pass: the images of a stored part (with its files) or of a model batch to recompute. */
export interface PassItem {
  id: string;
  images: number[];
  /** Stored: per layer the part file. */
  paths?: string[];
}

/** The items of one pass over the maps of `layers`; `order`: the listed images (collect-activations' images table). */
export function passItems(up: UpstreamOutputs, source: FeatureSource, order: readonly number[]): PassItem[] {
  if (source.index) {
    let c0 = 0;
    return source.index.parts.map((part) => ({ id: part.file, images: order.slice(c0, (c0 += part.count)), paths: source.index.layers.map((l) => partPath(up, l, part)) }));
  }
  const bs = source.recompute.batchSize;
  const out: PassItem[] = [];
  for (const i of order) {
    const last = out[out.length - 1];
    if (last && Math.floor(last.images[0] / bs) === Math.floor(i / bs)) last.images.push(i);
    else out.push({ id: `b${i}`, images: [i] });
  }
  return out;
}

/** What one item gives: per set (a model batch, or one image of a redone batch) its Parts per layer; failed images. */
export interface ItemMaps {
  /** Stored parts: the files (per layer), for readers that read them themselves (shared memory). */
  paths?: string[];
  sets: Part[][];
  failed: { image: number; message: string }[];
}

export class PassReader {
  private ahead: { first: number; p: Promise<Tensor> } | undefined;
  constructor(
    private readonly source: FeatureSource,
    private readonly recompute?: { model: Model; items: readonly DatasetItem[] },
  ) {}

  get layers(): LayerEntry[] {
    return this.source.index?.layers ?? this.source.recompute!.layers;
  }

  /** The maps of an item; `next` (recompute): the following item, whose images are decoded meanwhile. `read`: false leaves stored parts unread (paths only). */
  async get(item: PassItem, next?: PassItem, read = true): Promise<ItemMaps> {
    if (item.paths) {
      const sets = read ? [item.paths.map((path, li) => readPart(path, this.layers[li].units, this.layers[li].height, this.layers[li].width))] : [];
      return { paths: item.paths, sets, failed: [] };
    }
    const { model, items } = this.recompute!;
    const { loadImages } = await import('../../data/index.ts');
    const load = (idx: number[]) => {
      const p = loadImages(idx.map((i) => items[i]), model.info.input);
      p.catch(() => undefined); // surfaces when the batch is used
      return p;
    };
    const idx = item.images;
    const mine = this.ahead?.first === idx[0] ? this.ahead.p : load(idx);
    this.ahead = next ? { first: next.images[0], p: load(next.images) } : undefined;
    try {
      return { sets: [await this.forward(idx, mine)], failed: [] };
    } catch {
      // one image at a time, as ctx.map redoes a failed batch (each good image its own part)
      const out: ItemMaps = { sets: [], failed: [] };
      for (const i of idx) {
        try {
          out.sets.push(await this.forward([i], load([i])));
        } catch (e) {
          out.failed.push({ image: i, message: e instanceof Error ? e.message : String(e) });
        }
      }
      return out;
    }
  }

  private async forward(idx: number[], batch: Promise<Tensor>): Promise<Part[]> {
    const { model } = this.recompute!;
    const src = this.source.recompute!;
    const acts = await model.activations(await batch, src.layers.map((l) => l.layer));
    return src.layers.map((l) => {
      const a = acts[l.layer];
      if (a.shape[0] !== idx.length || a.shape[1] !== l.units || a.shape[2] !== l.height || a.shape[3] !== l.width) {
        throw new Error(`layer '${l.layer}' gave shape [${a.shape.join(', ')}], expected [${idx.length}, ${l.units}, ${l.height}, ${l.width}]`);
      }
      return batchPart(Int32Array.from(idx), a.data, l.units, l.height, l.width, src.dtype);
    });
  }
}

/** A PassReader for a collect-activations input: opens the model (and the dataset's items) when the maps are recomputed. */
export async function openPassReader(up: UpstreamOutputs, source: FeatureSource, items: readonly DatasetItem[], root: string): Promise<PassReader> {
  if (source.index) return new PassReader(source);
  const { openUpstreamModel } = await import('../../model/index.ts');
  const model = await openUpstreamModel({ stageId: up.stageId, meta: { config: up.meta.model } }, root);
  return new PassReader(source, { model, items });
}
