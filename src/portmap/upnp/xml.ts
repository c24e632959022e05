/**
 * The little XML UPnP IGD needs, both ways: text escaped for element content,
 * and a reader for the flat shapes SOAP actions and descriptions have (an
 * element's text by name). Not a general XML parser: it reads only what the
 * protocol puts there, bounded, and treats anything else as absent.
 *
 * The reader is a scanner that looks at each `<` once and finds the `>` and
 * `<` after it from a cursor that only moves forward: its time is linear in
 * the input. (Regular expressions with `[^>]*` after every `<` were
 * quadratic: a 16 KB body of `<X ` repeated held the gateway for over a
 * second, found by the upnp-soap fuzz target.)
 */

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&${Object.entries(ENTITIES).find(([, v]) => v === c)![0]};`);
}

export function unescapeXml(s: string): string {
  return s.replace(/&(#x[0-9a-f]{1,6}|#\d{1,7}|lt|gt|amp|quot|apos);/gi, (m, e: string) => {
    if (e[0] === '#') {
      const code = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : m;
    }
    return ENTITIES[e.toLowerCase()] ?? m;
  });
}

const isNameChar = (c: number) => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c === 0x2e || c === 0x2d || c === 0x3a;
const SPACE = /\s/;

/** The next index of a character at or after `from`, remembered: asked again from no further on, it answers without scanning. */
function finder(xml: string, ch: string): (from: number) => number {
  let askedFrom = Infinity;
  let found = -1;
  return (from) => {
    if (from >= askedFrom && (found === -1 || from <= found)) return found;
    askedFrom = from;
    found = xml.indexOf(ch, from);
    return found;
  };
}

/** The end of the name token (letters, digits, _ . - :) that starts at `at`. */
function nameEnd(xml: string, at: number): number {
  let i = at;
  while (i < xml.length && isNameChar(xml.charCodeAt(i))) i++;
  return i;
}

/** Whether `tag` is `name`, or `prefix:name` with one prefix, ignoring case. */
function namesElement(tag: string, name: string): boolean {
  const colon = tag.indexOf(':');
  const local = colon < 0 ? tag : tag.slice(colon + 1);
  return local.length === name.length && local.indexOf(':') < 0 && colon !== 0 && local.toLowerCase() === name.toLowerCase();
}

interface Tag {
  name: string;
  /** Just past the tag's `>`. */
  end: number;
  /** `<x/>`: no `>`-ended text can follow the name (with attributes, `<x a/>`, the `/` is just before `>`). */
  bare: boolean;
  /** Ends in `/>`. */
  selfClosing: boolean;
}

/** The start tag at `at` (a `<`): its name, then `>`, or white space and anything up to the first `>`; null if it is none. */
function startTag(xml: string, at: number, nextGt: (from: number) => number): Tag | null {
  const ne = nameEnd(xml, at + 1);
  if (ne === at + 1) return null;
  const c = xml[ne];
  if (c === '>') return { name: xml.slice(at + 1, ne), end: ne + 1, bare: false, selfClosing: false };
  if (c === '/' && xml[ne + 1] === '>') return { name: xml.slice(at + 1, ne), end: ne + 2, bare: true, selfClosing: true };
  if (c === undefined || !SPACE.test(c)) return null;
  const gt = nextGt(ne);
  if (gt < 0) return null;
  return { name: xml.slice(at + 1, ne), end: gt + 1, bare: false, selfClosing: xml[gt - 1] === '/' };
}

/** The end of the end tag at `at` (`</` name, white space, `>`) when its name passes `ok`, else -1. */
function endTag(xml: string, at: number, ok: (tag: string) => boolean): number {
  if (xml[at] !== '<' || xml[at + 1] !== '/') return -1;
  const ne = nameEnd(xml, at + 2);
  if (ne === at + 2 || !ok(xml.slice(at + 2, ne))) return -1;
  let i = ne;
  while (i < xml.length && SPACE.test(xml[i])) i++;
  return xml[i] === '>' ? i + 1 : -1;
}

/** The local name of a tag, without its namespace prefix. */
function localName(tag: string): string {
  const colon = tag.indexOf(':');
  return colon < 0 ? tag : tag.slice(colon + 1);
}

/** An element's text (`<x>text</x>`, with its end tag right after the text) at a start tag, or null. */
function textAfter(xml: string, tag: Tag, nextLt: (from: number) => number, endOk: (name: string) => boolean): { text: string; end: number } | null {
  const lt = nextLt(tag.end);
  if (lt < 0) return null;
  const end = endTag(xml, lt, endOk);
  return end < 0 ? null : { text: xml.slice(tag.end, lt), end };
}

/**
 * The child elements of the first element named `parent` (any namespace
 * prefix): name -> text, for elements holding text only (at most 64). Null
 * when there is no such element.
 */
export function childTexts(xml: string, parent: string): Map<string, string> | null {
  const nextGt = finder(xml, '>');
  let open: Tag | null = null;
  for (let at = xml.indexOf('<'); at >= 0; at = xml.indexOf('<', at + 1)) {
    const t = startTag(xml, at, nextGt);
    if (t && !t.bare && namesElement(t.name, parent)) {
      open = t;
      break;
    }
  }
  if (!open) return null;
  let bodyEnd = xml.length;
  for (let at = xml.indexOf('</', open.end); at >= 0; at = xml.indexOf('</', at + 2)) {
    if (endTag(xml, at, (tag) => namesElement(tag, parent)) >= 0) {
      bodyEnd = at;
      break;
    }
  }
  const body = xml.slice(open.end, bodyEnd);
  const gt = finder(body, '>');
  const lt = finder(body, '<');
  const out = new Map<string, string>();
  let n = 0;
  for (let at = body.indexOf('<'); at >= 0 && n < 64; ) {
    const t = startTag(body, at, gt);
    const text = t && !t.bare ? textAfter(body, t, lt, (name) => name === t.name) : null;
    if (t && (text || t.selfClosing)) {
      out.set(localName(t.name), unescapeXml(text?.text ?? '').trim());
      n++;
      at = body.indexOf('<', text ? text.end : t.end);
    } else {
      at = body.indexOf('<', at + 1);
    }
  }
  return out;
}

/** The text of the first element named `name` anywhere, or null. */
export function elementText(xml: string, name: string): string | null {
  const nextGt = finder(xml, '>');
  const nextLt = finder(xml, '<');
  const named = (tag: string) => namesElement(tag, name);
  for (let at = xml.indexOf('<'); at >= 0; at = xml.indexOf('<', at + 1)) {
    const t = startTag(xml, at, nextGt);
    if (!t || t.bare || !named(t.name)) continue;
    const text = textAfter(xml, t, nextLt, named);
    if (text) return unescapeXml(text.text).trim();
  }
  return null;
}
