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
]);

export function itemsTable(items: readonly DatasetItem[]): Table {
  return tableFromRows(
    items.map((it) => ({
      id: it.id,
      label: it.label ?? null,
      label_name: it.labelName ?? null,
      synset: it.synset ?? null,
      split: it.split ?? null,
      has_mask: it.maskPath ? 1 : 0,
    })),
    ITEMS_SCHEMA,
  );
}
