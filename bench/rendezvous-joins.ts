/**
 * Rendezvous joins answered per second: `masq rendezvous serve` (a child
 * process) on 127.0.0.1, with the in-memory registry and, when redis-server
 * is installed, with Redis.
 *
 * Load: this process, closed loop with WINDOW joins in flight over SOCKETS
 * sockets. Each join is a new peer with its own nonce and MAC; peers pair up
 * in sessions of two, so every second join also makes the server send an
 * introduction (two when both joins race through a shared registry), which
 * the generator acknowledges as a peer would. Each socket
 * proves its address once, as a client does: its first join gets a cookie,
 * which every later join from it echoes (a join that gets a cookie instead of
 * an answer is sent again). Counts join-ok answers (type byte only). The generator shares the machine with the
 * server; the median of RUNS runs is reported, as joins per second of wall
 * time and, steadier on a shared machine, joins per CPU-second of the server
 * process (from /proc).
 *
 * Run: node --import tsx bench/rendezvous-joins.ts [--runs 3] [--seconds 3] [--sockets 8] [--window 64] [--json] [--no-redis]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { argValue, fmtRate, jsonOutput, median } from './harness.js';
import { deriveSessionKey } from '../src/rendezvous/protocol/keys.js';
import { encodeMessage, isAuthenticatedType, readMessage } from '../src/rendezvous/protocol/messages.js';
import { parsePacket } from '../src/rendezvous/protocol/wire.js';
import { TestRedis } from '../test/rendezvous/fixtures/redis-server.js';
import { hasTool } from '../test/lab/prereq.js';
import { processCpuSeconds } from './proc-stats.js';

const runs = argValue('runs', 3);
const seconds = argValue('seconds', 3);
const socketsN = argValue('sockets', 8);
const window = argValue('window', 64);
const REPO = fileURLToPath(new URL('../', import.meta.url));
const HOST = '127.0.0.1';
/** Nonces: a random 32-bit prefix for this process, then a counter. */
const NONCE_PREFIX = Math.floor(Math.random() * 2 ** 32).toString(16).padStart(8, '0');

function startServer(port: number, redisUrl?: string): Promise<ChildProcess> {
  // Every join comes from 127.0.0.1: lift the per-address limits, which would otherwise (rightly) stop it.
  const limits = ['--max-peers-per-address', '100000000', '--join-rate', '100000000', '--max-sessions', '1000000', '--max-open-sessions', '1000000'];
  const args = ['--import', 'tsx', 'src/cli/main.ts', 'rendezvous', 'serve', '--listen', `${HOST}:${port}`, '--no-observe', '--open', '--stats-interval', '0', '--max-peers', '1000', ...limits];
  if (redisUrl) args.push('--redis', redisUrl);
  const p = spawn(process.execPath, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 30_000);
    p.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('listening')) {
        clearTimeout(t);
        resolve(p);
      }
    });
    p.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    p.on('exit', () => reject(new Error(`server exited: ${out}`)));
  });
}

function stop(p: ChildProcess): Promise<void> {
  return new Promise((r) => {
    if (p.exitCode !== null) return r();
    p.once('exit', () => r());
    p.kill('SIGTERM');
  });
}

let counter = 0;
function joinPacket(session: string, cookie: Uint8Array | undefined): Uint8Array {
  counter++;
  const id = counter.toString(16).padStart(16, '0');
  const key = keyFor(session);
  // Remember where each peer belongs, to acknowledge its introductions (bounded). Usually only the
  // first of a pair is introduced to the second; when both joins are in the registry before either is
  // answered (Redis), each is introduced to the other, and a peer that did not acknowledge would make
  // the server retransmit.
  sessionOfPeer.set(id, session);
  if (sessionOfPeer.size > 100_000) sessionOfPeer.delete(sessionOfPeer.keys().next().value as string);
  const nonce = NONCE_PREFIX + counter.toString(16).padStart(8, '0');
  return encodeMessage({ kind: 'join', session, peerId: id, nonce, timestamp: Date.now(), locals: [{ address: '10.0.0.2', port: 4000 }], ...(cookie ? { cookie } : {}) }, key);
}

const keys = new Map<string, Uint8Array>();
function keyFor(session: string): Uint8Array {
  let k = keys.get(session);
  if (!k) {
    k = deriveSessionKey('', session); // the server runs --open: the empty secret
    keys.set(session, k);
    if (keys.size > 10_000) keys.delete(keys.keys().next().value as string);
  }
  return k;
}

