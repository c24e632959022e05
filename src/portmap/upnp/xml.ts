/**
 * The little XML UPnP IGD needs, both ways: text escaped for element content,
 * and a reader for the flat shapes SOAP actions and descriptions have (an
 * element's text by name). Not a general XML parser: it reads only what the
 * protocol puts there, bounded, and treats anything else as absent.
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

/** The local name of a tag, without its namespace prefix. */
function localName(tag: string): string {
  const colon = tag.indexOf(':');
  return colon < 0 ? tag : tag.slice(colon + 1);
}

/**
 * The child elements of the first element named `parent` (any namespace
 * prefix): name -> text, for elements holding text only. Null when there is
 * no such element.
 */
export function childTexts(xml: string, parent: string): Map<string, string> | null {
  const open = new RegExp(`<([\\w.-]+:)?${parent}(\\s[^>]*)?>`, 'i').exec(xml);
  if (!open) return null;
  const start = open.index + open[0].length;
  const close = new RegExp(`</([\\w.-]+:)?${parent}\\s*>`, 'i');
  const end = close.exec(xml.slice(start));
  const body = end ? xml.slice(start, start + end.index) : xml.slice(start);
  const out = new Map<string, string>();
  const child = /<([\w.:-]+)(?:\s[^>]*)?(?:\/>|>([^<]*)<\/\1\s*>)/g;
  let m: RegExpExecArray | null;
  let n = 0;
  while ((m = child.exec(body)) !== null && n++ < 64) out.set(localName(m[1]), unescapeXml(m[2] ?? '').trim());
  return out;
}

/** The text of the first element named `name` anywhere, or null. */
export function elementText(xml: string, name: string): string | null {
  const m = new RegExp(`<([\\w.-]+:)?${name}(?:\\s[^>]*)?>([^<]*)</([\\w.-]+:)?${name}\\s*>`, 'i').exec(xml);
  return m ? unescapeXml(m[2]).trim() : null;
}
