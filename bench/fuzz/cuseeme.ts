/**
 * Fuzzing the CU-SeeMe ALG through NatEngine.process(): valid CU-SeeMe
 * packets of three workstations and their reflector (video, OpenContinue
 * lists naming the public address), mutated (bytes flipped, fields set to
 * edge values, client_count lied about, datagrams cut short or grown), in both
 * directions, on flows the ALG is attached to. Nothing may escape the engine
 * (a thrown error is a bug), and every packet that comes out must be whole:
 * valid IPv4 and UDP checksums, the same length as it went in (the ALG never
 * resizes a CU-SeeMe packet), and no byte changed outside the fields the ALG
 * may rewrite. Messages the ALG cannot read are counted (passed unchanged).
 *
 *   node --import tsx bench/fuzz/cuseeme.ts [--count 1000000] [--seed 1] [--json]
 *
 * A short run is a unit test (test/alg/cuseeme/fuzz.test.ts).
 */
import { pathToFileURL } from 'node:url';
import { attachAlg, findAlg } from '../../src/alg/registry.js';
import { NatEngine, Side, Verdict } from '../../src/nat/engine.js';
import { ManualClock } from '../../src/util/clock.js';
import { parseIpv4 } from '../../src/wire/address.js';
import { ipv4, ipv4HeaderChecksumValid } from '../../src/wire/ipv4.js';
import { buildUdpPacket, udpChecksumValid } from '../../src/wire/udp.js';

export interface FuzzResult {
  packets: number;
  toInside: number;
  toOutside: number;
  dropped: number;
  /** Thrown out of engine.process(): must be 0. */
  escaped: number;
  /** Output packets broken (checksum, length, a byte changed where the ALG may not write): must be 0. */
  broken: number;
  /** The first few problems, for the report. */
  examples: string[];
  /** The ALG's own counters at the end (passedParseError: messages it could not read, passed unchanged). */
  alg: Record<string, number>;
  seconds: number;
}

const INSIDE = ['10.0.0.2', '10.0.0.3', '10.0.0.4'].map(parseIpv4);
const REFLECTOR = parseIpv4('198.51.100.10');
const OTHER = parseIpv4('198.51.100.20');
const PUBLIC = parseIpv4('203.0.113.1');
const PORT = 7648;

/** xorshift32: a repeatable stream for a seed. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

function cu(dest: [number, number], own: [number, number], dataType: number, entries: Array<[number, number]>, payload = 16): Uint8Array {
  const oc = dataType === 101;
  const b = new Uint8Array(26 + (oc ? 30 + entries.length * 12 : payload));
  const v = new DataView(b.buffer);
  v.setUint16(0, 2);
  v.setUint16(2, dest[1]);
  v.setUint32(4, dest[0]);
  v.setUint16(8, 2);
  v.setUint16(10, own[1]);
  v.setUint32(12, own[0]);
  v.setUint32(16, 1);
  v.setUint16(22, dataType);
  v.setUint16(24, b.length);
  if (oc) {
    v.setUint16(26, entries.length);
    entries.forEach(([a, p], i) => {
      v.setUint32(56 + i * 12, a);
      v.setUint16(60 + i * 12, p);
    });
  }
  return b;
}

/** Byte ranges the ALG may rewrite: dest_port..dest_addr, port..addr, and each entry's address and port. */
function writable(payload: Uint8Array): (i: number) => boolean {
  const n = payload.length >= 56 && ((payload[22] << 8) | payload[23]) === 101 ? Math.floor((payload.length - 56) / 12) : 0;
  return (i) => (i >= 2 && i < 8) || (i >= 10 && i < 16) || (i >= 56 && i < 56 + n * 12 && (i - 56) % 12 < 6);
}

