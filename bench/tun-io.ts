// Packets per second through the native TUN device (src/dataplane/tun).
//
//   node --import tsx bench/tun-io.ts [--runs 5] [--seconds 2] [--size 64]
//
// Needs Linux, root and a built addon. Everything happens in a throwaway
// network namespace (masq-bench-tun-<pid>). UDP/IPv4 packets, one flow per
// packet of a 64-packet batch; each figure is the median of --runs runs.
//
//   write         JS writes prebuilt packets with writeBatch (64 per call) as
//                 fast as it can; the kernel routes them to a blackhole.
//   read          Reader capacity alone: while the event loop is blocked, 4000
//                 packets are written into a second TUN (blast0) and forwarded
//                 by the kernel into bench0's queue; then the time JS takes to
//                 drain them, at most 64 per wake, is measured.
//   reflect       As read, and JS also swaps addresses and ports in place and
//                 writes each batch back from inside the callback (the
//                 gateway's hot path); counts packets written back.
//   live-read     A separate process (the blaster, pinned to another CPU when
//   live-reflect  there is one) writes into blast0 for --seconds while JS reads
//                 (and reflects) concurrently. Shows how the two sides interact;
//                 on a small or busy machine the blaster, not the reader, may
//                 set the rate ("offered").
//
// The sources are TUN writers, not UDP sockets: a socket send loop in Python
// or Node produced ~120k pps here, less than the reader takes.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { openTun } from '../src/dataplane/tun/device.js';
import { defaultAddonPaths } from '../src/dataplane/tun/native.js';
import { parseIpv4 } from '../src/wire/address.js';
import { IPV4, write32 } from '../src/wire/ipv4.js';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '2' },
    size: { type: 'string', default: '64' },
    role: { type: 'string', default: 'outer' },
  },
});
const RUNS = boundedInt(args.runs, 1, 50, 'runs');
const SECONDS = boundedInt(args.seconds, 1, 60, 'seconds');
const PAYLOAD = boundedInt(args.size, 0, 1400, 'size');
const BATCH = 64;
const READER_NET = '10.78.0.1/24'; // bench0; 10.78.0.2 is "the far side", routed into bench0
const BLASTER_NET = '10.78.1.1/24'; // blast0; packets come from 10.78.1.2
const BLACKHOLE = '10.78.9.1';
const self = fileURLToPath(import.meta.url);
const pinned = availableParallelism() >= 2;

