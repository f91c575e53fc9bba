// CLIP's byte-level BPE tokenizer (openai/CLIP clip/simple_tokenizer.py + clip.tokenize), from the merges file
// (bpe_simple_vocab_16e6.txt, already decompressed). Same vocabulary layout (256 byte symbols, the same with '</w>',
// one entry per merge, <|startoftext|>, <|endoftext|>; a repeated entry takes the later id, as a Python dict does),
// same pre-tokenising pattern, same merge loop, same context handling (77 ids, zero padded, too long is an error).
// Text cleaning: ftfy.fix_text is approximated by Unicode NFC (ftfy's repairs of mis-decoded text are not
// reproduced); html.unescape (applied twice) handles numeric references and the common named ones.

/** bytes_to_unicode: printable bytes map to themselves, the others to 256 + n; in the reference's dict order. */
function byteSymbols(): { order: number[]; symbol: string[] } {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const symbol = new Array<string>(256);
  bs.forEach((b, i) => (symbol[b] = String.fromCodePoint(cs[i])));
  return { order: bs, symbol };
}

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

/** html.unescape for numeric character references and the common named ones. */
export function htmlUnescape(s: string): string {
  return s.replace(/&(#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z]+);/g, (m, body: string) => {
    if (body[0] === '#') {
      const cp = body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      return cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : m;
    }
    return NAMED[body] ?? m;
  });
}

export class ClipTokenizer {
  private readonly encoder = new Map<string, number>();
  private readonly ranks = new Map<string, number>();
  private readonly cache = new Map<string, string[]>();
  private readonly symbol: string[];
  readonly sot: number;
  readonly eot: number;
  private static readonly PAT = /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+/giu;

  /** `mergesText`: the merges file's text (first line a header, then "a b" per line). */
  constructor(mergesText: string) {
    const lines = mergesText.split('\n').slice(1, 49152 - 256 - 2 + 1);
    const merges = lines.map((l) => l.split(/\s+/).filter((x) => x !== ''));
    const { order, symbol } = byteSymbols();
    this.symbol = symbol;
    const vocab = order.map((b) => symbol[b]);
    vocab.push(...vocab.map((v) => v + '</w>'));
    for (const m of merges) vocab.push(m.join(''));
    vocab.push('<|startoftext|>', '<|endoftext|>');
    vocab.forEach((v, i) => this.encoder.set(v, i)); // a later duplicate wins, as dict(zip(vocab, range))
    merges.forEach((m, i) => this.ranks.set(`${m[0]} ${m[1]}`, i));
    this.sot = this.encoder.get('<|startoftext|>')!;
    this.eot = this.encoder.get('<|endoftext|>')!;
    this.cache.set('<|startoftext|>', ['<|startoftext|>']);
    this.cache.set('<|endoftext|>', ['<|endoftext|>']);
  }

  private bpe(token: string): string[] {
    const hit = this.cache.get(token);
    if (hit) return hit;
    const chars = Array.from(token);
    let word = [...chars.slice(0, -1), chars[chars.length - 1] + '</w>'];
    while (word.length > 1) {
      let best = -1, bestRank = Infinity;
      for (let i = 0; i + 1 < word.length; i++) {
        const r = this.ranks.get(`${word[i]} ${word[i + 1]}`);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) break;
      const first = word[best], second = word[best + 1];
      const next: string[] = [];
      for (let i = 0; i < word.length; ) {
        if (word[i] === first && i < word.length - 1 && word[i + 1] === second) {
          next.push(first + second);
          i += 2;
        } else next.push(word[i++]);
      }
      word = next;
    }
    this.cache.set(token, word);
    return word;
  }

  /** SimpleTokenizer.encode: cleaned, lower-cased text → BPE ids. */
  encode(text: string): number[] {
    const clean = htmlUnescape(htmlUnescape(text.normalize('NFC'))).trim().replace(/\s+/gu, ' ').trim().toLowerCase();
    const ids: number[] = [];
    for (const m of clean.matchAll(ClipTokenizer.PAT)) {
      const bytes = new TextEncoder().encode(m[0]);
      const token = Array.from(bytes, (b) => this.symbol[b]).join('');
      for (const piece of this.bpe(token)) ids.push(this.encoder.get(piece)!);
    }
    return ids;
  }

  /** clip.tokenize(texts, context_length): [sot, …, eot] zero-padded, row-major texts × contextLength. */
  tokenize(texts: readonly string[], contextLength = 77): BigInt64Array {
    const out = new BigInt64Array(texts.length * contextLength);
    texts.forEach((t, i) => {
      const ids = [this.sot, ...this.encode(t), this.eot];
      if (ids.length > contextLength) throw new Error(`Input ${t} is too long for context length ${contextLength}`);
      ids.forEach((id, j) => (out[i * contextLength + j] = BigInt(id)));
    });
    return out;
  }
}
