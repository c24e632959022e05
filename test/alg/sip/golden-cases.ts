/**
 * The golden corpus of the SIP/SDP rewriter: every message the SIP tests use
 * (RFC 4475, crafted INVITE/REGISTER/response variants, mutants of both, and
 * the SIP datagrams of the real captures when present), each run through
 * processSipMessage under several fixed contexts. A record keeps the exact
 * outcome: the output bytes, the delta, the summary, the parsed structure
 * (headers, body, SDP) and every question the rewriter asked its context, in
 * order (the ALG allocates ports in that order, so it is behaviour too).
 *
 * golden.json was produced from the code before the performance work
 * (golden.generate.ts); golden.test.ts asserts the code still reproduces it.
 * Mutant, capture and most crafted records are stored as SHA-256 digests of
 * the same record to keep the fixture small.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';
import fc from 'fast-check';
import {
  parseSipMessage, processSipMessage, type Endpoint, type MediaStreamRequest, type ParseOptions, type RewriteContext,
} from '../../../src/alg/sip/index.js';
import { parseSdp } from '../../../src/alg/sdp/index.js';
import { readCapture } from '../../../src/wire/capture.js';
import { decodeLinkFrame } from '../../../src/wire/link-layer.js';
import { ipv4ToString } from '../../../src/wire/address.js';
import { sip, sdpBody, latin1Bytes, text } from './fixtures.js';

const here = dirname(fileURLToPath(import.meta.url));
const rfcDir = join(here, 'rfc4475');
export const capturesDir = join(here, '../../../../shared/captures');
export const goldenPath = join(here, 'golden.json');

/** A context that answers from fixed rules and logs every question in order. */
interface ContextSpec {
  direction: 'outbound' | 'inbound';
  rewriteFromTo: boolean;
  transport: string;
  /** Which addresses are "inside" (outbound) or "ours" (inbound). */
  ours: (addr: string) => boolean;
  /** The translated address of one of ours. */
  to: (addr: string) => string;
  sigShift: number;
  /** Media: shifted port on `mediaTo`, or null when the rule refuses. */
  media: (s: MediaStreamRequest) => Endpoint | null;
}

function loggingContext(spec: ContextSpec, log: unknown[]): RewriteContext {
  return {
    direction: spec.direction,
    transport: spec.transport,
    rewriteFromTo: spec.rewriteFromTo,
    isPrivate(addr, port, field) {
      const r = spec.ours(addr);
      log.push(['isPrivate', addr, port, field, r]);
      return r;
    },
    mapSignalling(addr, port, transport, field) {
      const r = spec.ours(addr) ? { addr: spec.to(addr), port: (port + spec.sigShift) & 0xffff } : null;
      log.push(['mapSignalling', addr, port, transport, field, r]);
      return r;
    },
    mapMedia(s) {
      const r = spec.media(s);
      log.push(['mapMedia', { ...s }, r]);
      return r;
    },
  };
}

export interface GoldenCase {
  id: string;
  bytes: Uint8Array;
  spec: ContextSpec;
  options?: ParseOptions;
  /** Store a digest instead of the full record. */
  digest: boolean;
}

/** The structure the tokenizer (and the SDP parser, for the body) reports. */
function parsedStructure(b: Uint8Array, options?: ParseOptions): unknown {
  const p = parseSipMessage(b, options);
  if (!p.ok) return { reason: p.reason };
  const m = p.message;
  const sdp = m.body.end > m.body.start ? parseSdp(b, m.body.start, m.body.end) : null;
  return {
    start: m.start,
    end: m.end,
    startLine: m.startLine,
    headers: m.headers.map((h) => [h.name.start, h.name.end, h.canonical, h.value.start, h.value.end]),
    body: m.body,
    contentLength: m.contentLength,
    contentLengthIndex: m.contentLengthIndex,
    trailing: m.trailing,
    sdp,
  };
}

export interface GoldenRecord {
  id: string;
  /** Digests of the input and of its parsed structure (the same for every context of a message). */
  input?: string;
  parsed?: string;
  result?: unknown;
  calls?: unknown[];
  sha256?: string;
}

