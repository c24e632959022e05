/**
 * Byte edits: the only way a rewriter changes a message. An edit replaces
 * bytes [start, end) of the original with `text`; start === end inserts.
 * Edits are applied in one copy (apply-edits.ts), so everything no edit
 * names stays byte-for-byte (header order, case, compact forms, whitespace,
 * unknown headers, trailing datagram bytes). Edit texts are shared and
 * read-only.
 */
import * as latin1Module from './latin1.js';

// Local copies of the imports (see "Module bindings" in README.md).
const { asciiBytes } = latin1Module;

export interface Edit {
  start: number;
  end: number;
  text: Uint8Array;
}

export function edit(start: number, end: number, text: string): Edit {
  return { start, end, text: editText(text) };
}

/**
 * The bytes of an ASCII edit text. Rewrites repeat the same few texts (public
 * addresses, ports), so short ones come from a bounded cache instead of a new
 * small typed array each time; edit texts are therefore read-only.
 */
const textCache = new Map<string, Uint8Array>();
export function editText(text: string): Uint8Array {
  if (text.length > 64) return asciiBytes(text);
  let t = textCache.get(text);
  if (t === undefined) {
    if (textCache.size >= 4096) textCache.clear();
    t = asciiBytes(text);
    textCache.set(text, t);
  }
  return t;
}

/** The decimal text of a port-sized number, from a table (ports recur); larger numbers are encoded each time. */
const numberTexts: (Uint8Array | undefined)[] = [];
export function numberText(n: number): Uint8Array {
  if (n >= 0 && n <= 0xffff && Number.isInteger(n)) return (numberTexts[n] ??= asciiBytes(String(n)));
  return asciiBytes(String(n));
}
