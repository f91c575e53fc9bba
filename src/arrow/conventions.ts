// The Arrow conventions every table the product writes follows, so other tools read the tables as they are
// (artifacts/README.md, "Reading the tables elsewhere"):
// - tensors (images, maps, masks, activation maps) are Arrow's canonical extension type `arrow.fixed_shape_tensor`:
//   a FixedSizeList<T>[∏shape] field whose metadata holds ARROW:extension:name and ARROW:extension:metadata
//   {"shape": [...], "dim_names": [...]} (row-major), so pyarrow hands back a FixedShapeTensorArray;
// - the child field of every list type is named `item` (Arrow's default);
// - schema metadata `xai.stage`, `xai.kind`, `xai.key`, `xai.pipeline`, `xai.version`, `xai.table`, `xai.params`
//   (the resolved params, JSON), and per field `xai.description` (what it holds, with units).
// The engine applies the schema-level part to every table at write time (conform); stages declare tensor fields with
// tensorField and may describe their columns; common column names are described once here.
import { DataType, Field, FixedSizeList, Float64, Int32, List, RecordBatch, Schema, Table, Type } from 'apache-arrow';

export const TENSOR_EXTENSION = 'arrow.fixed_shape_tensor';
export const DESCRIPTION_KEY = 'xai.description';

/** A fixed-shape tensor column: FixedSizeList<valueType>[∏shape] tagged as arrow.fixed_shape_tensor. */
export function tensorField(name: string, valueType: DataType, shape: readonly number[], dimNames: readonly string[], opts: { nullable?: boolean; description?: string } = {}): Field {
  if (shape.length !== dimNames.length) throw new Error(`tensorField '${name}': ${shape.length} dims but ${dimNames.length} names`);
  const size = shape.reduce((a, b) => a * b, 1);
  const meta = new Map([
    ['ARROW:extension:name', TENSOR_EXTENSION],
    ['ARROW:extension:metadata', JSON.stringify({ shape, dim_names: dimNames })],
  ]);
  if (opts.description) meta.set(DESCRIPTION_KEY, opts.description);
  return new Field(name, new FixedSizeList(size, new Field('item', valueType, false)), opts.nullable ?? false, meta);
}

/** The shape and dim names of a tensor field, or undefined for other fields. */
export function tensorShape(f: Field): { shape: number[]; dim_names: string[] } | undefined {
  if (f.metadata.get('ARROW:extension:name') !== TENSOR_EXTENSION) return undefined;
  try {
    return JSON.parse(f.metadata.get('ARROW:extension:metadata') ?? '') as { shape: number[]; dim_names: string[] };
  } catch {
    return undefined;
  }
}

/** A list type whose child is named `item`. */
export function listOf(valueType: DataType, nullable = false): List {
  return new List(new Field('item', valueType, nullable));
}

/** The same type with every list child named `item` (the data layout does not depend on names). */
function conformType(t: DataType): DataType {
  if (t.typeId === Type.FixedSizeList) {
    const c = (t as FixedSizeList).children[0];
    return new FixedSizeList((t as FixedSizeList).listSize, new Field('item', conformType(c.type), c.nullable, c.metadata));
  }
  if (t.typeId === Type.List) {
    const c = (t as List).children[0];
    return new List(new Field('item', conformType(c.type), c.nullable, c.metadata));
  }
  return t;
}

/** What the engine knows about the table it writes. */
export interface TableMeta {
  stage: string;
  kind: string;
  key: string;
  pipeline: string;
  /** The xai-pipeline version. */
  version: string;
  table: string;
  params: unknown;
  /** Column descriptions the stage gave (override the common ones). */
  columns?: Record<string, string>;
}

/**
 * The table with the conventions applied: list children named `item`, a description on every field that has one
 * (the stage's, else the common dictionary's), and the xai.* schema metadata. Batches are re-wrapped, not copied.
 */
export function conform(table: Table, m: TableMeta): Table {
  const schema = conformSchema(table.schema, m);
  return table.batches.length ? new Table(table.batches.map((b) => new RecordBatch(schema, b.data))) : new Table(schema);
}

