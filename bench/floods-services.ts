// Floods at the traversal services on loopback, each a child process as an operator runs it, while
// a legitimate client keeps working:
//
//   node --import tsx bench/floods-services.ts [--seconds 60] [--only stun,rendezvous,relay] [--sources 200] [--json]
//
//   stun        `masq stun serve`: Binding requests (plain, and with unknown attributes) from --sources
//               addresses of 127.0.0.0/8, as fast as this process sends; a client on 127.0.0.1 asks
//               every 200 ms.
//   rendezvous  `masq rendezvous serve --open`: joins from the same sources into random open sessions;
//               half the sources echo the cookie they get (an attacker who owns its addresses), half do
//               not (forged sources); two peers in a keyed session keep joining and connecting.
//   relay       `masq relay serve`: unauthenticated traffic (binds with a wrong key, relay-send from
//               sources with no binding, random bytes) from the same sources; two peers bound in a keyed
//               session keep exchanging data through the relay.
//
// Loopback sources receive the answers, so what each flood brought back to its sources is measured:
// the largest answer relative to the request that provoked it, and bytes back / bytes sent. Recorded
// per flood: packets and bytes sent, answers, the user's results, the server's resident memory (before,
// highest, after; sampled every second) and the load average. The flood and the server share the
// machine: figures are of one process flooding, not of a network.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { deriveSessionKey, SessionKeys } from '../src/rendezvous/protocol/keys.js';
import { encodeMessage, isAuthenticatedType, readMessage, type Message } from '../src/rendezvous/protocol/messages.js';
import { parsePacket } from '../src/rendezvous/protocol/wire.js';
import { PunchClient } from '../src/rendezvous/client/punch-client.js';
import { nodeNetEnv } from '../src/net/node-udp.js';
import { loadAverage, rssMiB } from './proc-stats.js';

const KINDS = ['stun', 'rendezvous', 'relay'] as const;
type Kind = (typeof KINDS)[number];
const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    only: { type: 'string', default: KINDS.join(',') },
    sources: { type: 'string', default: '200' },
    json: { type: 'boolean', default: false },
  },
});
const SECONDS = Number(args.seconds);
if (!Number.isInteger(SECONDS) || SECONDS < 1 || SECONDS > 600) throw new Error('--seconds must be an integer in 1..600');
const SOURCES = Number(args.sources);
if (!Number.isInteger(SOURCES) || SOURCES < 1 || SOURCES > 10_000) throw new Error('--sources must be in 1..10000');
const ONLY = args.only.split(',').map((k) => {
  if (!(KINDS as readonly string[]).includes(k)) throw new Error(`--only: one of ${KINDS.join(', ')}, not ${k}`);
  return k as Kind;
});
const COMMAND = `node --import tsx bench/floods-services.ts --seconds ${SECONDS} --only ${ONLY.join(',')} --sources ${SOURCES}`;
const REPO = fileURLToPath(new URL('../', import.meta.url));
const HOST = '127.0.0.1';
/** The keyed session's secret (the user's; the flood does not know it). */
const SECRET = randomBytes(16).toString('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const load = loadAverage;

// ------------------------------------------------------------------ the server process

async function startService(argv: string[]): Promise<ChildProcess> {
  const p = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...argv], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout!.on('data', (d: Buffer) => (out += d.toString()).length > 1e6 && (out = out.slice(-1e5)));
  p.stderr!.on('data', (d: Buffer) => (out += d.toString()).length > 1e6 && (out = out.slice(-1e5)));
  const deadline = Date.now() + 30_000;
  while (!/listening/.test(out)) {
    if (p.exitCode !== null) throw new Error(`${argv.join(' ')} exited: ${out}`);
    if (Date.now() > deadline) throw new Error(`${argv.join(' ')} did not start: ${out}`);
    await sleep(50);
  }
  return p;
}

function stopService(p: ChildProcess): Promise<void> {
  return new Promise((r) => {
    if (p.exitCode !== null) return r();
    const t = setTimeout(() => p.kill('SIGKILL'), 5000);
    p.once('exit', () => {
      clearTimeout(t);
      r();
    });
    p.kill('SIGTERM');
  });
}

const freePort = async (): Promise<number> => {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, HOST, () => r()));
  const port = s.address().port;
  s.close();
  return port;
};

// ------------------------------------------------------------------ the flood

interface FloodSource {
  socket: dgram.Socket;
  address: string;
  index: number;
  /** What this source last sent: each source sends requests of one size, so an answer is compared with its own request. */
  lastSize: number;
}

interface FloodTally {
  sent: number;
  bytesSent: number;
  answers: number;
  bytesBack: number;
  /** The largest answer / the request size of the source it went to. */
  worstRatio: number;
  /** The most answers one source got in one second. */
  maxAnswersPerSourceSecond: number;
}

