import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseUri, parseHostPort, findParam, type Uri } from '../../../src/alg/sip/index.js';
import { latin1Bytes, text } from './fixtures.js';

function uri(s: string): { b: Uint8Array; u: Uri } {
  const b = latin1Bytes(s);
  const u = parseUri(b, 0, b.length);
  if (!u) assert.fail(`not a URI: ${s}`);
  return { b, u };
}

const at = (b: Uint8Array, s: { start: number; end: number } | null) => (s ? text(b.subarray(s.start, s.end)) : null);

test('sip URI with user, IPv4 host, port, parameters and headers', () => {
  const { b, u } = uri('sip:alice@10.0.1.2:5062;Transport=tcp;maddr=10.0.1.3;lr?Subject=hi');
  assert.equal(u.scheme, 'sip');
  assert.equal(at(b, u.user), 'alice');
  assert.equal(u.hostPort?.kind, 'ipv4');
  assert.equal(at(b, u.hostPort!.host), '10.0.1.2');
  assert.equal(at(b, u.hostPort!.port), '5062');
  assert.equal(u.hostPort?.portNumber, 5062);
  assert.equal(u.params.length, 3);
  assert.equal(at(b, findParam(b, u.params, 'transport')!.value), 'tcp');
  assert.equal(at(b, findParam(b, u.params, 'maddr')!.value), '10.0.1.3');
  assert.equal(findParam(b, u.params, 'lr')!.value, null);
  assert.equal(at(b, u.headers), 'Subject=hi');
});

test('sips, IPv6 references, hostnames, no user, no port', () => {
  const v6 = uri('sips:[2001:db8::1]:5061');
  assert.equal(v6.u.scheme, 'sips');
  assert.equal(v6.u.hostPort?.kind, 'ipv6');
  assert.equal(at(v6.b, v6.u.hostPort!.host), '[2001:db8::1]');
  assert.equal(v6.u.hostPort?.portNumber, 5061);
  const mapped = uri('sip:user@[::ffff:192.0.2.1]');
  assert.equal(mapped.u.hostPort?.kind, 'ipv6');
  const name = uri('SIP:example.com');
  assert.equal(name.u.scheme, 'sip');
  assert.equal(name.u.user, null);
  assert.equal(name.u.hostPort?.kind, 'name');
  assert.equal(name.u.hostPort?.port, null);
});

test('RFC 4475 user parts: password, reserved characters, escapes', () => {
  const i = uri("sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com");
  assert.equal(at(i.b, i.u.user), "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
  assert.equal(at(i.b, i.u.password), "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
  assert.equal(at(i.b, i.u.hostPort!.host), 'example.com');
  const semi = uri('sip:user;par=u%40example.net@example.com');
  assert.equal(at(semi.b, semi.u.user), 'user;par=u%40example.net');
  const esc = uri('sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31');
  assert.equal(esc.u.params.length, 2);
  assert.equal(at(esc.b, esc.u.params[1].value), 'v%61lue%25%34%31');
});

test('tel: and other schemes are kept opaque', () => {
  const t = uri('tel:+1-201-555-0123;phone-context=example.com');
  assert.equal(t.u.scheme, 'tel');
  assert.equal(at(t.b, t.u.user), '+1-201-555-0123');
  assert.equal(t.u.hostPort, null);
  assert.equal(t.u.params.length, 1);
  for (const s of ['soap.beep://192.0.2.103:3002', 'nobodyKnowsThisScheme:totallyopaquecontent', 'isbn:2983792873', 'http://www.example.com']) {
    const o = uri(s);
    assert.equal(o.u.scheme, 'other', s);
    assert.equal(o.u.hostPort, null);
  }
});

test('not URIs', () => {
  for (const s of [
    '', 'sip:', 'sip:@host', 'sip:a@b@c', 'sip:a@host:', 'sip:a@host:99999', 'sip:a@host:12x', 'sip:a b@host',
    '<sip:a@b>', ' sip:a@b', 'sip:a@b ', 'sip:a@[2001:db8::1', 'sip:a@[zz::1]', 'sip:a@host;', 'sip:a@host;=x',
    'sip:a@-host.com', 'sip:a@host..com', '1sip:a@b', 'tel:', 'x:', 'sip:a@b;p="q"',
  ]) {
    const b = latin1Bytes(s);
    assert.equal(parseUri(b, 0, b.length), null, s);
  }
});

test('hostport on its own', () => {
  const b = latin1Bytes('192.0.2.1:65535');
  const hp = parseHostPort(b, 0, b.length);
  assert.equal(hp?.portNumber, 65535);
  assert.equal(parseHostPort(latin1Bytes('256.1.1.1'), 0, 9)?.kind, 'name');
  assert.equal(parseHostPort(latin1Bytes('a:b:c'), 0, 5), null);
});

test('property: a URI that parses reads the same scheme and host as a regular-expression reading of it', () => {
  const uri = fc.tuple(
    fc.constantFrom('sip', 'SIP', 'sips', 'SiPs', 'tel', 'sipx', 'http', 's1p'),
    fc.constantFrom('', 'alice@', 'a:pw@', 'a%40b@'),
    fc.constantFrom('10.0.1.2', 'example.com', '[fd00::1]', 'a-b.c'),
    fc.constantFrom('', ':5060', ':99999'),
    fc.constantFrom('', ';transport=tcp', ';lr', ';maddr=10.0.1.3', '?h=1'),
  ).map((p) => p.join(''));
  fc.assert(
    fc.property(uri, (s) => {
      const b = latin1Bytes(s);
      const u = parseUri(b, 0, b.length);
      const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(s);
      if (!u) return;
      const scheme = m![1].toLowerCase();
      assert.equal(u.scheme, scheme === 'sip' || scheme === 'sips' || scheme === 'tel' ? scheme : 'other', s);
      if (u.hostPort) assert.match(s, new RegExp(`[:@]${text(b.subarray(u.hostPort.host.start, u.hostPort.host.end)).replace(/[.[\]]/g, '\\$&')}(:|;|\\?|$)`));
    }),
    { numRuns: 1000 },
  );
});
