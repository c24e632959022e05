/**
 * The UPnP XML reader (src/portmap/upnp/xml.ts): it reads what the regular
 * expressions it replaced read (the reference below, kept here only as the
 * oracle), and its time is linear: the shapes that made those expressions
 * quadratic (a `<` then `[^>]*` to the end, again at every `<`) cost about
 * the same per byte at 4 KB and at 64 KB.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { childTexts, elementText, unescapeXml } from '../../src/portmap/upnp/xml.js';
import { parseSoapAction } from '../../src/portmap/upnp/soap.js';

function referenceChildTexts(xml: string, parent: string): Map<string, string> | null {
  const open = new RegExp(`<([\\w.-]+:)?${parent}(\\s[^>]*)?>`, 'i').exec(xml);
  if (!open) return null;
  const start = open.index + open[0].length;
  const end = new RegExp(`</([\\w.-]+:)?${parent}\\s*>`, 'i').exec(xml.slice(start));
  const body = end ? xml.slice(start, start + end.index) : xml.slice(start);
  const out = new Map<string, string>();
  const child = /<([\w.:-]+)(?:\s[^>]*)?(?:\/>|>([^<]*)<\/\1\s*>)/g;
  let m: RegExpExecArray | null;
  let n = 0;
  while ((m = child.exec(body)) !== null && n++ < 64) out.set(m[1].slice(m[1].indexOf(':') + 1), unescapeXml(m[2] ?? '').trim());
  return out;
}

function referenceElementText(xml: string, name: string): string | null {
  const m = new RegExp(`<([\\w.-]+:)?${name}(?:\\s[^>]*)?>([^<]*)</([\\w.-]+:)?${name}\\s*>`, 'i').exec(xml);
  return m ? unescapeXml(m[2]).trim() : null;
}

const piece = fc.constantFrom('<', '>', '/', '/>', ':', ' ', '\n', 'a', 'X', 'x', 'u:', 'b', '&amp;', '<X>', '</X>', '<u:X ', '</u:x >', '<a>', '</a>', '<b/>', '<a b="1">', '"', 'Y');
const doc = fc.array(piece, { maxLength: 40 }).map((p) => p.join(''));

test('reads the same as the regular expressions it replaced', () => {
  fc.assert(
    fc.property(doc, (xml) => {
      assert.deepEqual(childTexts(xml, 'X'), referenceChildTexts(xml, 'X'));
      assert.equal(elementText(xml, 'X'), referenceElementText(xml, 'X'));
      assert.equal(elementText(xml, 'a'), referenceElementText(xml, 'a'));
    }),
    { numRuns: 3000 },
  );
});

test('SOAP bodies and descriptions as before', () => {
  const body = '<s:Envelope><s:Body><u:AddPortMapping xmlns:u="x"><NewRemoteHost/><NewExternalPort> 80 </NewExternalPort><NewPortMappingDescription>a &amp; &lt;b&gt;</NewPortMappingDescription></u:AddPortMapping></s:Body></s:Envelope>';
  assert.deepEqual([...childTexts(body, 'AddPortMapping')!], [['NewRemoteHost', ''], ['NewExternalPort', '80'], ['NewPortMappingDescription', 'a & <b>']]);
  assert.equal(elementText('<service><serviceType>urn:x</serviceType><controlURL>/ctl</controlURL></service>', 'controlURL'), '/ctl');
  assert.equal(childTexts('<a>', 'X'), null);
});

test('linear time on the shapes that were quadratic (CPU per byte at 64 KB within 4x of that at 4 KB)', () => {
  for (const unit of ['<X ', '<a ', '<a a', '<serviceType ']) {
    const perByte = (n: number) => {
      const xml = `<u:X>${unit.repeat(Math.ceil(n / unit.length))}`;
      const t0 = process.cpuUsage();
      for (let i = 0; i < 3; i++) {
        childTexts(xml, 'X');
        elementText(xml, 'serviceType');
        parseSoapAction('"urn:x#X"', xml);
      }
      const t = process.cpuUsage(t0);
      return (t.user + t.system + 1) / n;
    };
    perByte(4096);
    const small = Math.min(perByte(4096), perByte(4096));
    const large = Math.min(perByte(65536), perByte(65536));
    assert.ok(large < small * 4 + 0.05, `${JSON.stringify(unit)}: ${small.toFixed(3)} µs/byte at 4 KB, ${large.toFixed(3)} at 64 KB`);
  }
});