/** The schema part of conform (for a table written batch by batch: wrap each batch's data in it). */
export function conformSchema(schema: Schema, m: TableMeta): Schema {
  const fields = schema.fields.map((f) => {
    const meta = new Map(f.metadata);
    const d = m.columns?.[f.name] ?? meta.get(DESCRIPTION_KEY) ?? describeColumn(f.name);
    if (d) meta.set(DESCRIPTION_KEY, d);
    return new Field(f.name, conformType(f.type), f.nullable, meta);
  });
  const meta = new Map(schema.metadata);
  meta.set('xai.stage', m.stage);
  meta.set('xai.kind', m.kind);
  meta.set('xai.key', m.key);
  meta.set('xai.pipeline', m.pipeline);
  meta.set('xai.version', m.version);
  meta.set('xai.table', m.table);
  meta.set('xai.params', JSON.stringify(m.params ?? null));
  return new Schema(fields, meta);
}

/** The common description of a column name (dictionary, then name patterns), or undefined. */
export function describeColumn(name: string): string | undefined {
  if (Object.hasOwn(COLUMN_DESCRIPTIONS, name)) return COLUMN_DESCRIPTIONS[name];
  for (const [re, d] of PATTERNS) {
    const m = re.exec(name);
    if (m) return d.replace('$1', m[1]);
  }
  return undefined;
}

const PATTERNS: [RegExp, string][] = [
  [/^(\w+)_iou$/, 'IoU of the best $1 concept [0, 1]'],
  [/^(\w+)_label$/, 'best $1 concept'],
  [/^(\w+)_ms$/, '$1 time [ms]'],
];

