// The gateway loop's own cost per packet, without the kernel: batches of UDP
// packets delivered by an in-memory device, translated by the engine, written
// to a device that only counts. Separates masq's JavaScript from the TUN
// syscalls and the kernel forwarding that bench/gateway-throughput.ts includes.
//
//   node --import tsx bench/gateway-loop.ts [--flows 1000] [--runs 5] [--json]
//
// Times are process CPU time (other load on the machine matters less). Reports ns per packet for: the loop with one packet size (the view of each
// slot is reused), the loop with sizes that alternate per wake (a new subarray
// for every packet: what an engine API taking (buf, offset, length) would
// save), the loop on offload devices (virtio-net headers, partial checksums,
// UDP coalescing on: with 1000 flows nothing merges, with one flow every batch
// becomes one GSO packet, whose copy is then counted), and engine.process alone.
import { GatewayLoop, type PacketDevice } from '../src/dataplane/tun/gateway-loop.js';
import type { TunPacketHandler } from '../src/dataplane/tun/device.js';
import { NatEngine, Side } from '../src/nat/engine.js';
import { ManualClock } from '../src/util/clock.js';
import { parseIpv4 } from '../src/wire/address.js';
import { buildUdpPacket } from '../src/wire/udp.js';
import { fillIpv4HeaderChecksum } from '../src/wire/ipv4.js';
import { VNET_F_NEEDS_CSUM, VNET_HEADER_SIZE } from '../src/dataplane/tun/vnet-header.js';
import { argValue, cpuSeconds, jsonOutput, median, repeat } from './harness.js';

const FLOWS = argValue('flows', 1000);
const RUNS = argValue('runs', 5);
const BATCH = 64;
const SLOT = 2048;
const PAYLOAD = 144; // 172-byte packets, as iperf3 -l 144 would make... the size matters little here
const WAKES = 20_000;

function packets(extra = 0): Uint8Array[] {
  const src = parseIpv4('10.0.1.2');
  const dst = parseIpv4('198.51.100.10');
  return Array.from({ length: FLOWS }, (_, i) => buildUdpPacket({ src, dst, srcPort: 10_000 + i, dstPort: 5201, payload: new Uint8Array(PAYLOAD + extra) }, 63));
}

class CountingDevice implements PacketDevice {
  readonly name = 'bench';
  constructor(readonly vnetHeaderSize = 0) {}
  handler: TunPacketHandler | null = null;
  written = 0;
  onPackets(h: TunPacketHandler) {
    this.handler = h;
  }
  writeBatch(_b: Uint8Array, _o: Uint32Array, _l: Uint32Array, count: number): number {
    this.written += count;
    return count;
  }
  write(): boolean {
    this.written++;
    return true;
  }
}

/** One flow's datagrams with consecutive identifications, as one connected UDP socket sends them. */
function oneFlow(): Uint8Array[] {
  const src = parseIpv4('10.0.1.2');
  const dst = parseIpv4('198.51.100.10');
  return Array.from({ length: BATCH }, (_, i) => {
    const p = buildUdpPacket({ src, dst, srcPort: 10_000, dstPort: 5201, payload: new Uint8Array(PAYLOAD) }, 63);
    p[5] = i;
    fillIpv4HeaderChecksum(p, 0);
    return p;
  });
}

type Variant = 'plain' | 'alternate sizes' | 'offload' | 'offload, one flow';

