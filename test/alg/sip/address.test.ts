import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseAddressList, parseSingleAddress, findParam, type AddressEntry } from '../../../src/alg/sip/index.js';
import { latin1Bytes, text } from './fixtures.js';

function list(s: string, star = false): { b: Uint8Array; entries: AddressEntry[]; star: boolean } {
  const b = latin1Bytes(s);
  const r = parseAddressList(b, 0, b.length, star);
  if (!r.ok) assert.fail(`${s}: ${r.reason}`);
  return { b, entries: r.entries, star: r.star };
}

const at = (b: Uint8Array, s: { start: number; end: number } | null) => (s ? text(b.subarray(s.start, s.end)) : null);

test('name-addr with display name and header parameters', () => {
  const { b, entries } = list('"Alice A." <sip:alice@10.0.1.2:5060;transport=udp>;tag=88sja8x;expires=3600');
  assert.equal(entries.length, 1);
  const e = entries[0];
  assert.equal(at(b, e.displayName), '"Alice A."');
  assert.equal(e.angle, true);
  assert.equal(at(b, e.uriSpan), 'sip:alice@10.0.1.2:5060;transport=udp');
  assert.equal(e.uri?.params.length, 1, 'the URI parameter stays in the URI');
  assert.equal(at(b, findParam(b, e.params, 'tag')!.value), '88sja8x');
  assert.equal(at(b, findParam(b, e.params, 'expires')!.value), '3600');
});

test('addr-spec: parameters after the URI belong to the header', () => {
  const { b, entries } = list('sip:+19725552222@gw1.example.net;unknownparam');
  assert.equal(entries[0].angle, false);
  assert.equal(at(b, entries[0].uriSpan), 'sip:+19725552222@gw1.example.net');
  assert.equal(entries[0].uri?.params.length, 0);
  assert.equal(at(b, entries[0].params[0].name), 'unknownparam');
});

test('lists: several values, folding, LWS around separators (RFC 4475 wsinv)', () => {
  const { b, entries } = list('<sip:a@10.0.1.2>, Bob <sip:b@10.0.1.3>;q=0.5 ,\r\n sip:c@10.0.1.4');
  assert.deepEqual(entries.map((e) => at(b, e.uriSpan)), ['sip:a@10.0.1.2', 'sip:b@10.0.1.3', 'sip:c@10.0.1.4']);
  const w = list('"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam =\r\n      newvalue ;\r\n  secondparam ; q = 0.33');
  assert.equal(w.entries[0].params.length, 3);
  assert.equal(at(w.b, w.entries[0].params[0].value), 'newvalue');
  assert.equal(w.entries[0].params[1].value, null);
  const to = list(' sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n');
  assert.equal(at(to.b, findParam(to.b, to.entries[0].params, 'tag')!.value), '1918181833n');
});

test('display names: tokens, no LWS before "<" (lwsdisp), escapes and controls in quotes (intmeth)', () => {
  assert.equal(at(list('caller<sip:caller@example.com>;tag=323').b, list('caller<sip:caller@example.com>;tag=323').entries[0].displayName), 'caller');
  const q = list('"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f" <sip:1_unusual.URI~(to-be!sure)&isn\'t+it$/crazy?,/;;*@example.com>');
  assert.ok(q.entries[0].uri);
  assert.equal(q.entries.length, 1, 'commas and semicolons inside <> do not split');
  const tokens = list("token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;tag=_token~1'+`*%!-.");
  assert.equal(at(tokens.b, tokens.entries[0].displayName), "token1~` token2'+_ token3*%!.-");
});

test('Contact "*"', () => {
  assert.equal(list(' * ', true).star, true);
  const b = latin1Bytes('*');
  assert.equal(parseAddressList(b, 0, 1, false).ok, true, 'without allowStar "*" is an (unreadable) addr-spec');
  assert.equal(parseAddressList(latin1Bytes('* x'), 0, 3, true).ok, false);
});

test('malformed lists', () => {
  for (const s of [
    '', '"Mr. J. User <sip:j.user@example.com>', '<sip:a@b', '<sip:a@b>;;', '<sip:a@b>;tag=', 'sip:a@b?Route=x',
    '<sip:a@b>, ', '"Joe" sip:joe@x', '<sip:a@b> junk', 'Bad"Name <sip:a@b>',
  ]) {
    const b = latin1Bytes(s);
    assert.equal(parseAddressList(b, 0, b.length, true).ok, false, s);
  }
});

test('unreadable URIs are reported, not hidden', () => {
  const { entries } = list('< sip:t.watson@example.org >');
  assert.equal(entries[0].uri, null);
  const two = list('Bell, Alexander <sip:a.g.bell@example.com>;tag=43');
  assert.equal(two.entries.length, 2);
});

test('parseSingleAddress: the entry when the value is exactly one, else what parseAddressList says', () => {
  const one = latin1Bytes('  "A" <sip:a@10.0.1.2>;tag=1 ');
  const e = parseSingleAddress(one, 0, one.length);
  assert.ok('span' in e);
  assert.deepEqual(e, (parseAddressList(one, 0, one.length) as { entries: AddressEntry[] }).entries[0]);
  const noUri = parseSingleAddress(one, 0, one.length, false);
  assert.ok('span' in noUri && noUri.uri === null);
  for (const s of ['<sip:a@x>, <sip:b@x>', '<sip:a@x>, <sip:b@x', '', '   ', '<sip:a@x', 'sip:a@x?y', '"unterminated <sip:a@x>', '<sip:a@x>;;']) {
    const b = latin1Bytes(s);
    const r = parseSingleAddress(b, 0, b.length);
    assert.ok(!('span' in r), s);
    assert.deepEqual(r, parseAddressList(b, 0, b.length), s);
  }
});

test('property: parseSingleAddress agrees with parseAddressList on any value', () => {
  const piece = fc.constantFrom('<', '>', 'sip:a@10.0.1.2', '"d n"', ' ', ',', ';tag=1', ';', '=', 'x', '"', '\\\\', '*', '\r\n ');
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 12 }), fc.boolean(), (parts, uris) => {
      const b = latin1Bytes(parts.join(''));
      const single = parseSingleAddress(b, 0, b.length, uris);
      const list = parseAddressList(b, 0, b.length, false, uris);
      if ('span' in single) {
        assert.ok(list.ok && list.entries.length === 1);
        assert.deepEqual(single, list.entries[0]);
      } else {
        assert.deepEqual(single, list);
        assert.ok(!list.ok || list.entries.length !== 1);
      }
    }),
    { numRuns: 2000 },
  );
});
