// Small dependency-free SVG charts for reports: vertical bars, horizontal bars (concept histograms), grouped bars,
// a scatter plot with a Pareto line, and line charts. Each returns a standalone SVG document string (xmlns, width, height,
// viewBox set); all text is XML-escaped. Numbers are printed with up to 2 decimals.

/** Escape text for XML content and attribute values. */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] as string);
}

const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

function n2(v: number): string {
  return Number.isFinite(v) ? String(Math.round(v * 100) / 100) : '0';
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 0.01 || a >= 1e6)) return v.toExponential(2);
  return String(Math.round(v * 1000) / 1000);
}

function text(x: number, y: number, s: string, attrs = ''): string {
  return `<text x="${n2(x)}" y="${n2(y)}"${attrs ? ' ' + attrs : ''}>${escapeXml(s)}</text>`;
}

function doc(width: number, height: number, body: string[], title?: string): string {
  const head = `<svg xmlns="http://www.w3.org/2000/svg" width="${n2(width)}" height="${n2(height)}" viewBox="0 0 ${n2(width)} ${n2(height)}" font-family="sans-serif" font-size="11">`;
  const t = title ? [text(width / 2, 16, title, 'text-anchor="middle" font-size="13" font-weight="bold"')] : [];
  return [head, `<rect width="100%" height="100%" fill="white"/>`, ...t, ...body, '</svg>'].join('\n');
}

/** A "nice" axis maximum and tick step for [0, max]. */
function niceScale(max: number, ticks = 5): { top: number; step: number } {
  if (!(max > 0) || !Number.isFinite(max)) return { top: 1, step: 0.2 };
  const raw = max / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
  return { top: Math.ceil(max / step - 1e-9) * step, step };
}

function rangeScale(min: number, max: number): { lo: number; hi: number; step: number } {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return { lo: 0, hi: 1, step: 0.2 };
  if (min === max) {
    const d = min === 0 ? 1 : Math.abs(min) * 0.1;
    min -= d;
    max += d;
  }
  const { step } = niceScale(max - min);
  return { lo: Math.floor(min / step) * step, hi: Math.ceil(max / step) * step, step };
}

export interface BarChartOptions {
  title?: string;
  labels: string[];
  values: number[];
  width?: number;
  height?: number;
  yLabel?: string;
  color?: string;
  /** Print each value above its bar (default true when ≤ 40 bars). */
  showValues?: boolean;
}

/** Vertical bar chart (labels rotated under the bars). Negative values are drawn from 0 downwards. */
export function barChart(o: BarChartOptions): string {
  if (o.labels.length !== o.values.length) throw new RangeError(`barChart: ${o.labels.length} labels for ${o.values.length} values`);
  const n = o.values.length;
  const width = o.width ?? Math.max(320, 60 + n * 24);
  const height = o.height ?? 320;
  const left = 56;
  const right = 12;
  const top = o.title ? 30 : 12;
  const bottom = 90;
  const pw = width - left - right;
  const ph = height - top - bottom;
  const lo = Math.min(0, ...o.values.filter(Number.isFinite));
  const hi = Math.max(0, ...o.values.filter(Number.isFinite));
  const s = lo < 0 ? rangeScale(lo, hi) : { lo: 0, hi: niceScale(hi).top, step: niceScale(hi).step };
  const y = (v: number) => top + ph - ((v - s.lo) / (s.hi - s.lo)) * ph;
  const body: string[] = [];
  for (let t = s.lo; t <= s.hi + s.step / 2; t += s.step) {
    body.push(`<line x1="${left}" x2="${left + pw}" y1="${n2(y(t))}" y2="${n2(y(t))}" stroke="#ddd"/>`);
    body.push(text(left - 4, y(t) + 4, fmt(t), 'text-anchor="end"'));
  }
  const bw = n > 0 ? pw / n : pw;
  const showValues = o.showValues ?? n <= 40;
  for (let i = 0; i < n; i++) {
    const v = Number.isFinite(o.values[i]) ? o.values[i] : 0;
    const x = left + i * bw + bw * 0.1;
    const y0 = y(Math.max(v, 0));
    const h = Math.abs(y(v) - y(0));
    body.push(`<rect x="${n2(x)}" y="${n2(y0)}" width="${n2(bw * 0.8)}" height="${n2(h)}" fill="${escapeXml(o.color ?? PALETTE[0])}"><title>${escapeXml(`${o.labels[i]}: ${fmt(o.values[i])}`)}</title></rect>`);
    if (showValues) body.push(text(x + bw * 0.4, y0 - 3, fmt(o.values[i]), 'text-anchor="middle" font-size="9"'));
    const lx = left + i * bw + bw / 2;
    const ly = top + ph + 10;
    body.push(text(lx, ly, o.labels[i], `text-anchor="end" transform="rotate(-45 ${n2(lx)} ${n2(ly)})"`));
  }
  body.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${top + ph}" stroke="#333"/>`);
  body.push(`<line x1="${left}" x2="${left + pw}" y1="${n2(y(0))}" y2="${n2(y(0))}" stroke="#333"/>`);
  if (o.yLabel) body.push(text(14, top + ph / 2, o.yLabel, `text-anchor="middle" transform="rotate(-90 14 ${n2(top + ph / 2)})"`));
  return doc(width, height, body, o.title);
}