/**
 * `after` as the bytes it shares with `before` at both ends and the text in
 * between: exact (the output is rebuilt from the input and these three) and
 * much smaller than the whole message.
 */
function difference(before: Uint8Array, after: Uint8Array): { prefix: number; suffix: number; middle: string; length: number } {
  let prefix = 0;
  while (prefix < before.length && prefix < after.length && before[prefix] === after[prefix]) prefix++;
  let suffix = 0;
  while (suffix < before.length - prefix && suffix < after.length - prefix && before[before.length - 1 - suffix] === after[after.length - 1 - suffix]) suffix++;
  return { prefix, suffix, middle: text(after.subarray(prefix, after.length - suffix)), length: after.length };
}

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

export function runCase(c: GoldenCase): GoldenRecord {
  const calls: unknown[] = [];
  const r = processSipMessage(c.bytes, loggingContext(c.spec, calls), c.options);
  // The output exactly: "same" when it is the input itself, else its difference from the input.
  const result = r.ok
    ? { ok: true, ...(r.bytes === c.bytes ? { same: true } : { bytes: difference(c.bytes, r.bytes) }), delta: r.delta, edits: r.edits, summary: r.summary }
    : { ok: false, stage: r.stage, reason: r.reason };
  const full = { id: c.id, input: sha256(text(c.bytes)), parsed: sha256(JSON.stringify(parsedStructure(c.bytes, c.options))), result, calls };
  // JSON round trip so a stored record and a fresh one compare the same way.
  const record = JSON.parse(JSON.stringify(full)) as GoldenRecord;
  if (!c.digest) return record;
  return { id: c.id, sha256: sha256(JSON.stringify(record)) };
}

// ---- contexts -------------------------------------------------------------

const rfcInside = (a: string) => a.startsWith('192.0.2.');
function rfcSpec(direction: 'outbound' | 'inbound', rewriteFromTo: boolean): ContextSpec {
  return {
    direction,
    rewriteFromTo,
    transport: 'udp',
    ours: rfcInside,
    to: (a) => a.replace('192.0.2.', direction === 'outbound' ? '203.0.113.' : '10.0.0.'),
    sigShift: 1,
    media: (s) => ({ addr: s.addr.replace('192.0.2.', '203.0.113.'), port: s.port + 2 }),
  };
}

const INSIDE = '10.0.1.2';
const PUBLIC = '203.0.113.1';
function natSpec(direction: 'outbound' | 'inbound', variant: number): ContextSpec {
  const outbound = direction === 'outbound';
  return {
    direction,
    rewriteFromTo: (variant & 1) !== 0,
    transport: variant === 3 ? 'tcp' : 'udp',
    ours: (a) => a === (outbound ? INSIDE : PUBLIC),
    to: () => (outbound ? (variant === 2 ? '2001:db8::1' : PUBLIC) : INSIDE),
    sigShift: variant === 0 ? 0 : outbound ? 7 : -7,
    media: (s) => {
      if (variant === 4 && s.kind === 'rtcp') return null;
      if (variant === 2) return { addr: '2001:db8::1', port: s.port + 10000 };
      // variant 1: RTCP not next to RTP (forces a=rtcp lines); variant 5: RTP on another address.
      if (variant === 1 && s.kind === 'rtcp') return { addr: PUBLIC, port: s.port + 20001 };
      if (variant === 5 && s.kind === 'rtp' && s.index === 1) return { addr: '203.0.113.9', port: s.port + 10000 };
      return { addr: PUBLIC, port: s.port + 10000 };
    },
  };
}

// ---- crafted messages -------------------------------------------------------

const offer = sdpBody([
  'v=0',
  `o=alice 2890844526 2890844526 IN IP4 ${INSIDE}`,
  's=-',
  `c=IN IP4 ${INSIDE}`,
  't=0 0',
  'm=audio 49170 RTP/AVP 0 8 101',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:101 telephone-event/8000',
  `a=ssrc:1234567 cname:alice@${INSIDE}`,
  'a=sendrecv',
  'm=video 51372 RTP/AVP 96',
  'a=rtpmap:96 H264/90000',
]);

