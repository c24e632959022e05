/**
 * A peer's SDP naming an inside address, our own public address, or 0.0.0.0
 * (hold) as its media address (found by the sip-alg fuzz targets) must not
 * make the phone's pinholes admit that address, or anyone: they keep
 * admitting the signalling peer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AlgHarness } from '../alg-harness.js';
import { ipv4ToString } from '../../../src/wire/address.js';
import { latin1Bytes } from './fixtures.js';

const PROXY = '198.51.100.10:5060';

function message(start: string, callId: string, sdpAddr: string, port: number, extra = ''): Uint8Array {
  const body = `v=0\r\no=- 1 1 IN IP4 ${sdpAddr}\r\ns=-\r\nc=IN IP4 ${sdpAddr}\r\nt=0 0\r\nm=audio ${port} RTP/AVP 0\r\n`;
  return latin1Bytes(
    `${start}\r\nVia: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>${extra}\r\nCall-ID: ${callId}\r\nCSeq: 1 INVITE\r\nContact: <sip:a@10.0.0.2:5060>\r\nContent-Type: application/sdp\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
  );
}

for (const announced of ['10.0.0.3', '10.0.0.2', '203.0.113.1', '0.0.0.0']) {
  test(`the answer's media address ${announced}: the phone's pinholes still admit the signalling peer only`, () => {
    const h = new AlgHarness({ alg: 'sip' });
    h.udp('10.0.0.2:5060', PROXY, message('INVITE sip:b@198.51.100.10 SIP/2.0', 'pm1', '10.0.0.2', 30000), 'out');
    const before = h.pinholesToward('10.0.0.2');
    assert.equal(before.length, 2, 'RTP and RTCP');
    h.udp('10.0.0.2:5060', PROXY, message('SIP/2.0 200 OK', 'pm1', announced, 40000, ';tag=2'), 'in');
    const after = h.pinholesToward('10.0.0.2');
    assert.equal(after.length, 2);
    for (const e of after) assert.equal(ipv4ToString(e.remoteAddr), '198.51.100.10');
    // A later offer from the phone in the same call: no pinhole admits the inside address either.
    h.udp('10.0.0.2:5060', PROXY, message('INVITE sip:b@198.51.100.10 SIP/2.0', 'pm1', '10.0.0.2', 30002, ';tag=2'), 'out');
    for (const e of h.pinholesToward('10.0.0.2')) assert.notEqual(ipv4ToString(e.remoteAddr), announced);
  });
}