export interface HBarItem {
  label: string;
  value: number;
  /** Optional colour key (e.g. the concept's category); items with the same key share a colour. */
  group?: string;
}

/** A one-line legend (colour swatch + name per entry) from (x, baseline y), appended to `body`. */
function legend(body: string[], x: number, y: number, entries: { name: string; colour: string }[]): void {
  for (const e of entries) {
    body.push(`<rect x="${n2(x)}" y="${n2(y - 9)}" width="10" height="10" fill="${e.colour}"/>`);
    body.push(text(x + 13, y, e.name));
    x += 24 + e.name.length * 6.5;
  }
}

export interface HBarChartOptions {
  title?: string;
  items: HBarItem[];
  width?: number;
  xLabel?: string;
  /** Row height in px (default 16). */
  rowHeight?: number;
  /** Colour order of the groups (a group's colour = its index here), so several charts colour a group alike. */
  groupOrder?: string[];
}

/** Horizontal bar chart, one row per item in the given order (concept histograms); legend for groups. */
export function hBarChart(o: HBarChartOptions): string {
  const rh = o.rowHeight ?? 16;
  const width = o.width ?? 520;
  const maxLabel = Math.max(4, ...o.items.map((i) => i.label.length));
  const left = Math.min(220, 8 + maxLabel * 6.5);
  const right = 40;
  const top = o.title ? 30 : 10;
  const groups = [...new Set(o.items.map((i) => i.group).filter((g): g is string => g !== undefined))];
  const order = o.groupOrder ? [...o.groupOrder, ...groups.filter((g) => !o.groupOrder!.includes(g))] : groups;
  if (o.groupOrder) groups.sort((a, b) => order.indexOf(a) - order.indexOf(b));
  const legendH = groups.length ? 18 : 0;
  const bottom = 30 + legendH;
  const height = top + bottom + Math.max(1, o.items.length) * rh;
  const pw = width - left - right;
  const max = Math.max(0, ...o.items.map((i) => (Number.isFinite(i.value) ? i.value : 0)));
  const { top: xmax, step } = niceScale(max);
  const x = (v: number) => left + (Math.max(0, v) / xmax) * pw;
  const body: string[] = [];
  const ph = o.items.length * rh;
  for (let t = 0; t <= xmax + step / 2; t += step) {
    body.push(`<line x1="${n2(x(t))}" x2="${n2(x(t))}" y1="${top}" y2="${top + ph}" stroke="#ddd"/>`);
    body.push(text(x(t), top + ph + 12, fmt(t), 'text-anchor="middle"'));
  }
  o.items.forEach((it, i) => {
    const colour = it.group !== undefined ? PALETTE[order.indexOf(it.group) % PALETTE.length] : PALETTE[0];
    const yy = top + i * rh;
    const v = Number.isFinite(it.value) ? it.value : 0;
    body.push(`<rect x="${left}" y="${n2(yy + 2)}" width="${n2(x(v) - left)}" height="${n2(rh - 4)}" fill="${colour}"><title>${escapeXml(`${it.label}: ${fmt(it.value)}`)}</title></rect>`);
    body.push(text(left - 4, yy + rh / 2 + 4, it.label, 'text-anchor="end"'));
    body.push(text(x(v) + 3, yy + rh / 2 + 4, fmt(it.value), 'font-size="9"'));
  });
  body.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${top + ph}" stroke="#333"/>`);
  if (o.xLabel) body.push(text(left + pw / 2, top + ph + 26, o.xLabel, 'text-anchor="middle"'));
  legend(body, left, height - 8, groups.map((g) => ({ name: g, colour: PALETTE[order.indexOf(g) % PALETTE.length] })));
  return doc(width, height, body, o.title);
}

export interface GroupedBarChartOptions {
  title?: string;
  /** Category labels along the x axis. */
  groups: string[];
  /** One series per bar within a group; values align with `groups`. */
  series: { name: string; values: number[] }[];
  width?: number;
  height?: number;
  yLabel?: string;
}