const richOffer = sdpBody([
  'v=0',
  `o=- 1 1 IN IP4 ${INSIDE}`,
  's=-',
  `c=IN IP4 ${INSIDE}`,
  'b=AS:128',
  't=0 0',
  'a=group:BUNDLE 0 1',
  'm=audio 30000 RTP/AVP 0 8',
  `a=rtcp:30001 IN IP4 ${INSIDE}`,
  'm=video 30002/2 RTP/AVP 96',
  'i=camera',
  `c=IN IP4 ${INSIDE}/127`,
  'a=rtcp-mux',
  'm=image 0 udptl t38',
  'm=image 30010 udptl t38',
  'm=application 9 TCP/BFCP *',
  'm=audio 30020 UDP/TLS/RTP/SAVPF 111',
  'a=rtcp:40021',
  `a=candidate:1 1 UDP 2130706431 ${INSIDE} 30020 typ host`,
]);

const lfOffer = ['v=0', `o=- 2 2 IN IP4 ${INSIDE}`, 's=-', 't=0 0', 'm=audio 31000 RTP/AVP 0', `c=IN IP4 ${INSIDE}`, 'm=audio 31002 RTP/AVP 8'].join('\n');
const v6Offer = sdpBody(['v=0', 'o=- 3 3 IN IP6 fd00::2', 's=-', 'c=IN IP6 fd00::2', 't=0 0', 'm=audio 32000 RTP/AVP 0']);
const noConnOffer = sdpBody(['v=0', `o=- 4 4 IN IP4 ${INSIDE}`, 's=-', 't=0 0', 'm=audio 33000 RTP/AVP 0', 'm=video 33002 RTP/AVP 96', `c=IN IP4 ${INSIDE}`]);
const badOffer = sdpBody(['v=0', `o=- 5 5 IN IP4 ${INSIDE}`, 's=-', 'c=IN IP4', 't=0 0', 'm=audio 34000 RTP/AVP 0']);
const remoteAnswer = sdpBody(['v=0', 'o=- 6 6 IN IP4 198.51.100.77', 's=-', 'c=IN IP4 198.51.100.77', 't=0 0', 'm=audio 40000 RTP/AVP 0', 'a=rtcp:40005', 'm=video 0 RTP/AVP 96']);

function inviteLines(over: Partial<Record<string, string | null>> = {}): string[] {
  const base: [string, string][] = [
    ['Via', `SIP/2.0/UDP ${INSIDE}:5060;branch=z9hG4bK776asdhds;rport`],
    ['Max-Forwards', '70'],
    ['To', 'Bob <sip:bob@biloxi.example.com>'],
    ['From', `Alice <sip:alice@${INSIDE}>;tag=1928301774`],
    ['Call-ID', 'a84b4c76e66710@pc33.atlanta.example.com'],
    ['CSeq', '314159 INVITE'],
    ['Contact', `<sip:alice@${INSIDE}:5060;transport=udp>`],
    ['User-Agent', 'golden/1.0'],
    ['Allow', 'INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE'],
    ['Content-Type', 'application/sdp'],
  ];
  const lines: string[] = [];
  for (const [name, value] of base) {
    const v = name in over ? over[name] : value;
    if (v !== null && v !== undefined) lines.push(`${name}: ${v}`);
  }
  for (const [name, v] of Object.entries(over)) {
    if (!base.some(([n]) => n === name) && v !== null && v !== undefined) lines.push(`${name}: ${v}`);
  }
  return lines;
}

function invite(body: string, over: Partial<Record<string, string | null>> = {}, startLine = 'INVITE sip:bob@biloxi.example.com SIP/2.0', contentLength: string | null = String(body.length)): Uint8Array {
  const lines = [startLine, ...inviteLines(over)];
  if (contentLength !== null) lines.push(`Content-Length: ${contentLength}`);
  return sip(lines, body);
}

