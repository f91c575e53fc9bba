// xai make-dataset shapes --out DIR [--count N] [--size S] [--seed K] [--val-fraction F] [--max-objects M] [--force]
import { ConfigError } from '../../engine/errors.ts';
import { intOption, parseArgs } from '../args.ts';

export const summary = 'Generate the synthetic "shapes" concept dataset (Broden format, exact ground truth)';
export const usage = `Usage: xai make-dataset shapes --out DIR [--count N] [--size S] [--seed K]
                                [--val-fraction F] [--max-objects M] [--workers W] [--force] [--quiet]

Writes the synthetic concept dataset "shapes" into DIR: S×S RGB PNG images, each with 1–3 objects (shape classes
circle, square, triangle, star, ring, cross; colours red, green, blue, yellow, orange, purple, white, black) on a
textured scene (scenes desert, ocean, forest, city, candy; textures plain, striped, dotted, chequered, gradient).
The main object (largest, frontmost, fully inside) gives the class label. Same arguments → byte-identical files.

Layout of DIR:
  index.csv                 Broden index: image,split,ih,iw,sh,sw,color,object,scene,texture,label,label_name,gt_mask
  label.csv, category.csv, c_color.csv, c_object.csv, c_scene.csv, c_texture.csv   Broden vocabulary
  classes.txt               class names, one per line, in class-index order
  labels.csv                image,split,label,label_name,gt_mask (paths relative to DIR)
  dataset.json              generator parameters, palettes, class counts
  images/shapes/NNNNNN.png          the image (S×S RGB)
  images/shapes/NNNNNN_gt.png       ground-truth mask of the main object (S×S grey, 255 = object)
  images/shapes/NNNNNN_color.png    Broden masks at half resolution, label = R + 256·G
  images/shapes/NNNNNN_object.png

Options:
  --out DIR            output directory (required; must be empty unless --force)
  --count N            number of images (default 1000)
  --size S             image side in pixels, 16–4096 (default 128)
  --seed K             PRNG seed, an integer (default 0)
  --val-fraction F     fraction of images (the last ones) in split 'val' (default 0.1)
  --max-objects M      objects per image: 1 to M, M in 1–3 (default 3)
  --workers W          worker threads (default: 1 below 2000 images, else min(cores, 8)); output is identical
  --force              replace the contents of a non-empty DIR
  --quiet              no progress output
  -h, --help           this help
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs('make-dataset', argv, {
    out: { type: 'string', short: 'o' },
    count: { type: 'string', short: 'n' },
    size: { type: 'string' },
    seed: { type: 'string' },
    'val-fraction': { type: 'string' },
    'max-objects': { type: 'string' },
    workers: { type: 'string', short: 'j' },
    force: { type: 'boolean' },
    quiet: { type: 'boolean', short: 'q' },
  });
  const kind = positionals[0];
  if (!kind) throw new ConfigError('xai make-dataset: which dataset? (available: shapes)', { suggestion: 'see xai make-dataset --help' });
  if (kind !== 'shapes') throw new ConfigError(`xai make-dataset: unknown dataset '${kind}' (available: shapes)`);
  if (positionals.length > 1) throw new ConfigError(`xai make-dataset: unexpected argument '${positionals[1]}'`);
  if (typeof values.out !== 'string' || !values.out) throw new ConfigError('xai make-dataset: --out DIR is required');
  const count = intOption('make-dataset', 'count', values.count) ?? 1000;
  const size = intOption('make-dataset', 'size', values.size, 16) ?? 128;
  if (size > 4096) throw new ConfigError(`xai make-dataset: --size must be <= 4096, got ${size}`);
  let seed = 0;
  if (values.seed !== undefined) {
    seed = Number(values.seed);
    if (!Number.isSafeInteger(seed)) throw new ConfigError(`xai make-dataset: --seed must be an integer, got '${String(values.seed)}'`);
  }
  let valFraction = 0.1;
  if (values['val-fraction'] !== undefined) {
    valFraction = Number(values['val-fraction']);
    if (!(valFraction >= 0 && valFraction <= 1)) {
      throw new ConfigError(`xai make-dataset: --val-fraction must be a number in [0, 1], got '${String(values['val-fraction'])}'`);
    }
  }
  const maxObjects = intOption('make-dataset', 'max-objects', values['max-objects']) ?? 3;
  if (maxObjects > 3) throw new ConfigError(`xai make-dataset: --max-objects must be 1, 2 or 3, got ${maxObjects}`);
  const workers = intOption('make-dataset', 'workers', values.workers);
  const { resolve } = await import('node:path');
  const { existsSync, readdirSync } = await import('node:fs');
  const out = resolve(values.out);
  const { writableDirProblem } = await import('../../engine/paths.ts');
  const problem = writableDirProblem(out);
  if (problem) throw new ConfigError(`xai make-dataset: --out ${values.out}: ${problem}`);
  if (existsSync(out) && readdirSync(out).length > 0 && !values.force) {
    throw new ConfigError(`xai make-dataset: output directory ${out} is not empty`, { suggestion: 'use --force to replace its contents' });
  }
  const { generateShapes } = await import('../../data/synth/shapes.ts');
  const quiet = Boolean(values.quiet) || !process.stderr.isTTY;
  const existed = existsSync(out);
  let res;
  try {
    res = await generateShapes(out, {
      count,
      size,
      seed,
      valFraction,
      maxObjects,
      workers,
      force: Boolean(values.force),
      onProgress: quiet ? undefined : (done, total) => process.stderr.write(`\r${done}/${total} images`),
    });
  } catch (e) {
    // a failed write (a full disk): no half dataset left behind, and the message names the output folder
    const { rmSync } = await import('node:fs');
    if (existed) for (const f of readdirSync(out)) rmSync(resolve(out, f), { recursive: true, force: true });
    else rmSync(out, { recursive: true, force: true });
    const err = e as NodeJS.ErrnoException;
    if (err && typeof err.code === 'string' && !err.path) err.path = out;
    throw e;
  }
  if (!quiet) process.stderr.write('\n');
  const counts = Object.entries(res.classCounts).map(([k, v]) => `${k} ${v}`).join(', ');
  process.stdout.write(`wrote ${res.count} images (${size}×${size}, seed ${seed}) to ${out} in ${res.seconds.toFixed(1)} s; classes: ${counts}\n`);
  return 0;
}