function boundedInt(text: string | undefined, min: number, max: number, what: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${what} must be an integer in ${min}..${max}`);
  return n;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function ip(...argv: string[]): void {
  execFileSync('ip', argv);
}

function disableIpv6(name: string): void {
  const path = `/proc/sys/net/ipv6/conf/${name}/disable_ipv6`;
  if (existsSync(path)) writeFileSync(path, '1');
}

/** UDP/IPv4 packets with valid checksums, laid out one per 2 KiB slot. */
function buildBatch(src: string, dst: string): { buf: Uint8Array; offsets: Uint32Array; lengths: Uint32Array } {
  const slot = 2048;
  const buf = new Uint8Array(BATCH * slot);
  const offsets = new Uint32Array(BATCH);
  const lengths = new Uint32Array(BATCH);
  const sum = (p: Uint8Array, from: number, to: number, initial: number): number => {
    let s = initial;
    for (let i = from; i + 1 < to; i += 2) s += (p[i] << 8) | p[i + 1];
    if ((to - from) & 1) s += p[to - 1] << 8;
    while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
    return s;
  };
  for (let i = 0; i < BATCH; i++) {
    const p = buf.subarray(i * slot, i * slot + 28 + PAYLOAD);
    const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
    p[0] = 0x45;
    v.setUint16(2, p.length);
    p[8] = 64;
    p[9] = 17;
    write32(p, IPV4.SRC, parseIpv4(src));
    write32(p, IPV4.DST, parseIpv4(dst));
    v.setUint16(10, ~sum(p, 0, 20, 0) & 0xffff);
    v.setUint16(20, 10000 + i); // one flow per packet of the batch
    v.setUint16(22, 9);
    v.setUint16(24, 8 + PAYLOAD);
    p.fill(0x61, 28);
    const pseudo = sum(p, 12, 20, 17 + 8 + PAYLOAD);
    v.setUint16(26, ~sum(p, 20, p.length, pseudo) & 0xffff || 0xffff);
    offsets[i] = i * slot;
    lengths[i] = p.length;
  }
  return { buf, offsets, lengths };
}

// ------------------------------------------------------------------ blaster

/** Writes UDP packets 10.78.1.2 -> 10.78.0.2 into blast0 for SECONDS; prints "start", then the count. */
function blaster(): void {
  const dev = openTun({ name: 'blast0', mtu: 1500 });
  disableIpv6(dev.name);
  ip('addr', 'add', BLASTER_NET, 'dev', dev.name);
  ip('link', 'set', dev.name, 'up');
  const { buf, offsets, lengths } = buildBatch('10.78.1.2', '10.78.0.2');
  process.stdout.write('start\n');
  const end = performance.now() + SECONDS * 1000;
  let sent = 0;
  let full = 0;
  while (performance.now() < end) {
    for (let k = 0; k < 16; k++) {
      const n = dev.writeBatch(buf, offsets, lengths, BATCH);
      sent += n;
      if (n < BATCH) full++;
    }
  }
  process.stdout.write(`${JSON.stringify({ sent, full, seconds: SECONDS })}\n`);
  dev.close();
}

// ------------------------------------------------------------------ inside the namespace

interface Run {
  pps: number;
  perWake: number;
  offered?: number;
  dropped?: number;
}

const QUEUE = 4096; // tun queue length of bench0: holds a whole drain cycle
const CYCLE = 4000;

function setUp(name: string, net: string, queue?: number): void {
  disableIpv6(name);
  ip('addr', 'add', net, 'dev', name);
  if (queue !== undefined) ip('link', 'set', name, 'txqueuelen', String(queue));
  ip('link', 'set', name, 'up');
}

/** Swaps addresses and ports of each UDP/IPv4 packet in place (every checksum stays valid); returns how many to write. */
function reflectInPlace(view: DataView, buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): number {
  let keep = 0;
  for (let i = 0; i < count; i++) {
    const o = offsets[i];
    if (lengths[i] < 28 || buf[o] !== 0x45 || buf[o + 9] !== 17) continue;
    const src = view.getUint32(o + 12);
    view.setUint32(o + 12, view.getUint32(o + 16));
    view.setUint32(o + 16, src);
    const ports = view.getUint32(o + 20);
    view.setUint32(o + 20, (ports >>> 16) | ((ports & 0xffff) << 16));
    offsets[keep] = o;
    lengths[keep] = lengths[i];
    keep++;
  }
  return keep;
}

function measureWrite(): Run {
  const dev = openTun({ name: 'bench0', mtu: 1500 });
  try {
    setUp(dev.name, READER_NET);
    const { buf, offsets, lengths } = buildBatch('10.78.0.2', BLACKHOLE);
    const start = performance.now();
    const end = start + SECONDS * 1000;
    let written = 0;
    while (performance.now() < end) written += dev.writeBatch(buf, offsets, lengths, BATCH);
    const seconds = (performance.now() - start) / 1000;
    return { pps: written / seconds, perWake: BATCH };
  } finally {
    dev.close();
  }
}

/**
 * Reader capacity without a competing sender: fill bench0's queue with CYCLE packets (written into
 * blast0 and forwarded by the kernel, synchronously, while the event loop is blocked), then time how
 * long the reader takes to drain them. Only drain time is counted.
 */
async function measureDrain(reflect: boolean): Promise<Run> {
  const source = openTun({ name: 'blast0', mtu: 1500 });
  const dev = openTun({ name: 'bench0', mtu: 1500 });
  try {
    setUp(source.name, BLASTER_NET);
    setUp(dev.name, READER_NET, QUEUE);
    const batch = buildBatch('10.78.1.2', '10.78.0.2');
    let pending = 0;
    let drained: (() => void) | undefined;
    let view: DataView | undefined;
    dev.onPackets((buf, offsets, lengths, count) => {
      if (reflect) {
        view ??= new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
        dev.writeBatch(buf, offsets, lengths, reflectInPlace(view, buf, offsets, lengths, count));
      }
      pending -= count;
      if (pending <= 0) drained?.();
    });
    let drainMs = 0;
    let packets = 0;
    const before = dev.stats();
    const end = performance.now() + SECONDS * 1000;
    while (performance.now() < end) {
      const readBefore = dev.stats().packetsRead;
      let filled = 0;
      while (filled < CYCLE) filled += source.writeBatch(batch.buf, batch.offsets, batch.lengths, Math.min(BATCH, CYCLE - filled));
      pending = CYCLE - (dev.stats().packetsRead - readBefore);
      const t0 = performance.now();
      await Promise.race([
        new Promise<void>((resolve) => (drained = resolve)),
        new Promise<void>((resolve) => setTimeout(resolve, 2000)), // packets lost on the way: count what came
      ]);
      drainMs += performance.now() - t0;
      packets += dev.stats().packetsRead - readBefore;
    }
    const after = dev.stats();
    const moved = reflect ? after.packetsWritten - before.packetsWritten : packets;
    return { pps: moved / (drainMs / 1000), perWake: (after.packetsRead - before.packetsRead) / Math.max(1, after.wakes - before.wakes) };
  } finally {
    dev.close();
    source.close();
  }
}

/** A second process (pinned to another CPU when there is one) blasts packets while this one reads. */
async function measureLive(reflect: boolean): Promise<Run> {
  const dev = openTun({ name: 'bench0', mtu: 1500 });
  try {
    setUp(dev.name, READER_NET, QUEUE);
    let view: DataView | undefined;
    dev.onPackets((buf, offsets, lengths, count) => {
      if (!reflect) return;
      view ??= new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
      dev.writeBatch(buf, offsets, lengths, reflectInPlace(view, buf, offsets, lengths, count));
    });
    const droppedPath = `/sys/class/net/${dev.name}/statistics/tx_dropped`;
    const dropped = (): number => Number(readFileSync(droppedPath, 'utf8'));
    const command = pinned ? ['taskset', '-c', '1', process.execPath] : [process.execPath];
    const child = spawn(command[0], [...command.slice(1), '--import', 'tsx', self, '--role', 'blaster', '--seconds', String(SECONDS), '--size', String(PAYLOAD)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    let t0 = 0;
    let before = dev.stats();
    let dropped0 = 0;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (t0 === 0 && out.startsWith('start\n')) {
        t0 = performance.now();
        before = dev.stats();
        dropped0 = dropped();
      }
    });
    const killer = setTimeout(() => child.kill(), (SECONDS + 30) * 1000);
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    clearTimeout(killer);
    const t1 = performance.now();
    const after = dev.stats();
    if (code !== 0 || t0 === 0) throw new Error(`blaster failed (exit ${code}): ${out}`);
    const report = JSON.parse(out.split('\n')[1]) as { sent: number; seconds: number };
    const seconds = (t1 - t0) / 1000;
    const count = reflect ? after.packetsWritten - before.packetsWritten : after.packetsRead - before.packetsRead;
    return {
      pps: count / seconds,
      perWake: (after.packetsRead - before.packetsRead) / Math.max(1, after.wakes - before.wakes),
      offered: report.sent / report.seconds,
      dropped: dropped() - dropped0,
    };
  } finally {
    dev.close();
  }
}

async function inside(): Promise<void> {
  execFileSync('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
  execFileSync('ip', ['route', 'add', 'blackhole', `${BLACKHOLE}/32`]);
  const modes: Record<string, () => Run | Promise<Run>> = {
    write: measureWrite,
    read: () => measureDrain(false),
    reflect: () => measureDrain(true),
    'live-read': () => measureLive(false),
    'live-reflect': () => measureLive(true),
  };
  const results: Record<string, Run[]> = Object.fromEntries(Object.keys(modes).map((m) => [m, []]));
  for (let r = 0; r < RUNS; r++) for (const [mode, measure] of Object.entries(modes)) results[mode].push(await measure());
  process.stdout.write(`${JSON.stringify(results)}\n`);
}

// ------------------------------------------------------------------ outside

function outer(): void {
  const missing =
    process.platform !== 'linux'
      ? 'Linux only'
      : process.getuid?.() !== 0
        ? 'needs root (network namespace, TUN devices)'
        : !defaultAddonPaths().some((p) => existsSync(p))
          ? 'native addon not built: run npm ci or npm run build:native'
          : undefined;
  if (missing !== undefined) {
    console.error(`bench/tun-io: ${missing}`);
    process.exitCode = 1;
    return;
  }
  const ns = `masq-bench-tun-${process.pid}`;
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    const reader = pinned ? ['taskset', '-c', '0', process.execPath] : [process.execPath];
    const r = spawnSync(
      'ip',
      ['netns', 'exec', ns, ...reader, '--import', 'tsx', self, '--role', 'inside', '--runs', String(RUNS), '--seconds', String(SECONDS), '--size', String(PAYLOAD)],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: RUNS * (3 * SECONDS + 30) * 1000 },
    );
    if (r.status !== 0) throw new Error(`benchmark failed (exit ${r.status}, ${r.signal ?? 'no signal'})`);
    const results = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, Run[]>;
    report(results);
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
  }
}

function report(results: Record<string, Run[]>): void {
  const k = (n: number): string => `${(n / 1000).toFixed(0)}k`;
  console.log(
    `TUN I/O, UDP payload ${PAYLOAD} B (packet ${PAYLOAD + 28} B), ${RUNS} runs x ${SECONDS} s, node ${process.version}, ` +
      `${availableParallelism()} CPUs${pinned ? ' (live: reader on CPU 0, blaster on CPU 1)' : ''}`,
  );
  for (const [mode, runs] of Object.entries(results)) {
    const pps = median(runs.map((r) => r.pps));
    let line = `  ${mode.padEnd(12)} median ${k(pps).padStart(6)} pps   runs: ${runs.map((r) => k(r.pps)).join(' ')}`;
    if (mode !== 'write') line += `   packets/wake ${median(runs.map((r) => r.perWake)).toFixed(1)}`;
    if (mode.startsWith('live')) {
      line += `   offered ${k(median(runs.map((r) => r.offered ?? 0)))} pps, tun drops ${median(runs.map((r) => r.dropped ?? 0))}/run`;
    }
    console.log(line);
  }
}

if (args.role === 'blaster') blaster();
else if (args.role === 'inside') await inside();
else outer();