export const crafted: [string, Uint8Array][] = [
  ['invite', invite(offer)],
  ['invite-rich-sdp', invite(richOffer)],
  ['invite-lf-sdp', invite(lfOffer)],
  ['invite-v6-sdp', invite(v6Offer)],
  ['invite-media-c', invite(noConnOffer)],
  ['invite-bad-sdp', invite(badOffer)],
  ['invite-no-content-length', invite(offer, {}, undefined, null)],
  ['invite-trailing', invite(offer + 'garbage after the body', {}, undefined, String(offer.length))],
  ['invite-sdp-params', invite(offer, { 'Content-Type': 'Application/SDP ; charset=utf-8' })],
  ['invite-not-sdp', invite(offer, { 'Content-Type': 'application/sdpx' })],
  ['invite-ruri-inside', invite(offer, {}, `INVITE sip:bob@${INSIDE}:5062;transport=tcp;maddr=${INSIDE} SIP/2.0`)],
  ['invite-ruri-public', invite(remoteAnswer, {}, `INVITE sip:alice@${PUBLIC}:5060 SIP/2.0`)],
  ['invite-ruri-public-noport', invite('', { To: `<sip:alice@${PUBLIC}>`, 'Content-Type': null }, `INVITE sip:alice@${PUBLIC};lr SIP/2.0`)],
  ['invite-tel', invite(offer, { To: '<tel:+1-201-555-0123;phone-context=x>' }, 'INVITE tel:+1-201-555-0123 SIP/2.0')],
  ['invite-sips', invite(offer, { Contact: `<sips:alice@${INSIDE}>` }, 'INVITE sips:bob@biloxi.example.com SIP/2.0')],
  ['invite-compact', sip(['INVITE sip:bob@b.example.com SIP/2.0', `v: SIP/2.0/UDP ${INSIDE};branch=z9hG4bKc`, `f: <sip:a@${INSIDE}>;tag=1`, 't: <sip:bob@b.example.com>', 'i: compact-1', 'CSeq: 1 INVITE', `m: <sip:a@${INSIDE}:5070>`, 'c: application/sdp', `l: ${offer.length}`], offer)],
  ['invite-folded', sip(['INVITE sip:bob@b.example.com SIP/2.0', `Via: SIP/2.0/UDP\r\n  ${INSIDE}:5060\r\n\t;branch=z9hG4bKf ; received=${INSIDE}`, `From: "A \\"quoted\\" name" <sip:a@${INSIDE}>\r\n ;tag=1`, 'To: <sip:bob@b.example.com>', 'Call-ID: folded-1', 'CSeq:\r\n 2   INVITE', `Contact: <sip:a@${INSIDE}>;expires=60, <sip:a@${INSIDE}:5080;transport=tcp>;q=0.5`, 'Content-Type: application/sdp', `Content-Length:  ${offer.length} `], offer)],
  ['invite-v6-via', invite(offer, { Via: 'SIP/2.0/UDP [fd00::2]:5060;branch=z9hG4bK6;maddr=[fd00::2]', Contact: '<sip:alice@[fd00::2]:5060>' })],
  ['invite-via-maddr-received', invite(offer, { Via: `SIP/2.0/TCP ${INSIDE};branch=z9hG4bKm;maddr=${INSIDE};received=${INSIDE};rport=5060` })],
  ['invite-routes', invite(offer, { Route: `<sip:${INSIDE};lr>, <sip:proxy.example.com;lr>`, 'Record-Route': `<sip:${INSIDE}:5070;lr>` })],
  ['invite-two-vias', invite(offer, { Via: `SIP/2.0/UDP ${INSIDE}:5060;branch=z9hG4bKa, SIP/2.0/UDP 10.0.1.3;branch=z9hG4bKb` })],
  ['invite-hostname-contact', invite(offer, { Contact: '<sip:alice@pc33.example.com>' })],
  ['invite-cseq-mismatch', invite(offer, { CSeq: '1 ACK' })],
  ['invite-missing-callid', invite(offer, { 'Call-ID': null })],
  ['invite-two-from', invite(offer, { From: `<sip:a@${INSIDE}>;tag=1\r\nFrom: <sip:b@${INSIDE}>;tag=2` })],
  ['invite-bad-contact', invite(offer, { Contact: '<sip:alice@10.0.1.2:99999>' })],
  ['invite-star-contact', invite(offer, { Contact: '*' })],
  ['register', sip(['REGISTER sip:registrar.example.com SIP/2.0', `Via: SIP/2.0/UDP ${INSIDE}:5060;branch=z9hG4bKr;rport`, `From: <sip:alice@example.com>;tag=r1`, 'To: <sip:alice@example.com>', 'Call-ID: reg-1', 'CSeq: 7 REGISTER', `Contact: <sip:alice@${INSIDE}:5060>;expires=3600;+sip.instance="<urn:uuid:1>"`, 'Expires: 3600', 'Content-Length: 0'])],
  ['register-star', sip(['REGISTER sip:registrar.example.com SIP/2.0', `Via: SIP/2.0/UDP ${INSIDE}:5060;branch=z9hG4bKs`, 'From: <sip:alice@example.com>;tag=r1', 'To: <sip:alice@example.com>', 'Call-ID: reg-2', 'CSeq: 8 REGISTER', 'Contact: *', 'Expires: 0', 'Content-Length: 0'])],
  ['register-other-port', sip(['REGISTER sip:registrar.example.com SIP/2.0', `Via: SIP/2.0/TCP ${INSIDE}:5090;branch=z9hG4bKo`, 'From: <sip:alice@example.com>;tag=r1', 'To: <sip:alice@example.com>', 'Call-ID: reg-3', 'CSeq: 9 REGISTER', `Contact: <sip:alice@${INSIDE}:5090;transport=tcp>, <sip:alice@${INSIDE}>;expires=99999999999`, 'Content-Length: 0'])],
  ['ok-register', sip(['SIP/2.0 200 OK', `Via: SIP/2.0/UDP ${PUBLIC}:5060;branch=z9hG4bKr;received=${PUBLIC};rport=5060`, 'From: <sip:alice@example.com>;tag=r1', 'To: <sip:alice@example.com>;tag=x9', 'Call-ID: reg-1', 'CSeq: 7 REGISTER', `Contact: <sip:alice@${PUBLIC}:5060>;expires=1800, <sip:alice@198.51.100.3>;expires=20`, 'Content-Length: 0'])],
  ['ok-register-rport-only', sip(['SIP/2.0 200 OK', `Via: SIP/2.0/UDP ${PUBLIC};branch=z9hG4bKr;rport=5067`, 'From: <sip:alice@example.com>;tag=r1', 'To: <sip:alice@example.com>;tag=x9', 'Call-ID: reg-1', 'CSeq: 7 REGISTER', `Contact: <sip:alice@${PUBLIC}>`, 'l: 0'])],
  ['ok-invite-answer', sip(['SIP/2.0 200 OK', `Via: SIP/2.0/UDP ${PUBLIC}:5060;branch=z9hG4bK776asdhds;rport=5060;received=${PUBLIC}`, `Record-Route: <sip:${PUBLIC};lr>`, 'From: Alice <sip:alice@atlanta.example.com>;tag=1928301774', 'To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf', 'Call-ID: a84b4c76e66710@pc33.atlanta.example.com', 'CSeq: 314159 INVITE', 'Contact: <sip:bob@198.51.100.77>', 'Content-Type: application/sdp', `Content-Length: ${remoteAnswer.length}`], remoteAnswer)],
  ['ok-invite-inside-answer', sip(['SIP/2.0 200 OK', 'Via: SIP/2.0/UDP 198.51.100.9;branch=z9hG4bK1', `From: <sip:x@${INSIDE}>;tag=1`, `To: <sip:a@${INSIDE}>;tag=2`, 'Call-ID: ans-1', 'CSeq: 1 INVITE', `Contact: <sip:a@${INSIDE}:5060>`, 'Content-Type: application/sdp', `Content-Length: ${offer.length}`], offer)],
  ['ringing-183', sip(['SIP/2.0 183 Session Progress', 'Via: SIP/2.0/UDP 198.51.100.9;branch=z9hG4bK1', 'From: <sip:x@example.com>;tag=1', 'To: <sip:a@example.com>;tag=2', 'Call-ID: ans-2', 'CSeq: 1 INVITE', 'Content-Type: application/sdp', `Content-Length: ${richOffer.length}`], richOffer)],
  ['bye', sip(['BYE sip:bob@198.51.100.77 SIP/2.0', `Via: SIP/2.0/UDP ${INSIDE}:5060;branch=z9hG4bKbye`, 'From: <sip:a@x>;tag=1', 'To: <sip:b@x>;tag=2', 'Call-ID: bye-1', 'CSeq: 2 BYE', 'Content-Length: 0'])],
  ['options-keepalive-prefix', latin1Bytes('\r\n\r\n' + text(sip(['OPTIONS sip:x@example.com SIP/2.0', `Via: SIP/2.0/UDP ${INSIDE}:5060;branch=z9hG4bKo`, 'From: <sip:a@x>;tag=1', 'To: <sip:b@x>', 'Call-ID: opt-1', 'CSeq: 3 OPTIONS', 'Content-Length: 0'])))],
  ['unknown-headers', invite(offer, { 'X-Custom-Header': 'anything ; goes , here', 'P-Asserted-Identity': `<sip:alice@${INSIDE}>`, 'x': 'compact unknown' })],
];

