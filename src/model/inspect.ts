// Model summaries for `xai inspect` and the load-model stage: suggested dissection layers and a text table.
import type { LayerInfo, ModelInfo } from './types.ts';

/**
 * Suggested layers for dissection: the last block output of each stage, i.e. for every spatial resolution (H×W > 1)
 * the last 4-D layer computed at that resolution (in graph order). ResNet-18 → relu, layer1..layer4 outputs.
 */
export function suggestDissectionLayers(info: ModelInfo): LayerInfo[] {
  const last = new Map<string, { l: LayerInfo; i: number }>();
  info.layers.forEach((l, i) => {
    if (l.shape.length === 4 && l.shape[2] * l.shape[3] > 1) last.set(`${l.shape[2]}x${l.shape[3]}`, { l, i });
  });
  return [...last.values()].sort((a, b) => a.i - b.i).map((e) => e.l);
}

/** 'grey' (1 channel, RGB images converted by luma: channels.ts), the channel order for 3, else 'N-channel'. */
export function colourName(channels: number, order: string): string {
  return channels === 1 ? 'grey (RGB images → luma)' : channels === 3 ? order : `${channels}-channel`;
}

export function formatShape(shape: number[]): string {
  return shape.slice(1).join('×');
}

/** Human-readable model summary (runtime, input spec, layers with shapes and units, parameters, suggestions). */
export function formatModelInfo(info: ModelInfo, opts: { file?: string; all?: boolean } = {}): string {
  const i = info.input;
  const lines: string[] = [];
  lines.push(`model       ${info.id}${opts.file ? ` (${opts.file})` : ''}`);
  lines.push(`runtime     ${info.runtime} · ${info.backend}`);
  lines.push(`input       ${i.modelChannels ?? i.channels}×${i.height}×${i.width} ${colourName(i.modelChannels ?? i.channels, i.channelOrder)}, model layout ${i.layout}; pixel·${+i.scale.toPrecision(6)} − mean [${i.mean.join(', ')}] / std [${i.std.join(', ')}]`);
  lines.push(`classes     ${info.numClasses} (${info.labels.slice(0, 3).join(', ')}${info.labels.length > 3 ? ', …' : ''})`);
  lines.push(`parameters  ${info.parameters.toLocaleString('en-US')}`);
  const suggested = suggestDissectionLayers(info);
  lines.push(`dissection  ${suggested.map((l) => l.alias ?? l.name).join(', ') || '(no 4-D layers)'}`);
  lines.push('');
  const rows = info.layers.map((l) => [l.name, l.alias ?? '', l.op, formatShape(l.shape), String(l.units)]);
  const head = ['layer', 'alias', 'op', 'shape (C×H×W)', 'units'];
  const w = head.map((h, k) => Math.max(h.length, ...rows.map((r) => r[k].length)));
  const fmt = (r: string[]) => r.map((c, k) => (k === 4 ? c.padStart(w[k]) : c.padEnd(w[k]))).join('  ').trimEnd();
  lines.push(fmt(head));
  lines.push(w.map((n) => '─'.repeat(n)).join('  '));
  const sugg = new Set(suggested.map((l) => l.name));
  for (const [k, r] of rows.entries()) lines.push(fmt(r) + (sugg.has(info.layers[k].name) ? '  ◀ dissect' : ''));
  lines.push(`${info.layers.length} layers`);
  return lines.join('\n');
}