export function fuzzCuSeeMe(count: number, seed = 1): FuzzResult {
  const random = rng(seed);
  const int = (n: number) => Math.floor(random() * n);
  const clock = new ManualClock(0);
  const engine = new NatEngine(
    { inside: ['10.0.0.0/24'], public: ['203.0.113.1'], limits: { flows: 20_000 } },
    { clock, random: rng(seed + 1) },
  );
  const alg = attachAlg(engine, findAlg('cuseeme')!);
  // The workstations join: their public ports are the engine's choice.
  const publicPorts = INSIDE.map((a) => {
    engine.process(buildUdpPacket({ src: a, dst: REFLECTOR, srcPort: PORT, dstPort: PORT, payload: cu([REFLECTOR, PORT], [a, PORT], 100, []) }), Side.Inside);
    return (engine.output[20] << 8) | engine.output[21];
  });
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  const anyEndpoint = (): [number, number] => {
    switch (int(5)) {
      case 0:
        return [PUBLIC, pick(publicPorts)];
      case 1:
        return [pick(INSIDE), PORT];
      case 2:
        return [OTHER, PORT];
      case 3:
        return [PUBLIC, int(65536)];
      default:
        return [int(2 ** 32) >>> 0, int(65536)];
    }
  };
  const r: FuzzResult = { packets: 0, toInside: 0, toOutside: 0, dropped: 0, escaped: 0, broken: 0, examples: [], alg: {}, seconds: 0 };
  const note = (what: string) => {
    if (r.examples.length < 10) r.examples.push(what);
  };
  const started = process.hrtime.bigint();
  for (let n = 0; n < count; n++) {
    const w = int(3);
    const outbound = random() < 0.5;
    const entries = Array.from({ length: int(8) }, anyEndpoint);
    const payload = cu(anyEndpoint(), anyEndpoint(), random() < 0.6 ? 101 : pick([1, 2, 3, 100, 104, 105, 256, 257, int(65536)]), entries, int(64));
    const mutated = mutate(payload, random, int);
    const pkt = outbound
      ? buildUdpPacket({ src: INSIDE[w], dst: REFLECTOR, srcPort: PORT, dstPort: PORT, payload: mutated })
      : buildUdpPacket({ src: REFLECTOR, dst: PUBLIC, srcPort: PORT, dstPort: publicPorts[w], payload: mutated });
    // Now and then the UDP datagram claims another length than the packet has (its checksum is then no longer
    // right either): the engine must not stumble, and only the IPv4 header is checked on the way out.
    const lengthLie = random() < 0.02;
    if (lengthLie) {
      const claimed = int(pkt.length + 16);
      pkt[24] = claimed >> 8;
      pkt[25] = claimed;
    }
    const before = pkt.slice();
    r.packets++;
    let verdict: Verdict;
    try {
      verdict = engine.process(pkt, outbound ? Side.Inside : Side.Outside);
    } catch (err) {
      r.escaped++;
      note(`escaped: ${(err as Error).stack ?? err}`);
      continue;
    }
    if (verdict === Verdict.Drop) {
      r.dropped++;
    } else {
      if (verdict === Verdict.ToInside) r.toInside++;
      else r.toOutside++;
      const problem = lengthLie ? (ipv4HeaderChecksumValid(engine.output, 0) ? null : 'IPv4 header checksum') : check(engine.output, before, mutated);
      if (problem) {
        r.broken++;
        note(`packet ${n}: ${problem}`);
      }
    }
    if (n % 1000 === 999) clock.advance(1000);
  }
  r.seconds = Number(process.hrtime.bigint() - started) / 1e9;
  r.alg = alg.counters();
  return r;
}

/** Flips, edge values, a lying client_count, cut short or grown. */
function mutate(p: Uint8Array, random: () => number, int: (n: number) => number): Uint8Array {
  let b = p;
  const kind = int(6);
  if (kind === 0) {
    for (let i = int(4) + 1; i > 0 && b.length > 0; i--) b[int(b.length)] ^= 1 << int(8);
  } else if (kind === 1 && b.length > 0) {
    const at = int(b.length);
    b.fill(random() < 0.5 ? 0xff : 0, at, Math.min(b.length, at + 1 + int(4)));
  } else if (kind === 2 && b.length >= 28) {
    const count = random() < 0.5 ? int(65536) : Math.floor((b.length - 56) / 12) + int(3) - 1;
    b[26] = count >> 8;
    b[27] = count;
  } else if (kind === 3) {
    b = b.subarray(0, int(b.length + 1)).slice();
  } else if (kind === 4) {
    const grown = new Uint8Array(b.length + int(40));
    grown.set(b);
    for (let i = b.length; i < grown.length; i++) grown[i] = int(256);
    b = grown;
  } else if (b.length >= 24) {
    b[22] = 0;
    b[23] = 101;
  }
  return b;
}

/** Why an output packet is broken, or null. */
function check(out: Uint8Array, before: Uint8Array, payload: Uint8Array): string | null {
  if (!ipv4HeaderChecksumValid(out, 0)) return 'IPv4 header checksum';
  if (!udpChecksumValid(out, 0)) return 'UDP checksum';
  if (out.length !== before.length || ipv4.totalLength(out, 0) !== ipv4.totalLength(before, 0)) return `length ${before.length} became ${out.length}`;
  const hl = ipv4.headerLength(out, 0);
  const may = writable(payload);
  for (let i = 0; i < payload.length; i++) {
    if (!may(i) && out[hl + 8 + i] !== payload[i]) return `byte ${i} of the CU-SeeMe packet changed (${payload[i]} -> ${out[hl + 8 + i]})`;
  }
  return null;
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const count = arg('count', 1_000_000);
  const seed = arg('seed', 1);
  const r = fuzzCuSeeMe(count, seed);
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify(r)}\n`);
  } else {
    process.stdout.write(
      [
        `CU-SeeMe ALG fuzz: ${r.packets} mutated packets (seed ${seed}) in ${r.seconds.toFixed(1)} s (${Math.round(r.packets / r.seconds)} /s)`,
        `  out: ${r.toInside} to inside, ${r.toOutside} to outside, ${r.dropped} dropped by the engine`,
        `  ALG: ${r.alg.messages} messages, ${r.alg.rewritten} rewritten, ${r.alg.passedParseError} unreadable (passed unchanged), ${r.alg.openContinue} OpenContinues, ${r.alg.entriesRestored} entries restored, ${r.alg.entriesPublished} published, ${r.alg.entriesAmbiguous} ambiguous`,
        `  escaped the engine: ${r.escaped}; broken output packets: ${r.broken}`,
        ...r.examples.map((e) => `  ${e}`),
      ].join('\n') + '\n',
    );
  }
  if (r.escaped > 0 || r.broken > 0) process.exitCode = 1;
}
