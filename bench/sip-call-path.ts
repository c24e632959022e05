/**
 * One SIP call's seven messages through NatEngine.process(), CPU time per call:
 * INVITE with an SDP offer (phone -> proxy), 100 Trying, 180 Ringing, 200 OK
 * with an SDP answer (proxy -> phone), ACK, BYE (phone -> proxy) and the
 * BYE's 200 OK. The messages are those of a phone and a proxy (User-Agent,
 * Allow, Supported, Record-Route, ...), each call with its own Call-ID.
 *
 * Three contenders, rounds alternating so that the machine's noise lands on
 * all alike, each counted in this process's CPU time:
 *
 *   alg       this tree's engine with the SIP ALG
 *   base      another checkout's engine with its SIP ALG (--base DIR: a copy
 *             of the commit before a change, e.g. `git archive`), when given
 *   no-alg    this tree's engine without an ALG (the NAT alone)
 *
 * The time to prepare the packets (copy the template, set the Call-ID) is
 * measured alone and subtracted. After each round the ALG must have started
 * and ended every call (its counters), so a bench that stopped rewriting fails.
 *
 * `--gateway PARTS` adds two contenders, `alg-gw` and `no-alg-gw`, run under
 * conditions of `masq gateway` that the plain run lacks (PARTS: a comma list,
 * `all` for every one), to find what the gateway pays for the ALG beyond the
 * ALG's own path:
 *
 *   clock     time moves: --rate calls per second of engine time (the
 *             plain contenders run at time 0, so nothing ever expires), and
 *             engine.tick() every second of it, as the gateway's timer does
 *   inflight  --inflight calls at once, message by message (INVITEs of all,
 *             then their 100s, ...), as sipp's calls overlap, where the plain
 *             run carries one call at a time
 *   events    the engine's events through logNatEvent() to a pino logger at
 *             `warn`, the gateway's sink (the benches run it at warn)
 *
 *   node --import tsx bench/sip-call-path.ts [--base DIR] [--calls 4000] [--rounds 9] [--json]
 *        [--gateway all|clock,inflight,events] [--rate 3000] [--inflight 256]
 */
