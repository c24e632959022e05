/**
 * The NAT engine's benchmark cases, written against any build of the engine
 * module, so that two builds can run side by side in one process
 * (bench/engine-ab.ts) as well as alone (bench/nat-engine.ts).
 */
import { ManualClock } from '../src/util/clock.js';
import type * as EngineModule from '../src/nat/engine.js';
import { buildUdpPacket } from '../src/wire/udp.js';
import { parseIpv4 } from '../src/wire/address.js';
import { cpuSeconds } from './harness.js';
import type { FlowKeeping } from './state-keeping.js';

type Engines = Pick<typeof EngineModule, 'NatEngine'>;
type Side = EngineModule.Side;
// const enums have no value to pass around: their numbers, typed.
const INSIDE = 0 as EngineModule.Side;
const OUTSIDE = 1 as EngineModule.Side;
const TO_OUTSIDE = 1 as EngineModule.Verdict;

export function engineCases(mod: Engines) {
  const { NatEngine } = mod;
  /** One public address (an operator's usual case) or twenty (port space for the new-flow run). */
  function engine(limit = 2_000_000, publicCount = 1) {
    const clock = new ManualClock(0);
    let s = 12345;
    const random = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const e = new NatEngine(
      {
        inside: ['10.0.0.0/8'],
        public: Array.from({ length: publicCount }, (_, i) => `203.0.113.${i + 1}`),
        mapping: 'eim',
        filtering: 'apdf',
        ports: { allocation: 'random' },
        limits: { flows: limit, flowsPerHost: limit },
      },
      { clock, random, initialCapacity: 1024 },
    );
    return { e, clock };
  }
  
  /**
   * Established flows: N flows set up once, then packets cycle through them,
   * outbound and inbound in turn, run after run (the steady state of a busy
   * gateway; no table growth or setup garbage inside a timed run). Translation
   * is in place, so after each packet the ten bytes the engine rewrote
   * (address, port, IPv4 and UDP checksums) are put back from the original;
   * that restore loop is also timed alone and subtracted.
   */
  function establishedFlows(flowCount: number) {
    const { e, clock } = engine();
    const remote = parseIpv4('198.51.100.10');
    const outPkts: Uint8Array[] = [];
    const inPkts: Uint8Array[] = [];
    for (let i = 0; i < flowCount; i++) {
      const src = (parseIpv4('10.0.0.0') + 1 + (i >> 8)) >>> 0;
      const p = buildUdpPacket({ src, dst: remote, srcPort: 10000 + (i & 0xff), dstPort: 5004, payload: new Uint8Array(144) });
      const copy = p.slice();
      if (e.process(copy, INSIDE) !== TO_OUTSIDE) throw new Error('setup failed');
      outPkts.push(p);
      const pub = ((copy[12] << 24) | (copy[13] << 16) | (copy[14] << 8) | copy[15]) >>> 0;
      const pubPort = (copy[20] << 8) | copy[21];
      inPkts.push(buildUdpPacket({ src: remote, dst: pub, srcPort: 5004, dstPort: pubPort, payload: new Uint8Array(144) }));
    }
    const run = (originals: Uint8Array[], side: Side, withEngine: boolean, packets: number) => {
      const work = originals.map((p) => p.slice());
      // Outbound rewrites the source address (12..15) and port (20..21); inbound the destination (16..19, 22..23).
      const a = side === INSIDE ? 12 : 16;
      const pt = side === INSIDE ? 20 : 22;
      const now = clock.now();
      let n = 0;
      const t0 = cpuSeconds();
      while (n < packets) {
        for (let i = 0; i < work.length && n < packets; i++, n++) {
          const w = work[i];
          const o = originals[i];
          w[10] = o[10];
          w[11] = o[11];
          w[a] = o[a];
          w[a + 1] = o[a + 1];
          w[a + 2] = o[a + 2];
          w[a + 3] = o[a + 3];
          w[pt] = o[pt];
          w[pt + 1] = o[pt + 1];
          w[26] = o[26];
          w[27] = o[27];
          if (withEngine) e.process(w, side, now);
        }
      }
      return cpuSeconds() - t0;
    };
    /** Packets per CPU-second in one direction. */
    return (side: Side, packets: number) => {
      const originals = side === INSIDE ? outPkts : inPkts;
      const counted = () => (side === INSIDE ? e.counters.packetsOut : e.counters.packetsIn);
      const before = counted();
      const withEngine = run(originals, side, true, packets);
      // Every packet was translated (a drop or a miss would not count): the run measured what it claims.
      if (counted() - before !== packets) throw new Error(`${counted() - before} of ${packets} packets translated`);
      return packets / (withEngine - run(originals, side, false, packets));
    };
  }
  
  /**
   * New flows: one reused buffer whose source address and port change per packet
   * (as a dataplane reuses its receive buffer); the tables start small and grow,
   * as on a cold gateway. The packet preparation loop is timed alone and subtracted.
   * With `keeping`, the gateway's state keeping runs in the timed loop too
   * (bench/state-keeping.ts): its cost is in the rate.
   */
  function newFlows(count: number, keeping?: FlowKeeping): number {
    const prep = (withEngine: boolean) => {
      const { e, clock } = engine(count + 10, 20);
      const work = buildUdpPacket({ src: parseIpv4('10.0.0.1'), dst: parseIpv4('198.51.100.10'), srcPort: 1, dstPort: 53, payload: new Uint8Array(32) });
      const now = clock.now();
      const kept = withEngine && keeping ? keeping.attach(e as unknown as EngineModule.NatEngine, clock) : undefined;
      const every = keeping?.every ?? 0;
      const t0 = cpuSeconds();
      for (let i = 0; i < count; i++) {
        setSource(work, (0x0a000001 + (i >> 10)) >>> 0, 20000 + (i & 0x3ff));
        if (withEngine && e.process(work, INSIDE, now) !== TO_OUTSIDE) throw new Error(`flow ${i} refused`);
        if (kept && (i + 1) % every === 0) kept.tick();
      }
      kept?.end();
      const t = cpuSeconds() - t0;
      kept?.dispose();
      return t;
    };
    return count / (prep(true) - prep(false));
  }
  
  /** Writes source address and port, and a correct IPv4 header checksum (UDP checksum left stale: not verified). */
  function setSource(w: Uint8Array, src: number, port: number): void {
    w[12] = src >>> 24;
    w[13] = (src >>> 16) & 0xff;
    w[14] = (src >>> 8) & 0xff;
    w[15] = src & 0xff;
    w[20] = port >> 8;
    w[21] = port & 0xff;
    w[10] = 0;
    w[11] = 0;
    let sum = 0;
    for (let j = 0; j < 20; j += 2) sum += (w[j] << 8) | w[j + 1];
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    w[10] = (~sum >> 8) & 0xff;
    w[11] = ~sum & 0xff;
  }
  
  function memoryPerFlow(count: number): { tableBytes: number; processBytes: number } {
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const before = process.memoryUsage();
    const { e } = engine(count + 10, 20);
    const remote = parseIpv4('198.51.100.10');
    const pkt = buildUdpPacket({ src: parseIpv4('10.0.0.1'), dst: remote, srcPort: 1, dstPort: 53, payload: new Uint8Array(8) });
    const work = pkt.slice();
    for (let i = 0; i < count; i++) {
      setSource(work, (0x0a000001 + (i >> 10)) >>> 0, 20000 + (i & 0x3ff));
      if (e.process(work, INSIDE) !== TO_OUTSIDE) throw new Error(`flow ${i} refused`);
    }
    gc?.();
    const after = process.memoryUsage();
    const tableBytes = e.flows.bytes + e.mappings.bytes;
    const processBytes = after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers);
    if (e.flows.size !== count) throw new Error(`expected ${count} flows, have ${e.flows.size}`);
    return { tableBytes: tableBytes / count, processBytes: processBytes / count };
  }

  return { establishedFlows, newFlows, memoryPerFlow, INSIDE, OUTSIDE };
}
