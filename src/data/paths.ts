// Item paths under a dataset directory, built compactly: every item's path shares the directory's string. path.join
// builds each result from about ten fresh pieces (~0.6 KB of heap per path, ~4 KB per Broden item with its masks:
// 260 MB for full Broden's item list).
import { join, sep } from 'node:path';

/** Whether join(dir, rel) is just dir + sep + rel: POSIX separators, no empty, '.' or '..' segment. */
function plain(rel: string): boolean {
  if (sep !== '/' || rel === '') return false;
  for (const s of rel.split('/')) if (s === '' || s === '.' || s === '..') return false;
  return true;
}

/** A path builder for relative paths under `dir`: the same string as join(dir, rel). */
export function under(dir: string): (rel: string) => string {
  const base = join(dir, '.');
  const prefix = base === '.' ? '' : base.endsWith(sep) ? base : base + sep;
  return (rel) => (plain(rel) ? prefix + rel : join(dir, rel));
}
