// The relay's sockets alone, on loopback: CPU per relayed packet of the relay process with its
// ports in one socket set (media.relaySockets: set), a batched socket per port (per-port), and
// node:dgram (dgram), alternating in one run. The relay process binds STREAMS ports through
// src/sipproxy/media/net-binder.ts and forwards each packet from a port to its partner port (as
// RelayEndpoint does, minus the latch); the generator (this process) plays one 172-byte packet
// every 20 ms to each port from one socket of its own socket set and counts what comes back.
// The figure is the relay process's CPU (user + system) per packet it forwarded, which does not
// depend on how busy the machine is as much as a packet rate does.
//
//   node --import tsx bench/sipproxy-relay-sockets.ts [--streams 200,1000] [--seconds 4] [--rounds 3] [--modes set,per-port,dgram]
import { fork } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { UdpSocketSet } from '../src/net/udp-set.js';
import { netRelayBinder, type RelaySockets } from '../src/sipproxy/media/net-binder.js';
import { median } from './harness.js';

type Mode = RelaySockets | 'dgram';
const BASE = 41000;

async function relay(mode: Mode, streams: number): Promise<void> {
  const binder = mode === 'dgram' ? netRelayBinder('127.0.0.1', 'dgram') : netRelayBinder('127.0.0.1', 'batched', undefined, mode);
  let back = { port: 0 };
  let forwarded = 0;
  let forwarded0 = 0;
  for (let i = 0; i < streams; i++) {
    const out = await binder.bind(BASE + streams + i, () => {});
    await binder.bind(BASE + i, (d, address) => {
      out.send(d, address, back.port);
      forwarded++;
    });
  }
  process.on('message', (m: { sink?: number; start?: boolean; stop?: boolean }) => {
    if (m.sink) back = { port: m.sink };
    if (m.start) {
      cpu0 = process.cpuUsage();
      forwarded0 = forwarded;
    }
    if (m.stop) {
      const c = process.cpuUsage(cpu0);
      process.send?.({ cpuUs: c.user + c.system, forwarded: forwarded - forwarded0 });
    }
  });
  let cpu0 = process.cpuUsage();
  process.send?.({ ready: true });
}

interface Result {
  mode: Mode;
  streams: number;
  sent: number;
  got: number;
  cpuUs: number;
  /** Packets the relay forwarded while its CPU was measured. */
  forwarded: number;
  seconds: number;
}

async function generate(mode: Mode, streams: number, seconds: number): Promise<Result> {
  const child = fork(fileURLToPath(import.meta.url), ['--relay', mode, '--streams', String(streams)], { execArgv: ['--import', 'tsx'] });
  const next = () => new Promise<Record<string, number>>((resolve) => child.once('message', (m) => resolve(m as Record<string, number>)));
  await next();
  const set = UdpSocketSet.open({ batchSize: 1024 });
  const sender = set.bind({ address: '127.0.0.1', sendBufferSize: 4 << 20 });
  const sink = set.bind({ address: '127.0.0.1', recvBufferSize: 8 << 20 });
  let got = 0;
  sink.onDatagram(() => got++);
  sender.onDatagram(() => {});
  child.send({ sink: sink.local.port });
  const pkt = new Uint8Array(172);
  pkt[0] = 0x80;
  let sent = 0;
  let counting = false;
  const timer = setInterval(() => {
    for (let i = 0; i < streams; i++) sender.sendTo(pkt, '127.0.0.1', BASE + i);
    if (counting) sent += streams;
  }, 20);
  await new Promise((r) => setTimeout(r, 1000));
  child.send({ start: true });
  const got0 = got;
  counting = true;
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  counting = false;
  child.send({ stop: true });
  const cpu = await next();
  const elapsed = (Date.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 200));
  clearInterval(timer);
  const result = { mode, streams, sent, got: got - got0, cpuUs: cpu.cpuUs, forwarded: cpu.forwarded, seconds: elapsed };
  child.kill();
  set.close();
  return result;
}

async function main(): Promise<void> {
  const { values: a } = parseArgs({
    options: {
      relay: { type: 'string' },
      streams: { type: 'string', default: '200,1000' },
      seconds: { type: 'string', default: '4' },
      rounds: { type: 'string', default: '3' },
      modes: { type: 'string', default: 'set,per-port,dgram' },
    },
  });
  if (a.relay) return relay(a.relay as Mode, Number(a.streams));
  const modes = a.modes.split(',') as Mode[];
  const load = [loadavg().map((x) => x.toFixed(2)).join(' ')];
  const rows: Result[] = [];
  for (const streams of a.streams.split(',').map(Number)) {
    for (let round = 0; round < Number(a.rounds); round++) {
      for (let k = 0; k < modes.length; k++) {
        const mode = modes[(k + round) % modes.length];
        const r = await generate(mode, streams, Number(a.seconds));
        rows.push(r);
        console.error(`${mode.padEnd(9)} ${streams} streams: ${(r.got / r.seconds).toFixed(0)} pps back, loss ${((100 * Math.max(0, r.sent - r.got)) / r.sent).toFixed(2)} %, relay ${(r.cpuUs / 1e6 / r.seconds).toFixed(3)} cores, ${(r.cpuUs / Math.max(1, r.forwarded)).toFixed(2)} µs CPU per packet`);
      }
    }
  }
  load.push(loadavg().map((x) => x.toFixed(2)).join(' '));
  console.log(`load average before: ${load[0]}, after: ${load[1]}`);
  console.log('mode       streams  µs CPU/packet  cores/1000 streams  loss %   (medians)');
  for (const streams of new Set(rows.map((r) => r.streams))) {
    for (const mode of modes) {
      const xs = rows.filter((r) => r.mode === mode && r.streams === streams);
      const us = median(xs.map((r) => r.cpuUs / Math.max(1, r.forwarded)));
      const per1000 = median(xs.map((r) => (1000 * r.cpuUs) / 1e6 / r.seconds / streams));
      const loss = median(xs.map((r) => (100 * Math.max(0, r.sent - r.got)) / r.sent));
      console.log(`${mode.padEnd(9)} ${String(streams).padStart(8)}  ${us.toFixed(2).padStart(13)}  ${per1000.toFixed(3).padStart(18)}  ${loss.toFixed(2).padStart(6)}`);
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
