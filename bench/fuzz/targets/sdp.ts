/**
 * The SDP parser alone, and SDP inside SIP through the rewriter: media lines,
 * connection lines, rtcp attributes, with contexts that map or refuse media.
 */
import { parseSdp, sdpAttributes } from '../../../src/alg/sdp/index.js';
import { applyEdits, parseSipMessage, rewriteSipMessage, type RewriteContext } from '../../../src/alg/sip/index.js';
import { hashBytes } from '../rng.js';
import { defineFuzzTarget, invariant, latin1 } from '../target.js';
import { captureSipMessages, SIP_DICTIONARY } from '../lib/sip-seeds.js';
import fc from 'fast-check';

const INVITE_HEAD = (len: number) =>
  `INVITE sip:bob@198.51.100.10 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: s1\r\nCSeq: 1 INVITE\r\nContact: <sip:a@10.0.0.2>\r\nContent-Type: application/sdp\r\nContent-Length: ${len}\r\n\r\n`;

function context(seed: number): RewriteContext {
  return {
    direction: (seed & 1) === 0 ? 'outbound' : 'inbound',
    transport: 'udp',
    rewriteFromTo: false,
    isPrivate: (a) => a.startsWith('10.'),
    mapSignalling: (a, port) => (a.startsWith('10.') ? { addr: '203.0.113.1', port } : null),
    mapMedia: (s) => ((seed & 6) === 6 ? null : { addr: (seed & 8) === 0 ? '203.0.113.1' : '2001:db8::9', port: (s.port + 10000) & 0xffff }),
  };
}

const SDP_SEEDS = [
  'v=0\r\no=- 1 1 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0 8\r\na=rtcp:30001\r\nm=video 30002 RTP/AVP 96\r\nm=image 0 udptl t38\r\n',
  'v=0\r\no=- 1 1 IN IP4 10.0.0.2\r\ns=-\r\nt=0 0\r\nm=audio 30000/2 RTP/AVP 0\r\nc=IN IP4 10.0.0.2/127/2\r\na=rtcp:40001 IN IP4 10.0.0.3\r\na=rtcp-mux\r\n',
  'v=0\nc=IN IP6 ::1\nm=audio 9 UDP/TLS/RTP/SAVPF 111\na=candidate:1 1 udp 1 10.0.0.2 30000 typ host\n',
];

function bodyOf(b: Uint8Array): Uint8Array | null {
  for (let i = 0; i + 3 < b.length; i++) if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return b.subarray(i + 4);
  return null;
}

const mediaLine = fc
  .tuple(fc.constantFrom('audio', 'video', 'image', 'application'), fc.integer({ min: 0, max: 70000 }), fc.constantFrom('', '/2', '/0', '/65536'), fc.constantFrom('RTP/AVP 0', 'udptl t38', 'RTP/SAVP 0 8'))
  .map(([k, p, n, proto]) => `m=${k} ${p}${n} ${proto}\r\n`);
const attr = fc.constantFrom('a=rtcp:30001\r\n', 'a=rtcp:1023 IN IP4 10.0.0.3\r\n', 'a=rtcp:0\r\n', 'c=IN IP4 10.0.0.2\r\n', 'c=IN IP4 10.0.0.3/255/3\r\n', 'c=IN IP6 ::\r\n', 'a=inactive\r\n', 'b=AS:64\r\n');
const generated = fc
  .tuple(fc.constantFrom('10.0.0.2', '10.0.0.3', '0.0.0.0', 'host.example'), fc.array(fc.tuple(mediaLine, fc.array(attr, { maxLength: 3 })), { maxLength: 5 }))
  .map(([o, ms]) => latin1(`v=0\r\no=- 1 1 IN IP4 ${o}\r\ns=-\r\nc=IN IP4 ${o}\r\nt=0 0\r\n${ms.map(([m, as]) => m + as.join('')).join('')}`));

export default defineFuzzTarget({
  name: 'sdp',
  description: 'SDP: parse and attributes; as the body of an INVITE through the SIP rewriter (media mapped, refused, IPv6)',
  seeds: () => [...SDP_SEEDS.map(latin1), ...captureSipMessages().map(bodyOf).filter((b): b is Uint8Array => b !== null && b.length > 0)],
  generator: generated,
  dictionary: SIP_DICTIONARY,
  text: true,
  maxLength: 4096,
  run(body) {
    const s = parseSdp(body);
    if (s.ok) {
      sdpAttributes(body, s.sdp, null);
      for (const m of s.sdp.media) sdpAttributes(body, s.sdp, m);
    }
    const head = latin1(INVITE_HEAD(body.length));
    const msg = new Uint8Array(head.length + body.length);
    msg.set(head);
    msg.set(body, head.length);
    const p = parseSipMessage(msg);
    invariant(p.ok, () => `an INVITE around the SDP does not parse: ${p.ok ? '' : p.reason}`);
    const r = rewriteSipMessage(p.message, context(hashBytes(body)));
    if (!r.ok) return;
    const a = applyEdits(msg, r.edits);
    invariant(a.ok, () => `edits do not apply: ${a.ok ? '' : a.reason}`);
    const again = parseSipMessage(a.bytes);
    invariant(again.ok, () => `the rewritten INVITE does not parse: ${again.ok ? '' : again.reason}`);
    invariant(again.message.contentLength === again.message.body.end - again.message.body.start, 'Content-Length does not match the rewritten SDP');
  },
});
