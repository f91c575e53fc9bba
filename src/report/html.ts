// HTML building helpers for the report site: escaping, tables, figures, and the site writer the sections use to add
// files (images, SVG charts) next to index.html. Everything is relative to the site root, so the site opens from disk.
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** Escape text for HTML content and attribute values. */
export function esc(v: unknown): string {
  return String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** A file-name-safe slug (lowercase letters, digits, '-', '_', '.'); never empty. */
export function slug(s: string): string {
  const r = s.replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^-+|-+$/g, '').replace(/^\.+/, '');
  return r || 'x';
}

/** Number formatting for tables: integers as is, others with `digits` decimals; null/NaN as an en dash. */
export function num(v: unknown, digits = 3): string {
  if (v === null || v === undefined || (typeof v === 'number' && !Number.isFinite(v))) return '–';
  if (typeof v !== 'number') return esc(v);
  if (Number.isInteger(v)) return String(v);
  return v.toFixed(digits);
}

export interface Section {
  id: string;
  title: string;
  html: string;
}

/** Collects the site's files and the sections of index.html. */
export class Site {
  readonly sections: Section[] = [];
  private readonly pending: Promise<void>[] = [];
  private readonly names = new Set<string>();
  files = 0;
  constructor(readonly dir: string) {}

  /** A unique relative path under `prefix/` for `name` (an extension kept). */
  name(prefix: string, name: string): string {
    const base = `${prefix}/${slug(name)}`;
    let rel = base;
    const dot = base.lastIndexOf('.');
    for (let i = 2; this.names.has(rel); i++) rel = dot > prefix.length ? `${base.slice(0, dot)}-${i}${base.slice(dot)}` : `${base}-${i}`;
    this.names.add(rel);
    return rel;
  }

  /** Writes a file (relative path) and returns its relative path. */
  async write(rel: string, data: string | Uint8Array): Promise<string> {
    const p = join(this.dir, rel);
    await mkdir(dirname(p), { recursive: true });
    await writeFile(p, data);
    this.files++;
    return rel;
  }

  /** Copies a file into the site (relative path) and returns its relative path. */
  async copy(rel: string, src: string): Promise<string> {
    const p = join(this.dir, rel);
    await mkdir(dirname(p), { recursive: true });
    await copyFile(src, p);
    this.files++;
    return rel;
  }

  /** Writes an SVG chart under charts/ and returns its <figure>. */
  async chart(name: string, svg: string, caption?: string, cls = ''): Promise<string> {
    const rel = await this.write(this.name('charts', name.endsWith('.svg') ? name : `${name}.svg`), svg);
    return figure(rel, caption, `chart ${cls}`.trim());
  }

  add(s: Section): void {
    this.sections.push(s);
  }

  async settle(): Promise<void> {
    await Promise.all(this.pending);
  }
}

/** A chart or picture with an optional caption. The <img> carries its intrinsic size from the file. */
export function figure(src: string, caption?: string, cls = ''): string {
  return `<figure class="${esc(cls)}"><img src="${esc(src)}" alt="${esc(caption ?? '')}">${caption ? `<figcaption>${esc(caption)}</figcaption>` : ''}</figure>`;
}

export interface Col<R> {
  head: string;
  /** Cell HTML (already escaped). */
  cell(r: R): string;
  cls?: string;
  /** Sort value for the sortable tables (data-v). */
  sort?(r: R): string | number;
}

/** A plain table; `attrs` go on <table>. */
export function table<R>(rows: readonly R[], cols: readonly Col<R>[], attrs = ''): string {
  const head = cols.map((c) => `<th${c.cls ? ` class="${c.cls}"` : ''}${c.sort ? ` data-sort="${c.cls === 'num' ? 'num' : 'text'}"` : ''}>${c.head}</th>`).join('');
  const body = rows
    .map((r) => `<tr>${cols.map((c) => `<td${c.cls ? ` class="${c.cls}"` : ''}${c.sort ? ` data-v="${esc(c.sort(r))}"` : ''}>${c.cell(r)}</td>`).join('')}</tr>`)
    .join('\n');
  return `<table ${attrs}><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

/** A generic table of plain rows (scalar values), all columns. */
export function rowsTable(rows: readonly Record<string, unknown>[], attrs = 'class="data"'): string {
  if (!rows.length) return '<p class="muted">no rows</p>';
  const names = Object.keys(rows[0]);
  return table(
    rows,
    names.map((n) => ({
      head: esc(n),
      cell: (r: Record<string, unknown>) => (typeof r[n] === 'number' ? num(r[n]) : esc(r[n] ?? '–')),
      cls: rows.some((r) => typeof r[n] === 'number') ? 'num' : undefined,
    })),
    attrs,
  );
}

/** A JSON value in a collapsed block. */
export function jsonDetails(summary: string, v: unknown): string {
  return `<details><summary>${esc(summary)}</summary><pre>${esc(JSON.stringify(v, null, 2))}</pre></details>`;
}

/** key: value pairs as a definition list. */
export function kv(pairs: [string, string][]): string {
  return `<dl class="kv">${pairs.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v}</dd>`).join('')}</dl>`;
}