/** Grouped vertical bars (e.g. interpretable units per category, one series per layer or model), with a legend. */
export function groupedBarChart(o: GroupedBarChartOptions): string {
  for (const s of o.series) {
    if (s.values.length !== o.groups.length) throw new RangeError(`groupedBarChart: series '${s.name}' has ${s.values.length} values for ${o.groups.length} groups`);
  }
  const ng = o.groups.length;
  const ns = Math.max(1, o.series.length);
  const width = o.width ?? Math.max(360, 80 + ng * (ns * 14 + 16));
  const height = o.height ?? 340;
  const left = 56;
  const right = 12;
  const top = o.title ? 30 : 12;
  const bottom = 100;
  const pw = width - left - right;
  const ph = height - top - bottom;
  const max = Math.max(0, ...o.series.flatMap((s) => s.values.filter(Number.isFinite)));
  const { top: ymax, step } = niceScale(max);
  const y = (v: number) => top + ph - (Math.max(0, v) / ymax) * ph;
  const body: string[] = [];
  for (let t = 0; t <= ymax + step / 2; t += step) {
    body.push(`<line x1="${left}" x2="${left + pw}" y1="${n2(y(t))}" y2="${n2(y(t))}" stroke="#ddd"/>`);
    body.push(text(left - 4, y(t) + 4, fmt(t), 'text-anchor="end"'));
  }
  const gw = ng > 0 ? pw / ng : pw;
  const bw = (gw * 0.8) / ns;
  for (let g = 0; g < ng; g++) {
    o.series.forEach((s, si) => {
      const v = Number.isFinite(s.values[g]) ? s.values[g] : 0;
      const x = left + g * gw + gw * 0.1 + si * bw;
      body.push(`<rect x="${n2(x)}" y="${n2(y(v))}" width="${n2(bw)}" height="${n2(y(0) - y(v))}" fill="${PALETTE[si % PALETTE.length]}"><title>${escapeXml(`${o.groups[g]} / ${s.name}: ${fmt(s.values[g])}`)}</title></rect>`);
    });
    const lx = left + g * gw + gw / 2;
    const ly = top + ph + 10;
    body.push(text(lx, ly, o.groups[g], `text-anchor="end" transform="rotate(-45 ${n2(lx)} ${n2(ly)})"`));
  }
  body.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${top + ph}" stroke="#333"/>`);
  body.push(`<line x1="${left}" x2="${left + pw}" y1="${n2(y(0))}" y2="${n2(y(0))}" stroke="#333"/>`);
  if (o.yLabel) body.push(text(14, top + ph / 2, o.yLabel, `text-anchor="middle" transform="rotate(-90 14 ${n2(top + ph / 2)})"`));
  legend(body, left, height - 8, o.series.map((s, si) => ({ name: s.name, colour: PALETTE[si % PALETTE.length] })));
  return doc(width, height, body, o.title);
}

export interface ScatterPoint {
  x: number;
  y: number;
  label?: string;
}

export interface ScatterChartOptions {
  title?: string;
  points: ScatterPoint[];
  xLabel?: string;
  yLabel?: string;
  width?: number;
  height?: number;
  /** Indices of points on the Pareto front: highlighted and joined by a step line, in x order. */
  pareto?: number[];
}