/** Sockets on distinct loopback addresses (127.1.x.y): each looks like another host to the server. */
async function floodSources(n: number, onAnswer: (src: FloodSource, data: Buffer) => void): Promise<FloodSource[]> {
  const out: FloodSource[] = [];
  for (let i = 0; i < n; i++) {
    const address = `127.1.${Math.floor(i / 250)}.${(i % 250) + 1}`;
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((r, j) => {
      socket.once('error', j);
      socket.bind(0, address, () => r());
    });
    const src: FloodSource = { socket, address, index: i, lastSize: 0 };
    socket.on('message', (d) => onAnswer(src, d));
    out.push(src);
  }
  return out;
}

/**
 * Sends `make(src)` from the sources round-robin as fast as the event loop allows for `seconds`,
 * leaving room for the legitimate client's timers (batches of 64 per turn).
 */
async function flood(sources: FloodSource[], port: number, seconds: number, make: (src: FloodSource) => Buffer, tally: FloodTally): Promise<void> {
  const end = Date.now() + seconds * 1000;
  let i = 0;
  while (Date.now() < end) {
    for (let k = 0; k < 64; k++) {
      const src = sources[i++ % sources.length];
      const p = make(src);
      src.lastSize = p.length;
      tally.sent++;
      tally.bytesSent += p.length;
      src.socket.send(p, port, HOST);
    }
    await new Promise((r) => setImmediate(r));
  }
}

function newTally(): FloodTally {
  return { sent: 0, bytesSent: 0, answers: 0, bytesBack: 0, worstRatio: 0, maxAnswersPerSourceSecond: 0 };
}

/** Counts an answer to a flood source; per-source answers are counted in one-second windows. */
function answerCounter(tally: FloodTally): (src: FloodSource, data: Buffer) => void {
  let window = Math.floor(Date.now() / 1000);
  const perSource = new Map<string, number>();
  return (src, data) => {
    tally.answers++;
    tally.bytesBack += data.length;
    if (src.lastSize > 0) tally.worstRatio = Math.max(tally.worstRatio, data.length / src.lastSize);
    const now = Math.floor(Date.now() / 1000);
    if (now !== window) {
      window = now;
      perSource.clear();
    }
    const n = (perSource.get(src.address) ?? 0) + 1;
    perSource.set(src.address, n);
    if (n > tally.maxAnswersPerSourceSecond) tally.maxAnswersPerSourceSecond = n;
  };
}

// ------------------------------------------------------------------ one run

interface Result {
  kind: Kind | 'rendezvous (sources echoing the cookie)';
  seconds: number;
  sources: number;
  flood: FloodTally & { amplification: number };
  user: Record<string, number | string>;
  rss: { before: number; max: number; after: number };
  loadBefore: string;
  loadAfter: string;
  serverRunning: boolean;
}

async function measured(kind: Kind, server: ChildProcess, body: () => Promise<{ tally: FloodTally; user: Record<string, number | string>; proven?: FloodTally }>): Promise<Result[]> {
  const pid = server.pid!;
  const loadBefore = load();
  const before = rssMiB(pid);
  let max = before;
  const sampler = setInterval(() => {
    try {
      max = Math.max(max, rssMiB(pid));
    } catch {
      /* exited: reported below */
    }
  }, 1000);
  try {
    const { tally, user, proven } = await body();
    await sleep(500);
    const running = server.exitCode === null;
    const result = (k: Result['kind'], t: FloodTally, n: number): Result => ({
      kind: k,
      seconds: SECONDS,
      sources: n,
      flood: { ...t, amplification: t.bytesSent ? Math.round((t.bytesBack / t.bytesSent) * 1000) / 1000 : 0 },
      user,
      rss: { before, max, after: running ? rssMiB(pid) : 0 },
      loadBefore,
      loadAfter: load(),
      serverRunning: running,
    });
    if (!proven) return [result(kind, tally, SOURCES)];
    return [result(kind, tally, Math.ceil(SOURCES / 2)), result('rendezvous (sources echoing the cookie)', proven, Math.floor(SOURCES / 2))];
  } finally {
    clearInterval(sampler);
  }
}

/** A plain STUN Binding request (20 bytes), or one with an unknown comprehension-optional attribute. */
function stunRequest(extra: boolean): Buffer {
  const attr = extra ? Buffer.concat([Buffer.from([0x80, 0x77, 0x00, 0x08]), randomBytes(8)]) : Buffer.alloc(0);
  const h = Buffer.alloc(20);
  h.writeUInt16BE(0x0001, 0);
  h.writeUInt16BE(attr.length, 2);
  h.writeUInt32BE(0x2112a442, 4);
  randomBytes(12).copy(h, 8);
  return Buffer.concat([h, attr]);
}