/** Peer id -> session, so that an introduction can be acknowledged. */
const sessionOfPeer = new Map<string, string>();

function ackIntroduction(s: dgram.Socket, m: Buffer, port: number): void {
  const intro = readMessage(parsePacket(m, isAuthenticatedType));
  if (intro.kind !== 'introduce') return;
  const session = sessionOfPeer.get(intro.target);
  if (!session) return;
  s.send(encodeMessage({ kind: 'introduce-ack', session, peerId: intro.target, seq: intro.seq }, keyFor(session)), port, HOST);
}

/** One measured run: joins answered per second of wall time, and per server CPU-second. */
async function measure(port: number, tag: string, serverPid: number): Promise<[number, number]> {
  const sockets = await Promise.all(
    Array.from({ length: socketsN }, () => new Promise<dgram.Socket>((r) => {
      const s = dgram.createSocket('udp4');
      s.bind(0, HOST, () => r(s));
    })),
  );
  let answered = 0;
  let sent = 0;
  let measuring = false;
  let inFlight = 0;
  let session = 0;
  /** Each socket's cookie, once the server sent one. */
  const cookies = new Map<dgram.Socket, Uint8Array>();
  const sendOne = (s: dgram.Socket) => {
    const name = `${tag}-${session >> 1}`;
    s.send(joinPacket(name, cookies.get(s)), port, HOST);
    session++;
    sent++;
    inFlight++;
  };
  for (const s of sockets) {
    s.on('message', (m) => {
      if (m[3] === 0x82) return ackIntroduction(s, m, port);
      if (m[3] === 0x88) {
        // A cookie: keep it, and send a join that echoes it in place of the one it answered.
        const c = readMessage(parsePacket(m, isAuthenticatedType));
        if (c.kind === 'cookie') cookies.set(s, c.cookie);
        inFlight--;
        sendOne(s);
        return;
      }
      if (m[3] !== 0x81) return; // join-ok; errors are not answers
      inFlight--;
      if (measuring) answered++;
      sendOne(s);
    });
  }
  // Lost requests would shrink the window: top it up every 50 ms.
  const topUp = setInterval(() => {
    while (inFlight < window) sendOne(sockets[sent % sockets.length]);
  }, 50);
  for (let i = 0; i < window; i++) sendOne(sockets[i % sockets.length]);
  await new Promise((r) => setTimeout(r, 500)); // warm-up
  measuring = true;
  const t0 = performance.now();
  const cpu0 = processCpuSeconds(serverPid);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const rate = answered / ((performance.now() - t0) / 1000);
  const perCpu = answered / Math.max(0.01, processCpuSeconds(serverPid) - cpu0);
  measuring = false;
  clearInterval(topUp);
  for (const s of sockets) s.close();
  await new Promise((r) => setTimeout(r, 200));
  return [rate, perCpu];
}

const results: Record<string, { perSecond: number; perServerCpuSecond: number }> = {};
for (const store of ['memory', 'redis'] as const) {
  if (store === 'redis' && (process.argv.includes('--no-redis') || !hasTool('redis-server'))) continue;
  const redis = store === 'redis' ? await TestRedis.start() : null;
  const port = 20000 + Math.floor(Math.random() * 20000);
  const server = await startServer(port, redis?.url);
  const rates: number[] = [];
  const perCpu: number[] = [];
  try {
    for (let r = 0; r < runs; r++) {
      const [rate, cpu] = await measure(port, `${store}${r}`, server.pid!);
      rates.push(rate);
      perCpu.push(cpu);
    }
  } finally {
    await stop(server);
    await redis?.stop();
  }
  results[store] = { perSecond: median(rates), perServerCpuSecond: median(perCpu) };
  if (!jsonOutput) {
    console.log(
      `rendezvous joins, ${store} registry: ${fmtRate(results[store].perSecond)} wall (runs: ${rates.map((x) => fmtRate(x)).join(', ')}); ${fmtRate(results[store].perServerCpuSecond)} per server CPU-second`,
    );
  }
}
if (jsonOutput) console.log(JSON.stringify({ bench: 'rendezvous-joins', seconds, window, sockets: socketsN, joinsPerSecond: results }));
