/**
 * SIP seeds: the RFC 4475 torture messages of the unit tests, messages of the
 * shared captures (UDP datagrams, TCP payloads), and messages drawn from the
 * property tests' generator with a fixed seed.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { capturePayloads } from '../captures.js';
import { FUZZ_DIR } from '../registry.js';
import { latin1 } from '../target.js';
import { sipMessageArb, type SipWorld } from '../../../test/alg/sip/message-generator.js';

export const SIP_CAPTURES = ['sip.pcap', 'sip_hello.pcapng', 'sip_invalid-content-length.pcap', 'sip_sip-junk-before-request.pcap', 'FAX-Call-t38-CA-TDM-SIP-FB-1.pcap', 'http_on_sip_port.pcap'];

export const SIP_WORLD: SipWorld = {
  sender: '10.0.0.2',
  otherInside: ['10.0.0.3', '10.0.0.4', '192.168.1.9'],
  publicAddr: '203.0.113.1',
  outside: ['198.51.100.10', '198.51.100.77'],
};

export function rfc4475Messages(): Uint8Array[] {
  const dir = join(FUZZ_DIR, '../../test/alg/sip/rfc4475');
  return readdirSync(dir).filter((f) => f.endsWith('.sip')).sort().map((f) => new Uint8Array(readFileSync(join(dir, f))));
}

export function captureSipMessages(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const c of SIP_CAPTURES) {
    for (const p of [...capturePayloads(c, 17, 200), ...capturePayloads(c, 6, 100)]) {
      // Only what looks like text (SIP, or the HTTP that must not be taken for it), not RTP.
      if (p.length > 8 && p[0] >= 0x20 && p[0] < 0x7f && p.length <= 4096) out.push(p);
    }
  }
  return out;
}

export function generatedSipMessages(n: number, seed = 42): Uint8Array[] {
  return fc.sample(sipMessageArb(SIP_WORLD), { seed, numRuns: n }).map(latin1);
}

export const SIP_DICTIONARY = [
  'SIP/2.0', 'SIP/2.0/UDP ', 'SIP/2.0/TCP ', 'sip:', 'sips:', 'tel:', 'INVITE', 'REGISTER', 'BYE', 'CANCEL', 'ACK', '200 OK',
  'Via: ', 'v: ', 'Contact: ', 'm: ', 'Content-Length: ', 'l: ', 'Content-Type: application/sdp', 'c: ', 'Call-ID: ', 'CSeq: 1 INVITE',
  'Expires: ', ';expires=', ';rport', ';received=', ';maddr=', ';branch=z9hG4bK', ';transport=tcp', ';lr', '<', '>', '"', ',', ';', '@',
  '10.0.0.2', '10.0.0.3', '203.0.113.1', '198.51.100.10', '[2001:db8::1]', ':5060', ':1023', ':0', ':65536', '\r\n', '\r\n ', '\r\n\r\n',
  'm=audio ', 'm=video ', 'm=image ', ' RTP/AVP 0', 'c=IN IP4 ', 'c=IN IP6 ', 'o=- 1 1 IN IP4 ', 'a=rtcp:', 'a=rtcp-mux', '/2', 'v=0',
  'multipart/mixed;boundary=b', '--b', 'Content-Type: multipart/mixed; boundary=',
];