/** The benchmark's message (bench/sip-rewrite.ts), byte for byte. */
export const benchInvite = (() => {
  const body = [
    'v=0', 'o=alice 2890844526 2890844526 IN IP4 10.0.1.2', 's=-', 'c=IN IP4 10.0.1.2', 't=0 0',
    'm=audio 49170 RTP/AVP 0 8 101', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-15', 'a=ssrc:1234567 cname:alice@10.0.1.2', 'a=sendrecv', 'm=video 51372 RTP/AVP 96', 'a=rtpmap:96 H264/90000',
    'a=sendrecv', '',
  ].join('\r\n');
  const head = [
    'INVITE sip:bob@biloxi.example.com SIP/2.0', 'Via: SIP/2.0/UDP 10.0.1.2:5060;branch=z9hG4bK776asdhds;rport', 'Max-Forwards: 70',
    'To: Bob <sip:bob@biloxi.example.com>', 'From: Alice <sip:alice@atlanta.example.com>;tag=1928301774',
    'Call-ID: a84b4c76e66710@pc33.atlanta.example.com', 'CSeq: 314159 INVITE', 'Contact: <sip:alice@10.0.1.2:5060;transport=udp>',
    'User-Agent: masq-bench/1.0', 'Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE', 'Supported: replaces, timer',
    'Content-Type: application/sdp', `Content-Length: ${body.length}`, '', '',
  ].join('\r\n');
  return latin1Bytes(head + body);
})();