async function stunFlood(): Promise<Result[]> {
  const port = await freePort();
  const server = await startService(['stun', 'serve', '--listen', `${HOST}:${port}`, '--no-tcp', '--stats-interval', '0']);
  try {
    return await measured('stun', server, async () => {
      const tally = newTally();
      const sources = await floodSources(SOURCES, answerCounter(tally));
      // The user: a Binding request every 200 ms from 127.0.0.1, answered within a second or lost.
      const user = dgram.createSocket('udp4');
      await new Promise<void>((r) => user.bind(0, HOST, () => r()));
      let asked = 0;
      let answered = 0;
      user.on('message', (d) => d.readUInt16BE(0) === 0x0101 && answered++);
      const ask = setInterval(() => {
        asked++;
        user.send(stunRequest(false), port, HOST);
      }, 200);
      await flood(sources, port, SECONDS, (src) => stunRequest(src.index % 2 === 1), tally);
      clearInterval(ask);
      await sleep(1000);
      user.close();
      for (const s of sources) s.socket.close();
      return { tally, user: { asked, answered } };
    });
  } finally {
    await stopService(server);
  }
}

async function rendezvousFlood(): Promise<Result[]> {
  const port = await freePort();
  // Open sessions for the flood, a keyed one for the user: both on one server, as the case.
  const server = await startService(['rendezvous', 'serve', '--listen', `${HOST}:${port}`, '--no-observe', '--open', '--session', `team=${SECRET}`, '--stats-interval', '0']);
  try {
    return await measured('rendezvous', server, async () => {
      // Forged sources (they never read what comes back) and sources that echo their cookie, apart.
      const tally = newTally();
      const proven = newTally();
      const countForged = answerCounter(tally);
      const countProven = answerCounter(proven);
      let counter = 0;
      const prefix = randomBytes(4).toString('hex');
      const cookies = new Map<string, Uint8Array>();
      const echoing = (src: FloodSource) => Number(src.address.split('.').pop()) % 2 === 0;
      const sources = await floodSources(SOURCES, (src, d) => {
        if (!echoing(src)) return countForged(src, d);
        countProven(src, d);
        try {
          const m = readMessage(parsePacket(d, isAuthenticatedType));
          if (m.kind === 'cookie') cookies.set(src.address, m.cookie);
        } catch {
          /* a reply it cannot read: keep flooding */
        }
      });
      const join1 = (src: FloodSource): Buffer => {
        counter++;
        const session = `flood-${counter % 5000}`;
        const cookie = cookies.get(src.address);
        const m: Message = {
          kind: 'join',
          session,
          peerId: (counter + 0x1000).toString(16).padStart(16, '0'),
          nonce: prefix + counter.toString(16).padStart(8, '0'),
          timestamp: Date.now(),
          locals: [{ address: '10.0.0.2', port: 4000 }],
          ...(cookie ? { cookie } : {}),
        };
        return Buffer.from(encodeMessage(m, deriveSessionKey('', session)));
      };
      // The user: pairs of peers in a keyed session join and find a direct path, one pair after another.
      const secret = SECRET;
      let pairsTried = 0;
      let pairsConnected = 0;
      const connectMs: number[] = [];
      let flooding = true;
      const users = (async () => {
        while (flooding) {
          pairsTried++;
          const t0 = Date.now();
          const peers: PunchClient[] = [];
          try {
            for (const name of ['a', 'b']) {
              peers.push(
                await PunchClient.start(nodeNetEnv, { server: { address: HOST, port }, observe: null, session: 'team', secret, name, bind: { address: HOST }, relay: null, wallClock: Date.now }),
              );
            }
            const ok = await Promise.race([Promise.all([peers[0].waitForPath(peers[1].id, { direct: true }), peers[1].waitForPath(peers[0].id, { direct: true })]).then(() => true), sleep(10_000).then(() => false)]);
            if (ok) {
              pairsConnected++;
              connectMs.push(Date.now() - t0);
            }
          } catch {
            /* counted as not connected */
          } finally {
            for (const p of peers) await p.close();
          }
          await sleep(1000);
        }
      })();
      const both = newTally();
      await flood(sources, port, SECONDS, join1, both);
      // Sources alternate between the two kinds: each got half of what was sent.
      for (const t of [tally, proven]) {
        t.sent = both.sent / 2;
        t.bytesSent = both.bytesSent / 2;
      }
      flooding = false;
      await users;
      for (const s of sources) s.socket.close();
      connectMs.sort((x, y) => x - y);
      return { tally, proven, user: { pairsTried, pairsConnected, connectMsMedian: connectMs[Math.floor(connectMs.length / 2)] ?? 'none', connectMsMax: connectMs.at(-1) ?? 'none' } };
    });
  } finally {
    await stopService(server);
  }
}