/** One measurement: ns per packet over WAKES batches; with alternate sizes every packet needs a new view. */
function runLoop(variant: Variant): number {
  const clock = new ManualClock(0);
  const engine = new NatEngine({ inside: ['10.0.1.0/24'], public: ['203.0.113.1'], mapping: 'eim' }, { clock });
  const offload = variant === 'offload' || variant === 'offload, one flow';
  const hdr = offload ? VNET_HEADER_SIZE : 0;
  const dev = new CountingDevice(hdr);
  const loop = new GatewayLoop(engine, dev, new CountingDevice(hdr), clock, { singleHop: true, coalesceUdp: offload });
  loop.start();
  const sets = variant === 'alternate sizes' ? [packets(0), packets(1)] : variant === 'offload, one flow' ? [oneFlow()] : [packets(0)];
  const buf = new Uint8Array(BATCH * SLOT);
  const offsets = new Uint32Array(BATCH);
  const lengths = new Uint32Array(BATCH);
  let next = 0;
  let wake = 0;
  const fill = () => {
    const pkts = sets[wake++ % sets.length];
    for (let i = 0; i < BATCH; i++) {
      const p = pkts[next++ % pkts.length];
      const at = i * SLOT + hdr;
      buf.set(p, at);
      if (offload) buf[at - hdr] = VNET_F_NEEDS_CSUM;
      offsets[i] = at;
      lengths[i] = p.length;
    }
  };
  // Copying packets in costs the same in every variant; it is measured apart and subtracted.
  let t = cpuSeconds();
  for (let w = 0; w < WAKES; w++) fill();
  const fillNs = (cpuSeconds() - t) * 1e9;
  const handler = dev.handler!;
  t = cpuSeconds();
  for (let w = 0; w < WAKES; w++) {
    fill();
    handler(buf, offsets, lengths, BATCH);
  }
  const ns = (cpuSeconds() - t) * 1e9 - fillNs;
  if (loop.counters.forwarded !== WAKES * BATCH) throw new Error(`only ${loop.counters.forwarded} packets forwarded`);
  return ns / (WAKES * BATCH);
}

/** engine.process on fresh copies of the packets, views made once: the engine's own share. */
function runEngineOnly(): number {
  const clock = new ManualClock(0);
  const engine = new NatEngine({ inside: ['10.0.1.0/24'], public: ['203.0.113.1'], mapping: 'eim' }, { clock });
  const pkts = packets();
  const buf = new Uint8Array(BATCH * SLOT);
  const views = Array.from({ length: BATCH }, (_, i) => buf.subarray(i * SLOT, i * SLOT + pkts[0].length));
  let next = 0;
  const fill = () => {
    for (let i = 0; i < BATCH; i++) buf.set(pkts[next++ % pkts.length], i * SLOT);
  };
  let t = cpuSeconds();
  for (let w = 0; w < WAKES; w++) fill();
  const fillNs = (cpuSeconds() - t) * 1e9;
  t = cpuSeconds();
  for (let w = 0; w < WAKES; w++) {
    fill();
    for (let i = 0; i < BATCH; i++) engine.process(views[i], Side.Inside, 0);
  }
  return ((cpuSeconds() - t) * 1e9 - fillNs) / (WAKES * BATCH);
}

const results = {
  loopReusedViewsNs: median(repeat(RUNS, 1, () => runLoop('plain'))),
  loopNewViewPerPacketNs: median(repeat(RUNS, 1, () => runLoop('alternate sizes'))),
  loopOffloadNs: median(repeat(RUNS, 1, () => runLoop('offload'))),
  loopOffloadOneFlowNs: median(repeat(RUNS, 1, () => runLoop('offload, one flow'))),
  engineProcessNs: median(repeat(RUNS, 1, runEngineOnly)),
  flows: FLOWS,
};
if (jsonOutput) process.stdout.write(`${JSON.stringify(results)}\n`);
else {
  process.stdout.write(
    [
      `gateway loop, ${FLOWS} flows, batches of ${BATCH}, median of ${RUNS}:`,
      `  loop, one packet size (views reused):     ${results.loopReusedViewsNs.toFixed(0)} ns/packet`,
      `  loop, sizes alternate (a view per packet): ${results.loopNewViewPerPacketNs.toFixed(0)} ns/packet`,
      `  loop, offload devices, nothing to merge:   ${results.loopOffloadNs.toFixed(0)} ns/packet`,
      `  loop, offload devices, one flow (merged):  ${results.loopOffloadOneFlowNs.toFixed(0)} ns/packet`,
      `  engine.process alone:                      ${results.engineProcessNs.toFixed(0)} ns/packet`,
    ].join('\n') + '\n',
  );
}
