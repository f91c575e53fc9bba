// `npm run bench [-- --quick] [-- <name filter>]`: runs every bench/*.bench.ts in one run and writes
// bench/results/bench.json + bench/results/bench.md.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import fg from 'fast-glob';
import type { BenchFigure, BenchFn } from './types.ts';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const filters = args.filter((a) => !a.startsWith('--'));
const files = (await fg('bench/*.bench.ts')).sort().filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
const results: { bench: string; figures: BenchFigure[]; error?: string; seconds: number }[] = [];
for (const f of files) {
  const name = f.replace(/^bench\//, '').replace(/\.bench\.ts$/, '');
  process.stderr.write(`bench ${name} …\n`);
  const t0 = performance.now();
  try {
    const mod = (await import(join(process.cwd(), f))) as { default: BenchFn };
    const figures = await mod.default({ quick });
    results.push({ bench: name, figures, seconds: (performance.now() - t0) / 1000 });
    for (const fig of figures) process.stderr.write(`  ${fmtRow(fig)}\n`);
  } catch (e) {
    results.push({ bench: name, figures: [], error: String((e as Error).stack ?? e), seconds: (performance.now() - t0) / 1000 });
    process.stderr.write(`  FAILED: ${(e as Error).message}\n`);
  }
}

function fmt(v: number): string {
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(3);
}
function fmtRow(f: BenchFigure): string {
  const ratio = f.ratio !== undefined ? ` ratio ${f.ratio.toFixed(2)}` : '';
  const pass = f.pass === undefined ? '' : f.pass ? ' ✓' : ' ✗';
  return `${f.name}: ${fmt(f.value)} ${f.unit}${ratio}${f.target ? ` (target ${f.target})` : ''}${pass}`;
}

const env = { node: process.version, cpus: os.cpus().length, cpu: os.cpus()[0]?.model ?? '?', quick, date: new Date().toISOString() };
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/bench.json', JSON.stringify({ env, results }, null, 2) + '\n');
const md: string[] = [`# Bench results`, '', `${env.date} · Node ${env.node} · ${env.cpus}× ${env.cpu}${quick ? ' · quick' : ''}`, ''];
md.push('| bench | figure | value | unit | baseline | ratio | target | met |', '|---|---|---|---|---|---|---|---|');
for (const r of results) {
  if (r.error) md.push(`| ${r.bench} | error: ${r.error.split('\n')[0]} | | | | | | ✗ |`);
  for (const f of r.figures) {
    md.push(
      `| ${r.bench} | ${f.name} | ${fmt(f.value)} | ${f.unit} | ${f.baseline ? `${f.baseline.name}: ${fmt(f.baseline.value)}` : ''} | ${f.ratio !== undefined ? f.ratio.toFixed(2) : ''} | ${f.target ?? ''} | ${f.pass === undefined ? '' : f.pass ? '✓' : '✗'} |`,
    );
  }
}
writeFileSync('bench/results/bench.md', md.join('\n') + '\n');
process.stderr.write('wrote bench/results/bench.json and bench/results/bench.md\n');
process.exitCode = results.some((r) => r.error) ? 1 : 0;
