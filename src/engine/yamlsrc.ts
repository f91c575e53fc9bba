// YAML files with source positions: parse once, keep the document + line counter, and map a key path back to
// `file:line:col` for error messages.
import { readFileSync } from 'node:fs';
import { relative, isAbsolute } from 'node:path';
import { LineCounter, parseDocument, isMap, isSeq, isPair, isScalar, type Document, type Node } from 'yaml';
import { ConfigError } from './errors.ts';

export type PathSeg = string | number;

export interface YamlSource {
  /** Path as shown to users (relative to the project root when inside it). */
  file: string;
  abs: string;
  text: string;
  doc: Document;
  lc: LineCounter;
  value: unknown;
}

export interface Pos {
  file: string;
  line: number;
  column: number;
}

/** Path shown in messages: relative to root when inside it. */
export function displayPath(abs: string, root: string): string {
  const r = relative(root, abs);
  return r && !r.startsWith('..') && !isAbsolute(r) ? r : abs;
}

/** Reads and parses a YAML file; syntax errors become a located ConfigError. */
export function loadYaml(abs: string, root: string, what = 'file'): YamlSource {
  const file = displayPath(abs, root);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError(code === 'ENOENT' ? `${what} not found` : `cannot read ${what}: ${(e as Error).message}`, { file });
  }
  return parseYamlText(text, file, abs);
}

export function parseYamlText(text: string, file: string, abs = file): YamlSource {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length) {
    const e = doc.errors[0];
    const pos = e.linePos?.[0];
    const first = e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
    throw new ConfigError(`YAML syntax error: ${first}`, { file, line: pos?.line, column: pos?.col });
  }
  return { file, abs, text, doc, lc, value: doc.toJS({ maxAliasCount: 1000 }) };
}

/** Position of the node at `path` (the key when `at: 'key'` and the path ends in a map key). */
export function locate(src: YamlSource, path: readonly PathSeg[], at: 'key' | 'value' = 'value'): Pos {
  let node: unknown = src.doc.contents;
  let keyNode: unknown;
  let last: unknown = node;
  for (const seg of path) {
    keyNode = undefined;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(seg));
      if (!pair) break;
      keyNode = pair.key;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      node = node.items[seg];
    } else break;
    if (node == null && keyNode == null) break;
    last = node ?? keyNode;
  }
  const target = (at === 'key' && keyNode ? keyNode : (node ?? keyNode ?? last)) as Node | undefined;
  const offset = target?.range?.[0] ?? 0;
  const lp = src.lc.linePos(offset);
  return { file: src.file, line: lp.line, column: lp.col };
}

/** True if `path` exists in the document. */
export function hasPath(src: YamlSource, path: readonly PathSeg[]): boolean {
  return src.doc.hasIn(path as PathSeg[]);
}
