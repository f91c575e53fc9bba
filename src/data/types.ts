// Dataset types shared by the readers, the stages and the downstream consumers (CAM, LIME, dissection).

/** First N items, or a seeded uniform sample of N items (kept in dataset order). */
export interface SubsetSpec {
  first?: number;
  sample?: number;
  seed?: number;
}

/** Where an image-folder dataset's class labels come from. */
export interface LabelSpec {
  /** 'folder': the image's parent folder name (ImageNet synset folders `n02018207_American_coot` understood);
   *  'csv': a CSV file; 'none': unlabelled. Default 'folder'. */
  from?: 'folder' | 'csv' | 'none';
  /** CSV file (relative to the dataset root) for from: csv. */
  csv?: string;
  /** CSV column holding the image path relative to root (default 'image'). */
  imageColumn?: string;
  /** CSV column holding the label: a class index, a class name or a synset id (default 'label'). */
  labelColumn?: string;
}

/** Ground-truth object masks located by a path pattern relative to the root. */
export interface MaskSpec {
  /**
   * Pattern with placeholders: {path} image path relative to root without extension, {dir} its folder ('' at the
   * root), {name} file name without extension, {ext} extension without dot. E.g. `masks/{path}.png`.
   */
  pattern: string;
  /** Missing mask files are an error (default false: the item simply has no mask). */
  required?: boolean;
}

export interface FolderDatasetRef {
  kind: 'folder';
  /** Dataset root (absolute, or relative to the base directory given to openDataset). */
  root: string;
  name?: string;
  /** fast-glob pattern(s) relative to root (default: common image extensions, recursively). */
  images?: string | string[];
  labels?: LabelSpec;
  /**
   * Class list file (relative to root or absolute): one class per line, `n01440764 tench, Tinca tinca`, `n01440764`
   * or `tench`; its line order gives the class indices (e.g. a model's output order). Default: the sorted distinct
   * labels found.
   */
  classes?: string;
  masks?: MaskSpec;
  subset?: SubsetSpec;
  /** Absolute path of a JSON item listing written by the `dataset` stage (skips the glob when present). */
  listing?: string;
}

export interface BrodenDatasetRef {
  kind: 'broden';
  root: string;
  name?: string;
  /** Categories to expose (default: all in the index). */
  categories?: string[];
  /** Keep only rows of this split (e.g. 'train', 'val'). */
  split?: string;
  subset?: SubsetSpec;
}

/** JSON-serialisable reference to a dataset; stages record it as `meta.dataset`. */
export type DatasetRef = FolderDatasetRef | BrodenDatasetRef;

export interface DatasetItem {
  /** Stable id: the image path relative to the dataset root (images/ for Broden), posix separators. */
  id: string;
  /** Absolute image path. */
  path: string;
  /** Class index into the dataset's classNames, when labelled. */
  label?: number;
  /** Human-readable class name (for synset folders, the text after the id with `_` → space). */
  labelName?: string;
  /** ImageNet synset id (n########) when the label came from one. */
  synset?: string;
  /** Absolute path of the ground-truth object mask (non-zero = object), when known. */
  maskPath?: string;
  split?: string;
  /** What loading does to the image beyond resizing (grey → RGB, alpha dropped, …; src/image/io.ts imageNotes). */
  note?: string;
}

/** A Broden concept: one label of one category. */
export interface Concept {
  /** Global label number (label.csv `number`; the value stored in mask pixels). */
  id: number;
  name: string;
  /** Primary category (highest coverage among the categories the label appears in, as NetDissect). */
  category: string;
  /** All categories the label appears in. */
  categories: string[];
  /** Number of images carrying the label. */
  frequency: number;
  /** Pixel coverage in units of whole images. */
  coverage: number;
  /** Coverage per category the label appears in (c_<category>.csv; label.csv's counts when that file is absent). */
  categoryCoverage?: Record<string, number>;
}

export interface BrodenItem extends DatasetItem {
  split: string;
  /** Image size (index.csv ih, iw) and mask size (sh, sw). */
  ih: number;
  iw: number;
  sh: number;
  sw: number;
  /** Per category: absolute paths of mask PNGs (several per category allowed). */
  masks: Record<string, string[]>;
  /** Per category: image-level label numbers (scene, texture). */
  imageLabels: Record<string, number[]>;
  /** 1-based line in index.csv. */
  line: number;
}

/** Labels of one Broden item at mask resolution. */
export interface ItemLabels {
  item: BrodenItem;
  height: number;
  width: number;
  /** Per category, one label map (global label numbers, 0 = unlabelled) per mask file, row-major height×width. */
  pixel: Record<string, Uint16Array[]>;
  /** Per category, image-level labels covering every pixel. */
  image: Record<string, number[]>;
  /** The item's image as the model's normalised CHW float32 (only when streamLabels was given `image`). */
  pixels?: Float32Array;
}

export interface Dataset {
  readonly ref: DatasetRef;
  readonly kind: 'folder' | 'broden';
  readonly name: string;
  /** Absolute root. */
  readonly root: string;
  /** Items in a deterministic order. */
  readonly items: readonly DatasetItem[];
  /** Class names by class index (empty when unlabelled). */
  readonly classNames: readonly string[];
}

export interface BrodenDataset extends Dataset {
  readonly kind: 'broden';
  readonly items: readonly BrodenItem[];
  readonly categories: readonly string[];
  readonly concepts: readonly Concept[];
  /** Concept by global label number. */
  concept(id: number): Concept | undefined;
  /** Name of label 0 (label.csv's row 0; '' when the file has none, as NetDissect-Lite's dense label array). */
  readonly unlabelledName?: string;
  /** Mask resolution (from the first item; each item carries its own sh, sw). */
  readonly maskSize: { height: number; width: number };
  /** Reads one item's label maps (throws an ItemError naming the file when a mask is bad). */
  readLabels(item: BrodenItem, categories?: readonly string[]): Promise<ItemLabels>;
  /**
   * Streams items with their labels in order, `prefetch` items read ahead (nothing else is held). With `image`, each
   * yielded value also carries the image loaded for that input spec (`pixels`).
   */
  streamLabels(opts?: {
    items?: readonly BrodenItem[];
    categories?: readonly string[];
    prefetch?: number;
    image?: { spec: import('../model/types.ts').InputSpec; options?: import('../image/io.ts').LoadOptions };
  }): AsyncIterable<ItemLabels>;
}