// ---- mutants ------------------------------------------------------------------

type Mutation =
  | { kind: 'flip'; at: number; value: number }
  | { kind: 'insertText'; at: number; s: string }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'duplicate'; at: number; length: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('insertText' as const), at: fc.nat(), s: fc.constantFrom('\r\n', ' ', ';', ',', ':', '<', '>', '"', 'sip:', '\r\n ', '@', '0', '/', '\n', '\r', '[', ']', '=', '10.0.1.2', 'a=rtcp:1', 'c=IN IP4 10.0.1.2\r\n', 'm=audio 0 RTP/AVP 0\r\n') }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 40 }) }),
);

function mutate(b: Uint8Array, ms: Mutation[]): Uint8Array {
  let out = Array.from(b);
  for (const m of ms) {
    const at = m.at % (out.length + 1);
    if (m.kind === 'flip') {
      if (at < out.length) out[at] = m.value;
    } else if (m.kind === 'insertText') out.splice(at, 0, ...latin1Bytes(m.s));
    else if (m.kind === 'delete') out.splice(at, m.length);
    else if (m.kind === 'truncate') out = out.slice(0, at);
    else out.splice(at, 0, ...out.slice(at, at + m.length));
  }
  return Uint8Array.from(out);
}

function rfcMessages(): [string, Uint8Array][] {
  return readdirSync(rfcDir)
    .filter((f) => f.endsWith('.sip'))
    .sort()
    .map((f) => [f.slice(0, -4), new Uint8Array(readFileSync(join(rfcDir, f)))]);
}

// ---- captures -------------------------------------------------------------------

