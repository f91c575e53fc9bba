// descriptions.csv as CLIP-Dissect writes it (describe_neurons.py: pandas DataFrame with columns layer, unit,
// description, similarity → to_csv(index=False)): header line, '\n' line ends, pandas' minimal quoting (a field with a
// comma, a double quote or '\n' is quoted, inner quotes doubled; a lone '\r' is not), similarity as numpy float32's
// shortest repr, NaN as an empty field.

/** numpy's repr of a float32 value (shortest digits that round-trip; positional for 1e-4 ≤ |x| < 1e16). */
export function float32Repr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  const f = Math.fround(x);
  if (f === 0) return Object.is(f, -0) ? '-0.0' : '0.0';
  let s = '';
  for (let p = 1; p <= 9; p++) {
    s = f.toPrecision(p);
    if (Math.fround(Number(s)) === f) break;
  }
  // digits and decimal exponent of the shortest form
  const [mant, expPart] = Number(s).toExponential().split('e');
  const digits = mant.replace('-', '').replace('.', '');
  const exp = Number(expPart);
  const sign = f < 0 ? '-' : '';
  const a = Math.abs(f);
  if (a >= 1e-4 && a < 1e16) {
    if (exp >= 0) {
      const int = digits.length > exp + 1 ? digits.slice(0, exp + 1) : digits.padEnd(exp + 1, '0');
      const frac = digits.length > exp + 1 ? digits.slice(exp + 1) : '0';
      return `${sign}${int}.${frac}`;
    }
    return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  }
  const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  return `${sign}${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
}

/** One CSV field with pandas' QUOTE_MINIMAL (line terminator '\n'). */
export function csvField(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export interface DescriptionRow {
  layer: string;
  unit: number;
  description: string;
  similarity: number;
}

/** The bytes of CLIP-Dissect's descriptions.csv for these rows. */
export function descriptionsCsv(rows: readonly DescriptionRow[]): string {
  const out = ['layer,unit,description,similarity\n'];
  for (const r of rows) out.push(`${csvField(r.layer)},${r.unit},${csvField(r.description)},${Number.isNaN(r.similarity) ? '' : float32Repr(r.similarity)}\n`);
  return out.join('');
}
