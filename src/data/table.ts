// The `items` Arrow table the dataset stages write (one row per item, in dataset order) for `xai show` and reports.
import { Field, Int32, Schema, Utf8, type Table } from 'apache-arrow';
import { tableFromRows } from '../arrow/io.ts';
import type { DatasetItem } from './types.ts';

export const ITEMS_SCHEMA = new Schema([
  new Field('id', new Utf8(), false),
  new Field('label', new Int32(), true),
  new Field('label_name', new Utf8(), true),
  new Field('synset', new Utf8(), true),
  new Field('split', new Utf8(), true),
  new Field('has_mask', new Int32(), false),
  new Field('note', new Utf8(), true),
]);

/**
 * Reads every item's image header (8 in flight) and sets `item.note` (src/image/io.ts imageNotes). An unreadable or
 * too small image is a ConfigError naming the item's file. Returns the summary warning line, if any.
 */
export async function annotateItems(items: readonly DatasetItem[], table: string): Promise<string | undefined> {
  const { readImageHeader, imageNotes, notesSummary, forEachLimit, MIN_IMAGE_SIDE } = await import('../image/io.ts');
  const { ConfigError } = await import('../engine/errors.ts');
  const counts: Record<string, number> = {};
  await forEachLimit(items, 8, async (it) => {
    try {
      const { note, kinds } = imageNotes(await readImageHeader(it.path), it.path);
      if (note) it.note = note;
      for (const k of kinds) counts[k] = (counts[k] ?? 0) + 1;
    } catch (e) {
      const reason = (e as Error).message.startsWith(`${it.path}: `) ? (e as Error).message.slice(it.path.length + 2) : (e as Error).message;
      throw new ConfigError(`item '${it.id}': ${reason}`, { file: it.path, expected: `a decodable image (PNG, JPEG, WebP, TIFF, …) of at least ${MIN_IMAGE_SIDE}×${MIN_IMAGE_SIDE} pixels` });
    }
  });
  return notesSummary(counts, table);
}

export function itemsTable(items: readonly DatasetItem[]): Table {
  return tableFromRows(
    items.map((it) => ({
      id: it.id,
      label: it.label ?? null,
      label_name: it.labelName ?? null,
      synset: it.synset ?? null,
      split: it.split ?? null,
      has_mask: it.maskPath ? 1 : 0,
      note: it.note ?? null,
    })),
    ITEMS_SCHEMA,
  );
}