export const CAPTURE_FILES = ['sip.pcap', 'sip_hello.pcapng', 'sip_invalid-content-length.pcap', 'sip_sip-junk-before-request.pcap', 'FAX-Call-t38-CA-TDM-SIP-FB-1.pcap'];

/** UDP payloads (IPv4) of a capture that start with a letter or CR: what could be SIP. */
function captureDatagrams(file: string): { index: number; src: string; payload: Uint8Array }[] {
  const cap = readCapture(new Uint8Array(readFileSync(join(capturesDir, file))));
  const out: { index: number; src: string; payload: Uint8Array }[] = [];
  cap.records.forEach((rec, index) => {
    const f = decodeLinkFrame(rec.linkType, rec.data);
    if (f.kind !== 'ipv4') return;
    const ip = f.payload;
    if (ip.length < 20 || ip[9] !== 17) return;
    const hl = (ip[0] & 0x0f) * 4;
    if (ip.length < hl + 8) return;
    const payload = ip.subarray(hl + 8);
    if (payload.length === 0) return;
    const c = payload[0];
    if (!((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x0d)) return;
    const src = ipv4ToString(((ip[12] << 24) | (ip[13] << 16) | (ip[14] << 8) | ip[15]) >>> 0);
    out.push({ index, src, payload });
  });
  return out;
}

export function capturesPresent(): boolean {
  return CAPTURE_FILES.every((f) => existsSync(join(capturesDir, f)));
}

// ---- the corpus -------------------------------------------------------------------

export function goldenCases(withCaptures: boolean): GoldenCase[] {
  const cases: GoldenCase[] = [];
  const rfc = rfcMessages();
  for (const [name, b] of rfc) {
    for (const direction of ['outbound', 'inbound'] as const) {
      for (const fromTo of [false, true]) {
        cases.push({ id: `rfc4475/${name}/${direction}/${fromTo ? 'fromto' : 'plain'}`, bytes: b, spec: rfcSpec(direction, fromTo), digest: false });
      }
    }
    cases.push({ id: `rfc4475/${name}/outbound/stream`, bytes: b, spec: rfcSpec('outbound', true), options: { transport: 'stream' }, digest: false });
  }
  const all: [string, Uint8Array][] = [...crafted, ['bench-invite', benchInvite]];
  for (const [name, b] of all) {
    for (const direction of ['outbound', 'inbound'] as const) {
      for (let variant = 0; variant <= 5; variant++) {
        cases.push({ id: `crafted/${name}/${direction}/${variant}`, bytes: b, spec: natSpec(direction, variant), digest: variant > 0 });
      }
    }
  }
  // Mutants: a fixed seed, so the same inputs every time (the inputs are in the digests too).
  const bases = [...rfc, ...all];
  const samples = fc.sample(fc.tuple(fc.nat(bases.length - 1), fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.nat(5)), { seed: 4475, numRuns: 1500 });
  samples.forEach(([base, ms, variant], k) => {
    const [name, b] = bases[base];
    const bytes = mutate(b, ms);
    const rfcBase = base < rfc.length;
    for (const direction of ['outbound', 'inbound'] as const) {
      const spec = rfcBase ? rfcSpec(direction, (variant & 1) !== 0) : natSpec(direction, variant);
      cases.push({ id: `mutant/${k}/${name}/${direction}`, bytes, spec, digest: true });
    }
  });
  if (withCaptures) {
    for (const file of CAPTURE_FILES) {
      for (const d of captureDatagrams(file)) {
        for (const direction of ['outbound', 'inbound'] as const) {
          const spec: ContextSpec = {
            direction,
            rewriteFromTo: true,
            transport: 'udp',
            ours: (a) => a === d.src,
            to: () => (direction === 'outbound' ? PUBLIC : INSIDE),
            sigShift: direction === 'outbound' ? 3 : -3,
            media: (s) => ({ addr: PUBLIC, port: s.port + 10000 }),
          };
          cases.push({ id: `capture/${file}/${d.index}/${direction}`, bytes: d.payload, spec, digest: true });
        }
      }
    }
  }
  return cases;
}
