/**
 * Tokens of the ASN.1 notation, as much of it as the ITU H.225.0, H.245 and
 * H.235 modules use (X.680): references and keywords, numbers, strings, and
 * the punctuation of assignments, constraints and ranges. Comments run from
 * `--` to the next `--` or the end of the line, or between `/*` and `*\/`.
 */

export type TokenKind = 'word' | 'number' | 'string' | 'punct';

export interface Token {
  kind: TokenKind;
  text: string;
  line: number;
}

const PUNCT = ['::=', '...', '..', '[[', ']]', '{', '}', '(', ')', '[', ']', ',', ';', '|', '^', '&', '.', '<', '>', '@', '!', ':', '-'];

export function tokenize(source: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  const n = source.length;
  while (i < n) {
    const c = source[i];
    if (c === '\n') {
      line++;
      i++;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r' || c === '\f') {
      i++;
      continue;
    }
    if (c === '-' && source[i + 1] === '-') {
      // A comment ends at the next "--" or at the end of the line.
      i += 2;
      while (i < n && source[i] !== '\n' && !(source[i] === '-' && source[i + 1] === '-')) i++;
      if (source[i] === '-') i += 2;
      continue;
    }
    if (c === '/' && source[i + 1] === '*') {
      const end = source.indexOf('*/', i + 2);
      const stop = end < 0 ? n : end + 2;
      for (let k = i; k < stop; k++) if (source[k] === '\n') line++;
      i = stop;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      let text = '';
      for (;;) {
        if (j >= n) throw new Error(`line ${line}: unterminated string`);
        if (source[j] === '"') {
          if (source[j + 1] === '"') {
            text += '"';
            j += 2;
            continue;
          }
          break;
        }
        if (source[j] === '\n') line++;
        text += source[j++];
      }
      out.push({ kind: 'string', text, line });
      i = j + 1;
      continue;
    }
    if (/[0-9]/.test(c)) {
      let j = i;
      while (j < n && /[0-9]/.test(source[j])) j++;
      out.push({ kind: 'number', text: source.slice(i, j), line });
      i = j;
      continue;
    }
    if (/[A-Za-z]/.test(c)) {
      // A reference: letters, digits and single hyphens, not ending in a hyphen.
      let j = i + 1;
      while (j < n && (/[A-Za-z0-9]/.test(source[j]) || (source[j] === '-' && source[j + 1] !== '-' && /[A-Za-z0-9]/.test(source[j + 1] ?? '')))) j++;
      out.push({ kind: 'word', text: source.slice(i, j), line });
      i = j;
      continue;
    }
    const p = PUNCT.find((s) => source.startsWith(s, i));
    if (!p) throw new Error(`line ${line}: unexpected character ${JSON.stringify(c)}`);
    out.push({ kind: 'punct', text: p, line });
    i += p.length;
  }
  return out;
}