async function relayFlood(): Promise<Result[]> {
  const port = await freePort();
  const server = await startService(['relay', 'serve', '--listen', `${HOST}:${port}`, '--session', `team=${SECRET}`, '--stats-interval', '0']);
  try {
    return await measured('relay', server, async () => {
      const tally = newTally();
      const sources = await floodSources(SOURCES, answerCounter(tally));
      const wrongKey = randomBytes(32);
      let counter = 0;
      const prefix = randomBytes(4).toString('hex');
      const junk = (): Buffer => {
        counter++;
        switch (counter % 3) {
          case 0: // a bind in the keyed session with a wrong key
            return Buffer.from(encodeMessage({ kind: 'relay-bind', session: 'team', peerId: (counter + 0x1000).toString(16).padStart(16, '0'), nonce: prefix + counter.toString(16).padStart(8, '0'), timestamp: Date.now() }, wrongKey));
          case 1: // data for the user's peer from a source with no binding
            return Buffer.from(encodeMessage({ kind: 'relay-send', to: 'b'.repeat(16), payload: randomBytes(200) }, null));
          default:
            return randomBytes(64 + (counter % 400));
        }
      };
      // The user: two peers bound in the keyed session send each other a datagram every 100 ms through the relay.
      const keys = new SessionKeys({ secrets: { team: SECRET } });
      const peerKey = keys.keyFor('team')!;
      const ids = ['a'.repeat(16), 'c'.repeat(16)];
      const peers = await Promise.all(ids.map(() => new Promise<dgram.Socket>((r) => {
        const s = dgram.createSocket('udp4');
        s.bind(0, HOST, () => r(s));
      })));
      let sent = 0;
      let delivered = 0;
      const bound = [false, false];
      peers.forEach((s, i) => {
        let n = 0;
        const bind = (cookie?: Uint8Array) =>
          s.send(encodeMessage({ kind: 'relay-bind', session: 'team', peerId: ids[i], nonce: `${prefix}${i}${(n++).toString(16).padStart(7, '0')}`, timestamp: Date.now(), ...(cookie ? { cookie } : {}) }, peerKey), port, HOST);
        s.on('message', (d) => {
          let m: Message;
          try {
            m = readMessage(parsePacket(d, isAuthenticatedType));
          } catch {
            return;
          }
          if (m.kind === 'cookie') bind(m.cookie);
          else if (m.kind === 'relay-bind-ok') bound[i] = true;
          else if (m.kind === 'relay-deliver') delivered++;
        });
        bind();
        const again = setInterval(() => (bound[i] ? clearInterval(again) : bind()), 500);
      });
      const start = Date.now();
      while (!bound.every(Boolean) && Date.now() - start < 10_000) await sleep(50);
      const traffic = setInterval(() => {
        for (let i = 0; i < 2; i++) {
          if (!bound[i]) continue;
          sent++;
          peers[i].send(encodeMessage({ kind: 'relay-send', to: ids[1 - i], payload: randomBytes(160) }, null), port, HOST);
        }
      }, 100);
      await flood(sources, port, SECONDS, junk, tally);
      clearInterval(traffic);
      await sleep(1000);
      for (const p of peers) p.close();
      for (const s of sources) s.socket.close();
      return { tally, user: { bound: bound.filter(Boolean).length, sent, delivered } };
    });
  } finally {
    await stopService(server);
  }
}

// ------------------------------------------------------------------ main

const RUN: Record<Kind, () => Promise<Result[]>> = { stun: stunFlood, rendezvous: rendezvousFlood, relay: relayFlood };
const results: Result[] = [];
for (const kind of ONLY) {
  process.stderr.write(`${kind}: ${SECONDS} s from ${SOURCES} sources (load ${load()})\n`);
  results.push(...(await RUN[kind]()));
}
if (args.json) process.stdout.write(`${JSON.stringify({ command: COMMAND, results }, null, 2)}\n`);
else {
  process.stdout.write(`${COMMAND}\n\n`);
  process.stdout.write('| flood | sent (pkts, MB) | answers to the flood | largest answer / its request | bytes back / sent | most answers to one source in 1 s | the legitimate user | server RSS MiB before / max / after | load before -> after |\n|---|---|---|---|---|---|---|---|---|\n');
  for (const r of results) {
    const f = r.flood;
    const user = Object.entries(r.user).map(([k, v]) => `${k} ${v}`).join(', ');
    process.stdout.write(
      `| ${r.kind} | ${f.sent} (${(f.bytesSent / 1e6).toFixed(1)}) | ${f.answers} | ${f.worstRatio.toFixed(2)} | ${f.amplification} | ${f.maxAnswersPerSourceSecond} | ${user}${r.serverRunning ? '' : ' (SERVER EXITED)'} | ${r.rss.before} / ${r.rss.max} / ${r.rss.after} | ${r.loadBefore} -> ${r.loadAfter} |\n`,
    );
  }
}