/** Scatter plot (e.g. time vs IoU per configuration) with an optional Pareto line. */
export function scatterChart(o: ScatterChartOptions): string {
  const width = o.width ?? 480;
  const height = o.height ?? 360;
  const left = 60;
  const right = 20;
  const top = o.title ? 30 : 12;
  const bottom = 44;
  const pw = width - left - right;
  const ph = height - top - bottom;
  const pts = o.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  const xs = rangeScale(Math.min(...pts.map((p) => p.x), Infinity), Math.max(...pts.map((p) => p.x), -Infinity));
  const ys = rangeScale(Math.min(...pts.map((p) => p.y), Infinity), Math.max(...pts.map((p) => p.y), -Infinity));
  const X = (v: number) => left + ((v - xs.lo) / (xs.hi - xs.lo)) * pw;
  const Y = (v: number) => top + ph - ((v - ys.lo) / (ys.hi - ys.lo)) * ph;
  const body: string[] = [];
  for (let t = xs.lo; t <= xs.hi + xs.step / 2; t += xs.step) {
    body.push(`<line x1="${n2(X(t))}" x2="${n2(X(t))}" y1="${top}" y2="${top + ph}" stroke="#eee"/>`);
    body.push(text(X(t), top + ph + 14, fmt(t), 'text-anchor="middle"'));
  }
  for (let t = ys.lo; t <= ys.hi + ys.step / 2; t += ys.step) {
    body.push(`<line x1="${left}" x2="${left + pw}" y1="${n2(Y(t))}" y2="${n2(Y(t))}" stroke="#eee"/>`);
    body.push(text(left - 4, Y(t) + 4, fmt(t), 'text-anchor="end"'));
  }
  body.push(`<rect x="${left}" y="${top}" width="${n2(pw)}" height="${n2(ph)}" fill="none" stroke="#333"/>`);
  const onFront = new Set(o.pareto ?? []);
  if (o.pareto && o.pareto.length > 0) {
    const fp = o.pareto.map((i) => o.points[i]).filter((p) => p && Number.isFinite(p.x) && Number.isFinite(p.y)).sort((a, b) => a.x - b.x);
    const path: string[] = [];
    fp.forEach((p, i) => {
      if (i === 0) path.push(`M${n2(X(p.x))},${n2(Y(p.y))}`);
      else path.push(`H${n2(X(p.x))}`, `V${n2(Y(p.y))}`);
    });
    body.push(`<path d="${path.join(' ')}" fill="none" stroke="#e15759" stroke-width="1.5"/>`);
  }
  o.points.forEach((p, i) => {
    if (!Number.isFinite(p.x) || !Number.isFinite(p.y)) return;
    const front = onFront.has(i);
    const tip = `${p.label ? p.label + ': ' : ''}(${fmt(p.x)}, ${fmt(p.y)})`;
    body.push(`<circle cx="${n2(X(p.x))}" cy="${n2(Y(p.y))}" r="${front ? 4.5 : 3.5}" fill="${front ? '#e15759' : PALETTE[0]}"><title>${escapeXml(tip)}</title></circle>`);
    if (p.label) body.push(text(X(p.x) + 6, Y(p.y) - 5, p.label, 'font-size="9"'));
  });
  if (o.xLabel) body.push(text(left + pw / 2, height - 8, o.xLabel, 'text-anchor="middle"'));
  if (o.yLabel) body.push(text(14, top + ph / 2, o.yLabel, `text-anchor="middle" transform="rotate(-90 14 ${n2(top + ph / 2)})"`));
  return doc(width, height, body, o.title);
}

export interface LineSeries {
  label: string;
  points: [number, number][];
}

export interface LineChartOptions {
  title?: string;
  series: LineSeries[];
  xLabel?: string;
  yLabel?: string;
  width?: number;
  height?: number;
}

/** Line chart: one polyline per series (e.g. a deletion curve per explanation), with a legend on the right. */
export function lineChart(o: LineChartOptions): string {
  const width = o.width ?? 520;
  const height = o.height ?? 300;
  const left = 56, legend = 140, top = o.title ? 30 : 12, bottom = 40;
  const pw = width - left - legend - 12;
  const ph = height - top - bottom;
  const all = o.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const xs = rangeScale(Math.min(...all.map((p) => p[0]), Infinity), Math.max(...all.map((p) => p[0]), -Infinity));
  const ys = rangeScale(Math.min(...all.map((p) => p[1]), Infinity), Math.max(...all.map((p) => p[1]), -Infinity));
  const X = (v: number) => left + ((v - xs.lo) / (xs.hi - xs.lo)) * pw;
  const Y = (v: number) => top + ph - ((v - ys.lo) / (ys.hi - ys.lo)) * ph;
  const body: string[] = [];
  for (let t = xs.lo; t <= xs.hi + xs.step / 2; t += xs.step) body.push(text(X(t), top + ph + 14, fmt(t), 'text-anchor="middle"'));
  for (let t = ys.lo; t <= ys.hi + ys.step / 2; t += ys.step) {
    body.push(`<line x1="${left}" x2="${n2(left + pw)}" y1="${n2(Y(t))}" y2="${n2(Y(t))}" stroke="#eee"/>`);
    body.push(text(left - 4, Y(t) + 4, fmt(t), 'text-anchor="end"'));
  }
  body.push(`<rect x="${left}" y="${top}" width="${n2(pw)}" height="${n2(ph)}" fill="none" stroke="#333"/>`);
  o.series.forEach((s, i) => {
    const c = PALETTE[i % PALETTE.length];
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)).map(([x, y]) => `${n2(X(x))},${n2(Y(y))}`);
    body.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${c}" stroke-width="1.5"><title>${escapeXml(s.label)}</title></polyline>`);
    const ly = top + 10 + i * 16;
    body.push(`<line x1="${n2(left + pw + 12)}" x2="${n2(left + pw + 30)}" y1="${ly}" y2="${ly}" stroke="${c}" stroke-width="2"/>`);
    body.push(text(left + pw + 34, ly + 4, s.label));
  });
  if (o.xLabel) body.push(text(left + pw / 2, height - 8, o.xLabel, 'text-anchor="middle"'));
  if (o.yLabel) body.push(text(14, top + ph / 2, o.yLabel, `text-anchor="middle" transform="rotate(-90 14 ${n2(top + ph / 2)})"`));
  return doc(width, height, body, o.title);
}
