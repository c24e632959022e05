/**
 * The SIP INVITE the codec benches rewrite (bench/sip-rewrite.ts,
 * bench/sip-vs-libosip2.ts), the rewrite context, and the timed loops: the
 * codec alone (processSipMessage) and the whole ALG path through
 * NatEngine.process(). See bench/sip-rewrite.ts for what each measures.
 *
 * The message is a typical phone INVITE (Via, Contact, SDP with audio and
 * video, rtcp implicit) from 10.0.1.2, rewritten to 203.0.113.1 with the media
 * ports moved, so the body changes size and Content-Length is rewritten too.
 */
import { processSipMessage, type RewriteContext } from '../src/alg/sip/index.js';
import { attachAlg, findAlg } from '../src/alg/registry.js';
import { NatEngine, Side, Verdict } from '../src/nat/engine.js';
import { ManualClock } from '../src/util/clock.js';
import { parseIpv4 } from '../src/wire/address.js';
import { buildUdpPacket } from '../src/wire/udp.js';
import { cpuSeconds } from './harness.js';

const body = [
  'v=0',
  'o=alice 2890844526 2890844526 IN IP4 10.0.1.2',
  's=-',
  'c=IN IP4 10.0.1.2',
  't=0 0',
  'm=audio 49170 RTP/AVP 0 8 101',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-15',
  'a=ssrc:1234567 cname:alice@10.0.1.2',
  'a=sendrecv',
  'm=video 51372 RTP/AVP 96',
  'a=rtpmap:96 H264/90000',
  'a=sendrecv',
  '',
].join('\r\n');

const head = [
  'INVITE sip:bob@biloxi.example.com SIP/2.0',
  'Via: SIP/2.0/UDP 10.0.1.2:5060;branch=z9hG4bK776asdhds;rport',
  'Max-Forwards: 70',
  'To: Bob <sip:bob@biloxi.example.com>',
  'From: Alice <sip:alice@atlanta.example.com>;tag=1928301774',
  'Call-ID: a84b4c76e66710@pc33.atlanta.example.com',
  'CSeq: 314159 INVITE',
  'Contact: <sip:alice@10.0.1.2:5060;transport=udp>',
  'User-Agent: masq-bench/1.0',
  'Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE',
  'Supported: replaces, timer',
  'Content-Type: application/sdp',
  `Content-Length: ${body.length}`,
  '',
  '',
].join('\r\n');

export const message = new TextEncoder().encode(head + body);

/** The phone's address, and the gateway's public one. */
export const PRIVATE_ADDRESS = '10.0.1.2';
export const PUBLIC_ADDRESS = '203.0.113.1';

export const ctx: RewriteContext = {
  direction: 'outbound',
  transport: 'udp',
  rewriteFromTo: false,
  isPrivate: (addr) => addr === PRIVATE_ADDRESS,
  mapSignalling: (_addr, port) => ({ addr: PUBLIC_ADDRESS, port }),
  mapMedia: (s) => ({ addr: PUBLIC_ADDRESS, port: s.port + 10000 }),
};


/** The rewrite the benches measure, checked once: it must do what they claim. */
export function checkedRewrite() {
  const check = processSipMessage(message, ctx);
  if (!check.ok || check.edits < 6 || check.delta === 0) throw new Error(`benchmark message did not rewrite as expected: ${JSON.stringify(check)}`);
  return check;
}

export interface Run {
  wall: number;
  cpu: number;
}

/** Messages per second of wall time and per second of this process's CPU time. */
export function run(ms: number): Run {
  let n = 0;
  let sink = 0;
  const c0 = cpuSeconds();
  const t0 = performance.now();
  let t1 = t0;
  while (t1 - t0 < ms) {
    for (let k = 0; k < 1000; k++) {
      const r = processSipMessage(message, ctx);
      if (r.ok) sink += r.delta;
    }
    n += 1000;
    t1 = performance.now();
  }
  const cpu = cpuSeconds() - c0;
  if (sink === 0.5) console.log(sink); // keep the result alive
  return { wall: (n / (t1 - t0)) * 1000, cpu: n / cpu };
}

// ---- the ALG path -------------------------------------------------------------

const PHONE = parseIpv4(PRIVATE_ADDRESS);
const PROXY = parseIpv4('198.51.100.10');
/** Where in the payload the first 8 characters of the Call-ID are: replaced by a per-call hex counter. */
const callIdAt = (head + body).indexOf('a84b4c76e66710@');
const template = buildUdpPacket({ src: PHONE, dst: PROXY, srcPort: 5060, dstPort: 5060, payload: message });
const payloadAt = template.length - message.length;
const HEX = new TextEncoder().encode('0123456789abcdef');

function algEngine(): { engine: NatEngine; now: number } {
  const clock = new ManualClock(0);
  let s = 12345;
  const random = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const engine = new NatEngine({ inside: ['10.0.0.0/8'], public: ['203.0.113.1'] }, { clock, random });
  const def = findAlg('sip');
  if (!def) throw new Error('the SIP ALG is not registered');
  attachAlg(engine, def);
  return { engine, now: clock.now() };
}

/** The INVITE of call `n` in `work`: the template with the Call-ID's first 8 characters set to n in hex. */
function prepare(work: Uint8Array, n: number): void {
  work.set(template);
  const at = payloadAt + callIdAt;
  for (let k = 7; k >= 0; k--, n >>>= 4) work[at + k] = HEX[n & 15];
}

/**
 * INVITEs per CPU-second through NatEngine.process() with the ALG: `count`
 * calls, each one's expectations removed after it. The same loop without the
 * engine (packet preparation only) is timed and subtracted.
 */
export function algPath(count: number, callBase: number): number {
  const { engine, now } = algEngine();
  const work = new Uint8Array(template.length);
  const timed = (withEngine: boolean): number => {
    let removed = 0;
    const c0 = cpuSeconds();
    for (let i = 0; i < count; i++) {
      const n = callBase + i;
      prepare(work, n);
      if (!withEngine) continue;
      if (engine.process(work, Side.Inside, now) !== Verdict.ToOutside || engine.output === work) throw new Error(`call ${n}: the INVITE was not rewritten`);
      removed += engine.removeExpectationGroup(`sip:${PHONE}|${(n >>> 0).toString(16).padStart(8, '0')}e66710@pc33.atlanta.example.com`);
    }
    const c = cpuSeconds() - c0;
    if (withEngine && removed !== 4 * count) throw new Error(`expected 4 expectations per call, removed ${removed} for ${count} calls`);
    return c;
  };
  const withEngine = timed(true);
  return count / (withEngine - timed(false));
}

