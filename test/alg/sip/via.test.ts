import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseViaList, parseTopVia, type ViaEntry } from '../../../src/alg/sip/index.js';
import { latin1Bytes, text } from './fixtures.js';

function vias(s: string): { b: Uint8Array; v: ViaEntry[] } {
  const b = latin1Bytes(s);
  const r = parseViaList(b, 0, b.length);
  if (!r.ok) assert.fail(`${s}: ${r.reason}`);
  return { b, v: r.entries };
}

const at = (b: Uint8Array, s: { start: number; end: number } | null | undefined) => (s ? text(b.subarray(s.start, s.end)) : null);

test('sent-protocol, sent-by and the parameters a NAT cares about', () => {
  const { b, v } = vias('SIP/2.0/UDP 10.0.1.2:5060;branch=z9hG4bK776;received=203.0.113.1;rport=40000;maddr=239.1.1.1');
  const e = v[0];
  assert.equal(e.transportName, 'udp');
  assert.equal(at(b, e.host), '10.0.1.2');
  assert.equal(e.hostKind, 'ipv4');
  assert.equal(e.portNumber, 5060);
  assert.equal(at(b, e.branch?.value), 'z9hG4bK776');
  assert.equal(at(b, e.received?.value), '203.0.113.1');
  assert.equal(at(b, e.rport?.value), '40000');
  assert.equal(at(b, e.maddr?.value), '239.1.1.1');
});

test('rport without a value; no port; IPv6; TLS', () => {
  const a = vias('SIP/2.0/TCP client.example.com;rport;branch=z9hG4bK1');
  assert.ok(a.v[0].rport);
  assert.equal(a.v[0].rport?.value, null);
  assert.equal(a.v[0].port, null);
  assert.equal(a.v[0].hostKind, 'name');
  const six = vias('SIP/2.0/TLS [2001:db8::9]:5061;branch=z9hG4bK2;received=2001:db8::10');
  assert.equal(six.v[0].hostKind, 'ipv6');
  assert.equal(at(six.b, six.v[0].host), '[2001:db8::9]');
  assert.equal(six.v[0].transportName, 'tls');
  assert.equal(at(six.b, six.v[0].received?.value), '2001:db8::10');
});

test('RFC 4475 wsinv: LWS and folds inside sent-protocol and sent-by, comma lists', () => {
  const top = vias('SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw');
  assert.equal(at(top.b, top.v[0].host), '192.0.2.2');
  assert.equal(at(top.b, top.v[0].transport), 'UDP');
  const two = vias('SIP  / 2.0  / TCP     spindle.example.com   ;\r\n  branch  =   z9hG4bK9ikj8  ,\r\n SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n z9hG4bK30239');
  assert.equal(two.v.length, 2);
  assert.equal(at(two.b, two.v[0].branch?.value), 'z9hG4bK9ikj8');
  assert.equal(at(two.b, two.v[1].host), '192.168.255.111');
  assert.equal(at(two.b, two.v[1].branch?.value), 'z9hG4bK30239');
  const colon = vias('SIP/2.0/UDP host.example.com : 5070 ;branch=x');
  assert.equal(colon.v[0].portNumber, 5070);
  assert.equal(at(colon.b, colon.v[0].port), '5070');
});

test('parseTopVia reads only the first value', () => {
  const b = latin1Bytes('SIP/2.0/UDP a.example.com;branch="x,y", SIP/2.0/UDP b.example.com;;broken');
  const top = parseTopVia(b, 0, b.length);
  assert.equal(top && at(b, top.host), 'a.example.com');
  assert.equal(parseViaList(b, 0, b.length).ok, false);
});

test('malformed Via values', () => {
  for (const s of [
    '', 'SIP/2.0/UDP', 'SIP/2.0 10.0.1.2', 'SIP/2.0/UDP10.0.1.2', 'SIP/2.0/UDP 192.0.2.15;;,;,,', 'SIP/2.0/UDP 10.0.1.2:',
    'SIP/2.0/UDP 10.0.1.2:70000', 'SIP/2.0/UDP [::1', 'SIP/2.0/UDP host;branch', 'SIP/2.0/UDP h, ', 'SIP/2.0/UDP -bad-',
  ]) {
    const b = latin1Bytes(s);
    if (s === 'SIP/2.0/UDP host;branch') {
      assert.equal(parseViaList(b, 0, b.length).ok, true, 'a bare parameter name is syntactically fine');
      continue;
    }
    assert.equal(parseViaList(b, 0, b.length).ok, false, s);
  }
});
