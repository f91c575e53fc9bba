// Helpers of the compare / scoreboard / sweep tests: a temp project (test/engine/helpers.ts) whose stages/ also
// re-exports the real dataset, compare and scoreboard stages and the fixtures of test/fixtures/compare.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { project, repo, type Project } from '../engine/helpers.ts';

export function compareProject(files: Record<string, string> = {}): Project {
  const p = project(files);
  for (const kind of ['dataset', 'compare', 'scoreboard']) p.write(`stages/${kind}.ts`, `export { default } from ${JSON.stringify(join(repo, 'stages', `${kind}.ts`))};\n`);
  const fx = join(repo, 'test', 'fixtures', 'compare');
  for (const f of readdirSync(fx)) if (f.endsWith('.ts')) p.write(`stages/${f}`, `export { default } from ${JSON.stringify(join(fx, f))};\n`);
  return p;
}

/** A w×h PNG: grey (channels 1) or RGB (3). */
export async function writePng(path: string, data: Uint8Array, w: number, h: number, channels: 1 | 3): Promise<void> {
  const { default: sharp } = await import('sharp');
  await sharp(Buffer.from(data), { raw: { width: w, height: h, channels } }).png().toFile(path);
}