import { resolve } from 'node:path';
import { loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import * as thisEngineModule from '../src/nat/engine.js';
import * as thisRegistryModule from '../src/alg/registry.js';
import { ManualClock } from '../src/util/clock.js';
import { createLogger, logNatEvent } from '../src/control/logging.js';
import { parseIpv4 } from '../src/wire/address.js';
import { buildUdpPacket } from '../src/wire/udp.js';
import { argValue, cpuSeconds, jsonOutput, median } from './harness.js';

const calls = argValue('calls', 4000);
const rounds = argValue('rounds', 9);
const baseIndex = process.argv.indexOf('--base');
const baseDir = baseIndex >= 0 ? resolve(process.argv[baseIndex + 1]) : null;
const gatewayIndex = process.argv.indexOf('--gateway');
const GATEWAY_PARTS = ['clock', 'inflight', 'events'] as const;
type GatewayPart = (typeof GATEWAY_PARTS)[number];
const gatewayParts: Set<GatewayPart> | null = gatewayIndex < 0 ? null : partsOf(process.argv[gatewayIndex + 1] ?? '');
const rate = argValue('rate', 3000);
const inflight = argValue('inflight', 256);

function partsOf(text: string): Set<GatewayPart> {
  if (text === 'all') return new Set(GATEWAY_PARTS);
  const parts = text.split(',').filter(Boolean);
  for (const p of parts) if (!(GATEWAY_PARTS as readonly string[]).includes(p)) throw new Error(`--gateway: ${p} is not one of all, ${GATEWAY_PARTS.join(', ')}`);
  if (parts.length === 0) throw new Error('--gateway needs all or a list of clock, inflight, events');
  return new Set(parts as GatewayPart[]);
}

interface Modules {
  engine: typeof thisEngineModule;
  registry: typeof thisRegistryModule;
}

const PHONE = '10.0.1.2';
const PROXY = '198.51.100.10';
const PUBLIC = '203.0.113.1';
const PEER_MEDIA = '198.51.100.77';
/** The Call-ID's first 8 characters are the call number in hex. */
const CALL_ID = '00000000e66710@pc33.atlanta.example.com';

function sipMessage(startLine: string, headers: string[], body = ''): string {
  return [startLine, ...headers, `Content-Length: ${body.length}`, '', body].join('\r\n');
}

const offer = [
  'v=0',
  `o=alice 2890844526 2890844526 IN IP4 ${PHONE}`,
  's=-',
  `c=IN IP4 ${PHONE}`,
  't=0 0',
  'm=audio 49170 RTP/AVP 0 8 101',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-15',
  'a=sendrecv',
  '',
].join('\r\n');

const answer = [
  'v=0',
  `o=bob 2808844564 2808844564 IN IP4 ${PEER_MEDIA}`,
  's=-',
  `c=IN IP4 ${PEER_MEDIA}`,
  't=0 0',
  'm=audio 40000 RTP/AVP 0 101',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=sendrecv',
  '',
].join('\r\n');

const phoneHeaders = [
  'Max-Forwards: 70',
  'User-Agent: masq-bench/1.0',
  'Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, NOTIFY',
  'Supported: replaces, timer, 100rel',
];
const from = 'From: Alice <sip:alice@atlanta.example.com>;tag=1928301774';
const toBare = 'To: Bob <sip:bob@biloxi.example.com>';
const to = `${toBare};tag=a6c85cf`;
const recordRoute = `Record-Route: <sip:${PROXY};lr>`;
const bobContact = 'Contact: <sip:bob@192.0.2.4:5060>';

/** The seven messages of a call, in order, with the side each arrives on (public port: the phone's, as the NAT keeps it). */
function callMessages(publicPort: number): { text: string; outbound: boolean }[] {
  const viaOut = (branch: string) => `Via: SIP/2.0/UDP ${PHONE}:5060;branch=z9hG4bK${branch};rport`;
  const viaBack = (branch: string) => `Via: SIP/2.0/UDP ${PUBLIC}:${publicPort};branch=z9hG4bK${branch};rport=${publicPort};received=${PUBLIC}`;
  const response = (status: string, branch: string, cseq: string, extra: string[], body = '') =>
    sipMessage(`SIP/2.0 ${status}`, [viaBack(branch), recordRoute, from, status.startsWith('100') ? toBare : to, `Call-ID: ${CALL_ID}`, `CSeq: ${cseq}`, ...extra], body);
  return [
    {
      outbound: true,
      text: sipMessage(
        'INVITE sip:bob@biloxi.example.com SIP/2.0',
        [viaOut('776asdhds'), ...phoneHeaders, toBare, from, `Call-ID: ${CALL_ID}`, 'CSeq: 314159 INVITE', `Contact: <sip:alice@${PHONE}:5060;transport=udp>`, 'Content-Type: application/sdp'],
        offer,
      ),
    },
    { outbound: false, text: response('100 Trying', '776asdhds', '314159 INVITE', []) },
    { outbound: false, text: response('180 Ringing', '776asdhds', '314159 INVITE', [bobContact]) },
    { outbound: false, text: response('200 OK', '776asdhds', '314159 INVITE', [bobContact, 'Allow: INVITE, ACK, CANCEL, BYE, OPTIONS', 'Content-Type: application/sdp'], answer) },
    {
      outbound: true,
      text: sipMessage('ACK sip:bob@192.0.2.4:5060 SIP/2.0', [viaOut('8a8sdg87s'), `Route: <sip:${PROXY};lr>`, 'Max-Forwards: 70', to, from, `Call-ID: ${CALL_ID}`, 'CSeq: 314159 ACK']),
    },
    {
      outbound: true,
      text: sipMessage('BYE sip:bob@192.0.2.4:5060 SIP/2.0', [viaOut('9b9tdh98t'), `Route: <sip:${PROXY};lr>`, ...phoneHeaders, to, from, `Call-ID: ${CALL_ID}`, 'CSeq: 314160 BYE']),
    },
    { outbound: false, text: response('200 OK', '9b9tdh98t', '314160 BYE', []) },
  ];
}

interface Packet {
  bytes: Uint8Array;
  outbound: boolean;
  /** Offsets of the Call-ID's first 8 characters in the packet. */
  callIdAt: number;
}

const HEX = new TextEncoder().encode('0123456789abcdef');

function packets(publicPort: number): Packet[] {
  const phone = parseIpv4(PHONE);
  const proxy = parseIpv4(PROXY);
  const pub = parseIpv4(PUBLIC);
  return callMessages(publicPort).map(({ text, outbound }) => {
    const payload = new TextEncoder().encode(text);
    const bytes = outbound
      ? buildUdpPacket({ src: phone, dst: proxy, srcPort: 5060, dstPort: 5060, payload })
      : buildUdpPacket({ src: proxy, dst: pub, srcPort: 5060, dstPort: publicPort, payload });
    return { bytes, outbound, callIdAt: bytes.length - payload.length + text.indexOf(CALL_ID) };
  });
}

/** Packet p of call n in `work` (the checksum is left as the template's: the engine does not check it). */
function prepare(work: Uint8Array, p: Packet, n: number): Uint8Array {
  const w = work.subarray(0, p.bytes.length);
  w.set(p.bytes);
  for (let k = 7, at = p.callIdAt; k >= 0; k--, n >>>= 4) w[at + k] = HEX[n & 15];
  return w;
}

interface Contender {
  name: string;
  /** CPU seconds for `count` calls from call number `first`. */
  run(first: number, count: number): number;
}

/** A pino logger at warn whose lines (none, at warn, for a call) go nowhere. */
const warnLog = createLogger('warn', { write: () => {} });

function contender(name: string, mods: Modules, withAlg: boolean, gw: ReadonlySet<GatewayPart> = new Set()): Contender {
  const { NatEngine, Side, Verdict } = mods.engine;
  const clock = new ManualClock(0);
  let s = 12345;
  const random = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const engine = new NatEngine({ inside: ['10.0.0.0/8'], public: [PUBLIC] }, { clock, random, ...(gw.has('events') ? { onEvent: (e) => logNatEvent(warnLog, e) } : {}) });
  const def = mods.registry.findAlg('sip');
  if (!def) throw new Error('the SIP ALG is not registered');
  const alg = withAlg ? mods.registry.attachAlg(engine, def) : null;
  // The phone's signalling flow, and the public port the NAT gave it.
  const first = packets(5060)[0];
  if (engine.process(first.bytes.slice(), Side.Inside, 0) !== Verdict.ToOutside) throw new Error(`${name}: the first INVITE did not pass`);
  const out = engine.output;
  const publicPort = (out[20] << 8) | out[21];
  const call = packets(publicPort);
  if (alg) {
    // The first INVITE started a call of its own: end it so that the counters below balance.
    const bye = call[5];
    engine.process(bye.bytes.slice(), Side.Inside, 0);
  }
  const work = new Uint8Array(2048);
  // Engine time per message when time moves (ms), and when the gateway's timer next ticks.
  const step = gw.has('clock') ? 1000 / rate / call.length : 0;
  let nextTick = 1000;
  const depth = gw.has('inflight') ? inflight : 1;
  const send = (p: Packet, n: number) => {
    if (step > 0) {
      clock.advance(step);
      if (clock.now() >= nextTick) {
        engine.tick(clock.now());
        nextTick += 1000;
      }
    }
    const v = engine.process(prepare(work, p, n), p.outbound ? Side.Inside : Side.Outside, clock.now());
    if (v === Verdict.Drop) throw new Error(`${name}: call ${n} dropped a message`);
  };
  return {
    name,
    run(firstCall, count) {
      const before = alg?.counters();
      const c0 = cpuSeconds();
      // `depth` calls at a time, message by message (depth 1: one call after another).
      for (let n = firstCall; n < firstCall + count; n += depth) {
        const end = Math.min(n + depth, firstCall + count);
        for (const p of call) for (let k = n; k < end; k++) send(p, k);
      }
      const cpu = cpuSeconds() - c0;
      if (alg && before) {
        const after = alg.counters();
        if (after.callsStarted - before.callsStarted !== count || after.callsEnded - before.callsEnded !== count || after.rewritten - before.rewritten < 5 * count) {
          throw new Error(`${name}: the ALG did not handle every call (${JSON.stringify({ before, after })})`);
        }
      }
      return cpu;
    },
  };
}

/** The packet preparation alone, subtracted from each contender's time. */
function preparationOnly(count: number): number {
  const call = packets(5060);
  const work = new Uint8Array(2048);
  let sink = 0;
  const c0 = cpuSeconds();
  for (let n = 0; n < count; n++) for (const p of call) sink += prepare(work, p, n)[0];
  const cpu = cpuSeconds() - c0;
  if (sink === 0.5) console.log(sink);
  return cpu;
}

async function main(): Promise<void> {
  const contenders: Contender[] = [contender('alg', { engine: thisEngineModule, registry: thisRegistryModule }, true)];
  if (baseDir) {
    const load = async <T>(path: string): Promise<T> => (await import(pathToFileURL(resolve(baseDir, path)).href)) as T;
    const mods: Modules = { engine: await load('src/nat/engine.ts'), registry: await load('src/alg/registry.ts') };
    contenders.push(contender('base', mods, true));
  }
  contenders.push(contender('no-alg', { engine: thisEngineModule, registry: thisRegistryModule }, false));
  if (gatewayParts) {
    const mods = { engine: thisEngineModule, registry: thisRegistryModule };
    contenders.push(contender('alg-gw', mods, true, gatewayParts), contender('no-alg-gw', mods, false, gatewayParts));
  }
  const loadBefore = loadavg();
  let next = 1;
  for (const c of contenders) c.run((next += calls), calls); // warm the JIT
  const perCall: Record<string, number[]> = Object.fromEntries(contenders.map((c) => [c.name, []]));
  for (let r = 0; r < rounds; r++) {
    const prep = preparationOnly(calls);
    for (const c of r % 2 ? [...contenders].reverse() : contenders) {
      perCall[c.name].push(((c.run((next += calls), calls) - prep) / calls) * 1e6);
    }
  }
  const medians = Object.fromEntries(Object.entries(perCall).map(([k, v]) => [k, median(v)]));
  const algOnly = (name: string) => median(perCall[name].map((v, i) => v - perCall[name.endsWith('-gw') ? 'no-alg-gw' : 'no-alg'][i]));
  const result = {
    calls,
    rounds,
    base: baseDir,
    cpuMicrosPerCall: medians,
    gateway: gatewayParts ? { parts: [...gatewayParts], rate, inflight } : null,
    algMicrosPerCall: Object.fromEntries(contenders.filter((c) => !c.name.startsWith('no-alg')).map((c) => [c.name, algOnly(c.name)])),
    ...(baseDir ? { thisOverBase: median(perCall.alg.map((v, i) => v / perCall.base[i])) } : {}),
    perCall,
    loadAverage: { before: loadBefore, after: loadavg() },
  };
  if (jsonOutput) return console.log(JSON.stringify(result));
  const la = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
  console.log(`one SIP call (7 messages) through NatEngine.process(), CPU µs per call, median of ${rounds} alternating rounds of ${calls} calls; load average ${la(result.loadAverage.before)} before, ${la(result.loadAverage.after)} after`);
  for (const c of contenders) {
    const alg = result.algMicrosPerCall[c.name];
    console.log(`  ${c.name.padEnd(9)} ${medians[c.name].toFixed(1).padStart(7)} µs${alg === undefined ? '' : `   of which the ALG ${alg.toFixed(1)} µs (minus ${c.name.endsWith('-gw') ? 'no-alg-gw' : 'no-alg'}, per round)`}`);
  }
  if (gatewayParts) console.log(`  -gw: ${[...gatewayParts].join(', ')}; ${rate} calls/s of engine time, ${gatewayParts.has('inflight') ? inflight : 1} calls at once`);
  if (result.thisOverBase !== undefined) console.log(`  alg / base CPU per call: ${result.thisOverBase.toFixed(3)} (median of each round's ratio)`);
}

await main();