/** Descriptions of the column names the stages share (units in brackets). A stage's own description wins. */
export const COLUMN_DESCRIPTIONS: Record<string, string> = {
  id: 'image id (path relative to the dataset root)',
  image: 'image id (path relative to the dataset root)',
  index: "the image's position in the dataset (0-based)",
  item: 'item id',
  message: 'what went wrong',
  label: 'class index',
  label_name: 'class name',
  rank: 'position in a ranking (lime: 0 = most probable label; compare: 1 = best agreement)',
  prob: "the model's probability of the class [0, 1]",
  dataset_label: "the dataset's class index of the image",
  height: 'height [pixels]',
  width: 'width [pixels]',
  n_segments: 'superpixels in the segmentation',
  segments: 'superpixel id per pixel (row-major, ids 0..n_segments−1)',
  random_seed: 'segmentation seed (quickshift tie-breaking noise)',
  random_state: "the image's sampling seed (LimeImageExplainer's random_state)",
  intercept: 'intercept of the weighted ridge surrogate',
  score: 'weighted R² of the surrogate on the perturbed samples',
  local_pred: "the surrogate's prediction on the unperturbed image",
  samples: 'perturbed samples = model forwards for the image',
  stopped: "why sampling stopped: fixed (num_samples), stable or cap (num_samples: auto)",
  mask_pixels: 'pixels in the explanation mask',
  gt_iou: "IoU of the mask with the ground-truth object mask [0, 1]",
  gt_iou_chance: 'expected IoU of a random mask of the same area with the ground truth [0, 1]',
  overlay: 'overlay PNG, relative to the stage entry',
  local_exp_segments: "lime's local_exp: superpixel ids, sorted by |weight|",
  local_exp_weights: "lime's local_exp: surrogate weights, in local_exp_segments' order",
  mask: 'explanation mask per pixel (lime get_image_and_mask: 1 in, 0 out, −1 against)',
  segment: 'superpixel id',
  weight: 'surrogate weight of the superpixel',
  pixels: 'pixels [count]',
  method: 'CAM method',
  layer: 'target layer (model layer name or alias)',
  target: 'class the map explains',
  target_name: 'name of the class the map explains',
  cam: 'class activation map at the input size, normalised to [0, 1] (row-major)',
  pointing: "pointing game: the map's maximum lies inside the ground-truth mask",
  unit: 'unit (channel) index in the layer',
  category: 'concept category (object, part, scene, texture, color, …)',
  concept: 'concept name',
  units: 'units [count]',
  iou: 'intersection over union [0, 1]',
  threshold: 'activation threshold',
  quantile: 'top quantile of the activation distribution',
  avg_iou: 'mean IoU [0, 1]',
  iou_std: 'standard deviation of the IoU',
  n_images: 'images [count]',
  n: 'count',
  mean: 'mean',
  median: 'median',
  std: 'standard deviation',
  min: 'minimum',
  max: 'maximum',
  against: 'what the LIME masks were scored against: gt, cam:<method@layer> or mixed',
  n_gt: 'images scored against the ground truth',
  n_cam: 'images scored against the CAM',
  forwards_per_image: 'model forwards per image (deterministic cost)',
  avg_deletion_auc: "mean deletion AUC of the LIME explanations (lower: more faithful) [0, 1]",
  avg_insertion_auc: "mean insertion AUC of the LIME explanations (higher: more faithful) [0, 1]",
  avg_road_combined: "mean ROAD combined score of the LIME explanations ((LeRF − MoRF) / 2)",
  params: 'resolved params (JSON)',
  lime_stage: 'the scored lime stage',
  lime_key: "the scored lime stage's cache key",
  description: 'the unit description (concept)',
  similarity: 'similarity of the unit with its description',
  a: 'first of the compared explanations',
  b: 'second of the compared explanations (lime, gt or a CAM)',
  metric: 'the statistic summarised (iou, pointing, relevance_mass, …)',
  best: 'image with the highest value',
  worst: 'image with the lowest value',
  rule: 'how the CAM was binarised',
  activation: "activated pixels on images annotated in the category [pixels]",
  intersect: 'activated pixels inside the concept [pixels]',
  truth: 'pixels of the concept [pixels]',
  alias: 'layer alias (layer1…layer4)',
  name: 'name',
  op: 'operator type',
  shape: 'output shape',
  suggested: 'a layer suggested for CAMs / dissection',
  cam_gt_iou: 'IoU of the binarised CAM with the ground truth [0, 1]',
  cam_pixels: 'pixels kept of the CAM [pixels]',
  cam_pointing: "the CAM's maximum lies inside the ground truth",
  cam_relevance_mass: "share of the CAM's mass inside the ground truth [0, 1]",
  cam_target: 'class the CAM explains',
  cam_target_name: 'name of the class the CAM explains',
  gt_pixels: 'pixels of the ground-truth mask [pixels]',
  lime_gt_iou: 'IoU of the LIME mask with the ground truth [0, 1]',
  lime_label: 'class the LIME mask explains',
  lime_label_matches: "LIME's label is the CAM's target",
  lime_label_name: 'name of the class the LIME mask explains',
  lime_pixels: 'pixels of the LIME mask [pixels]',
  lime_pointing: "LIME's highest-weighted superpixel's pixel lies inside the ground truth",
  lime_relevance_mass: "share of LIME's positive weight mass inside the ground truth [0, 1]",
  has_mask: 'the image has a ground-truth mask (1) or not (0)',
  note: "what loading does to the image besides resizing (grey → RGB, alpha dropped, 16-bit → 8-bit, EXIF orientation applied, small: upscaled, …); null when nothing",
  in_mask: "the map's maximum lies inside the ground-truth mask",
  interpretable: 'interpretable units (best IoU ≥ the threshold)',
  map: 'activation map (row-major)',
  part: 'the part file holding the image',
  peak_x: "column of the map's maximum [pixels]",
  peak_y: "row of the map's maximum [pixels]",
  probability: "the model's probability of the target class [0, 1]",
  split: 'dataset split (train, val)',
  synset: 'class folder / synset',
  top: 'the most frequent concepts',
  unique_concepts: 'distinct concepts among interpretable units',
  value: 'activation value',
};

/** The columns of a summary statistic (summarize() in src/algo/compare): n, mean, median, std, min, max. */
export function summaryStatFields(): Field[] {
  return [
    new Field('n', new Int32(), false),
    ...['mean', 'median', 'std', 'min', 'max'].map((n) => new Field(n, new Float64(), true)),
  ];
}
