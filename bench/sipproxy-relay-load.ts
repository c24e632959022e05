// The generator of bench/sipproxy-relay.ts, run in the lab's internet router namespace: sets up
// `streams / 2` calls on an ng media relay (masq's or rtpengine's, the same requests), then plays
// RTP both ways on every call (one 172-byte G.711 packet per direction every 20 ms) and counts
// what comes back through the relay. CPU of the relay process (by pid, /proc is shared across
// network namespaces) and the system's softirq time are read over the measured window only.
// Prints one JSON line.
//
//   node --import tsx bench/sipproxy-relay-load.ts NG_HOST NG_PORT LOCAL_ADDR STREAMS SECONDS RELAY_PID
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dict, text } from '../src/sipproxy/ng/bencode.js';
import { encodeNgMessage, parseNgMessage } from '../src/sipproxy/ng/message.js';

const [ngHost, ngPortText, local, streamsText, secondsText, pidText] = process.argv.slice(2);
const streams = Number(streamsText);
const calls = Math.max(1, Math.floor(streams / 2));
const seconds = Number(secondsText);
const pid = Number(pidText);
const WARMUP_MS = 2000;
const TICK_MS = 20;
const BASE_PORT = 20000;

const ng = dgram.createSocket('udp4');
const pending = new Map<string, (d: Map<string, unknown>) => void>();
ng.on('message', (m) => {
  const p = parseNgMessage(m);
  if (p.ok) pending.get(p.cookie)?.(p.request as Map<string, unknown>);
});

function ngCall(body: Record<string, unknown>): Promise<Map<string, unknown>> {
  const cookie = randomBytes(6).toString('hex');
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`ng ${String(body.command)}: no reply`)), 5000);
    pending.set(cookie, (d) => {
      clearTimeout(t);
      pending.delete(cookie);
      resolve(d);
    });
    ng.send(encodeNgMessage(cookie, body as never), Number(ngPortText), ngHost);
  });
}

const sdp = (port: number) => `v=0\r\no=- 1 1 IN IP4 ${local}\r\ns=-\r\nc=IN IP4 ${local}\r\nt=0 0\r\nm=audio ${port} RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\na=sendrecv\r\n`;

function relayPort(reply: Map<string, unknown>): number {
  const r = dict(reply as never);
  if (text(r?.get('result')) !== 'ok') throw new Error(`ng: ${text(r?.get('result'))} ${text(r?.get('error-reason')) ?? ''}`);
  const m = /m=audio (\d+)/.exec(text(r?.get('sdp')) ?? '');
  if (!m) throw new Error('ng: no m= line in the reply');
  return Number(m[1]);
}

interface Side {
  sock: dgram.Socket;
  to: number;
  sent: number;
  received: number;
}

function cpuTicks(): { proc: number; softirq: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const proc = Number(f[11]) + Number(f[12]);
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].split(/\s+/);
  return { proc, softirq: Number(cpu[7]) };
}

async function main(): Promise<void> {
  const sides: Side[] = [];
  const ids: Array<{ callId: string }> = [];
  // Media flows on each call as soon as it is set up, as phones do: a relay ends a call silent for its
  // media timeout (60 s), which a slow setup of hundreds of calls would otherwise reach.
  const pkt = Buffer.alloc(172);
  pkt[0] = 0x80;
  pkt[1] = 8;
  let seq = 0;
  const timer = setInterval(() => {
    pkt.writeUInt16BE(seq++ & 0xffff, 2);
    for (const s of sides) {
      s.sock.send(pkt, s.to, ngHost);
      s.sent++;
    }
  }, TICK_MS);
  // How long the calls took to set up (reported).
  const setupStart = process.hrtime.bigint();
  for (let c = 0; c < calls; c++) {
    const callId = `bench-${process.pid}-${c}`;
    const pa = BASE_PORT + 4 * c;
    const pb = pa + 2;
    const offer = await ngCall({ command: 'offer', 'call-id': callId, 'from-tag': 'a', sdp: sdp(pa), replace: ['origin', 'session-connection'] });
    const answer = await ngCall({ command: 'answer', 'call-id': callId, 'from-tag': 'a', 'to-tag': 'b', sdp: sdp(pb), replace: ['origin', 'session-connection'] });
    const toFromA = relayPort(answer);
    const toFromB = relayPort(offer);
    for (const [port, to] of [
      [pa, toFromA],
      [pb, toFromB],
    ]) {
      const sock = dgram.createSocket('udp4');
      await new Promise<void>((r) => sock.bind(port, local, () => r()));
      const side: Side = { sock, to, sent: 0, received: 0 };
      sock.on('message', () => side.received++);
      sides.push(side);
    }
    ids.push({ callId });
  }
  const setupSeconds = Number(process.hrtime.bigint() - setupStart) / 1e9;
  const total = () => sides.reduce((a, s) => ({ sent: a.sent + s.sent, received: a.received + s.received }), { sent: 0, received: 0 });
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  const c0 = cpuTicks();
  const t0 = process.hrtime.bigint();
  const n0 = total();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  clearInterval(timer);
  const n1mid = total();
  const c1 = cpuTicks();
  const t1 = process.hrtime.bigint();
  // What was in flight when sending stopped.
  await new Promise((r) => setTimeout(r, 300));
  const n1 = total();
  const elapsed = Number(t1 - t0) / 1e9;
  const sent = n1mid.sent - n0.sent;
  const received = n1.received - n0.received;
  const hz = 100;
  const result = {
    streams: sides.length,
    seconds: elapsed,
    sent,
    received,
    lossPct: sent > 0 ? (100 * Math.max(0, sent - received)) / sent : 0,
    relayedPps: received / elapsed,
    offeredPps: sent / elapsed,
    relayCpu: (c1.proc - c0.proc) / hz / elapsed,
    softirqCpu: (c1.softirq - c0.softirq) / hz / elapsed,
    setupSeconds,
  };
  for (const { callId } of ids) await ngCall({ command: 'delete', 'call-id': callId, 'from-tag': 'a' }).catch(() => undefined);
  for (const s of sides) s.sock.close();
  ng.close();
  console.log(JSON.stringify(result));
}

main().catch((err) => {
  console.error(String(err?.stack ?? err));
  process.exit(1);
});
