// Minimal RFC 4180 CSV: quoted fields with "" escapes, CRLF or LF line ends. Rows keep their 1-based line number
// so errors can name `file:line`.

export interface CsvRow {
  /** 1-based line number where the row starts. */
  line: number;
  fields: string[];
}

/** Parses CSV text into rows (header included). Blank lines are skipped. Throws on an unterminated quote. */
export function parseCsv(text: string, file = '<csv>'): CsvRow[] {
  const rows: CsvRow[] = [];
  let i = 0;
  let line = 1;
  const n = text.length;
  if (text.charCodeAt(0) === 0xfeff) i = 1; // BOM
  while (i < n) {
    const startLine = line;
    const fields: string[] = [];
    let field = '';
    let quotedStart = -1;
    for (;;) {
      if (i >= n) {
        fields.push(field);
        break;
      }
      const ch = text[i];
      if (ch === '"' && field === '' && quotedStart < 0) {
        quotedStart = line;
        i++;
        for (;;) {
          if (i >= n) throw new Error(`${file}:${quotedStart}: unterminated quoted field`);
          const c = text[i];
          if (c === '"') {
            if (text[i + 1] === '"') {
              field += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (c === '\n') line++;
          field += c;
          i++;
        }
        continue;
      }
      if (ch === ',') {
        fields.push(field);
        field = '';
        quotedStart = -1;
        i++;
        continue;
      }
      if (ch === '\r' && text[i + 1] === '\n') {
        i += 2;
        fields.push(field);
        line++;
        break;
      }
      if (ch === '\n') {
        i++;
        fields.push(field);
        line++;
        break;
      }
      // a run of ordinary characters in one slice (appending them one by one made a cons string per character)
      let j = i + 1;
      for (; j < n; j++) {
        const c = text.charCodeAt(j);
        if (c === 44 || c === 10 || c === 13) break; // , \n \r
      }
      field += text.slice(i, j);
      i = j;
    }
    if (fields.length === 1 && fields[0] === '') continue;
    rows.push({ line: startLine, fields });
  }
  return rows;
}

/** Quotes a field when it holds a comma, quote or line break. */
export function csvField(v: string | number): string {
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Formats rows (header first) as CSV text with LF line ends and a final newline. */
export function formatCsv(rows: (string | number)[][]): string {
  return rows.map((r) => r.map(csvField).join(',')).join('\n') + '\n';
}
