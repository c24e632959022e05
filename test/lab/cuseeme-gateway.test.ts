/**
 * CU-SeeMe through `masq gateway` in network namespaces, with real UDP
 * sockets: the CU-SeeMe peers of src/lab/cuseeme (`masq lab cuseeme reflector
 * | client`, their own codec) on the LAN and on the internet of
 * test/lab/topology.ts.
 *
 *   workstations a 10.0.1.2 (h1), b 10.0.1.3 (h2), c 10.0.1.4 (h1's second address), behind gw1 (203.0.113.1)
 *   internet: reflector 198.51.100.10, x .11, y .12, z .13 (all on srv)
 *
 * 1. The HOWTO's control-port line: the five in one conference through the
 *    reflector, every client receiving every other; then an incoming call to
 *    the gateway's 7648 reaching the workstation that last called out, from
 *    the remote it called only.
 * 2. A fixed host for 7648: a call in reaches it while a and c are in a
 *    conference outside.
 * 3. A reflector on the LAN (h2) behind a static forward of 7648, with
 *    callers from outside and a LAN user, while LAN users call out to another
 *    reflector.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ClientReport } from '../../src/lab/cuseeme/client.js';
import type { ReflectorStats } from '../../src/lab/cuseeme/reflector.js';
import { conferenceProblems, formatConference, type ScenarioResult } from '../../src/lab/cuseeme/scenario.js';
import { statusJson, tunMissing } from './fixtures/gateway-probes.js';
import { prerequisites } from './prereq.js';
import { LAB, LabTopology, type LabProcess, type Role } from './topology.js';

const pre = prerequisites({ root: true, tools: ['ip'] });
const tun = tunMissing();
const skip = pre.skip || (tun !== undefined && process.env.CI !== 'true' ? tun : false);

const PUB = LAB.gw1.public;
const REFLECTOR = LAB.servers.a; // 198.51.100.10
const X = LAB.servers.b; // 198.51.100.11
const Y = '198.51.100.12';
const Z = '198.51.100.13';
const A = LAB.lan1.h1;
const B = LAB.lan1.h2;
const C = '10.0.1.4';
const FRAMES = 20;

interface Peer {
  name: string;
  role: Role;
  address: string;
  to?: string;
  /** Other participants to know before the first frame (its conference's size less one). */
  waitFor: number;
  /** The first frame at the latest (ms after start): for a caller nobody answers. */
  firstFrameMs?: number;
}

/**
 * A run of peers: reflectors first (listening), then the clients. A client starts its frames once it knows
 * the rest of its conference (however long the processes took to start on a busy machine), sends them, lingers
 * 3 s and prints its report; the reflectors print theirs at SIGINT once every client is done.
 */
async function runPeers(lab: LabTopology, reflectors: Array<{ name: string; role: Role; address: string }>, clients: Peer[]): Promise<ScenarioResult> {
  const refl: Array<[string, LabProcess]> = reflectors.map((r) => [
    r.name,
    lab.spawn(r.role, lab.masqArgv('lab', 'cuseeme', 'reflector', '--address', r.address, '--seconds', '150'), `reflector ${r.name}`),
  ]);
  for (const [, p] of refl) await p.waitFor(/reflector listening/, 30_000);
  const cl: Array<[string, LabProcess]> = clients.map((c) => {
    const args = ['lab', 'cuseeme', 'client', '--name', c.name, '--address', c.address, '--frames', String(FRAMES)];
    args.push('--wait-for', String(c.waitFor), '--first-frame-ms', String(c.firstFrameMs ?? 45_000), '--linger', '3', '--seconds', '90');
    if (c.to) args.push('--to', c.to);
    return [c.name, lab.spawn(c.role, lab.masqArgv(...args), `client ${c.name}`)];
  });
  const report = (name: string, p: LabProcess) => {
    const line = p.output.split('\n').find((l) => l.startsWith('{"stopped"'));
    assert.ok(line, `${name} printed no report:\n${p.output}`);
    return JSON.parse(line);
  };
  const result: ScenarioResult = { clients: {}, reflectors: {}, alg: null, natDrops: 0 };
  for (const [name, p] of cl) {
    await p.exited(100_000);
    result.clients[name] = report(name, p) as ClientReport;
  }
  for (const [name, p] of refl) {
    await p.stop('SIGINT');
    result.reflectors[name] = report(name, p) as ReflectorStats;
  }
  return result;
}

function assertEveryoneSeesEveryone(r: ScenarioResult, names: string[]): void {
  assert.deepEqual(conferenceProblems(r, names), [], formatConference(r, names));
  for (const n of names) assert.equal(r.clients[n].framesSent, FRAMES);
}

const GW = (autofw: string[]) => `
autofw:
${autofw.map((l) => `  - ${l}`).join('\n')}
algs:
  - name: cuseeme
`;

describe('CU-SeeMe through masq gateway, real sockets in namespaces', { skip }, () => {
  let lab: LabTopology;

  before(() => {
    pre.assert();
    if (tun) assert.fail(`TUN gateway prerequisite: ${tun}`);
    lab = LabTopology.create('cu');
    lab.exec('h1', ['ip', 'addr', 'add', `${C}/24`, 'dev', 'eth0']);
    for (const a of [Y, Z]) lab.exec('srv', ['ip', 'addr', 'add', `${a}/24`, 'dev', 'eth0']);
  });

  after(async () => {
    await lab?.destroy();
  });

  describe('the HOWTO line: ipautofw -A -r udp 7648 7649 -c udp 7648 -u', () => {
    let gw: LabProcess;
    before(async () => {
      gw = await lab.startMasq('gw1', lab.masqConfig('gw1', GW(['ipautofw -A -r udp 7648 7649 -c udp 7648 -u'])));
    });
    after(async () => {
      await gw?.stop();
    });

    test('3 workstations and 2 internet clients in one conference: every client receives every other', async () => {
      const r = await runPeers(
        lab,
        [{ name: 'reflector', role: 'srv', address: REFLECTOR }],
        [
          { name: 'a', role: 'h1', address: A, to: REFLECTOR, waitFor: 4 },
          { name: 'b', role: 'h2', address: B, to: REFLECTOR, waitFor: 4 },
          { name: 'c', role: 'h1', address: C, to: REFLECTOR, waitFor: 4 },
          { name: 'x', role: 'srv', address: X, to: REFLECTOR, waitFor: 4 },
          { name: 'y', role: 'srv', address: Y, to: REFLECTOR, waitFor: 4 },
        ],
      );
      process.stdout.write(`${formatConference(r, ['a', 'b', 'c', 'x', 'y'])}\n`);
      assertEveryoneSeesEveryone(r, ['a', 'b', 'c', 'x', 'y']);
      const onPublic = r.reflectors.reflector.participants.filter((p) => p.addr === PUB);
      assert.equal(new Set(onPublic.map((p) => p.port)).size, 3, 'three public ports on the one public address');
      assert.equal(r.reflectors.reflector.unknownEntries, 0, r.reflectors.reflector.unknownExamples.join('; '));
      const alg = statusJson(lab, 'gw1', '/counters').algs.find((a: { name: string }) => a.name === 'cuseeme').counters;
      assert.ok(alg.entriesRestored > 0 && alg.entriesPublished > 0 && alg.sendersRestored > 0, JSON.stringify(alg));
      assert.equal(alg.passedParseError, 0);
    });

    test('an incoming call to the gateway 7648 reaches the workstation that last called out, and only from whom it called', async () => {
      const r = await runPeers(
        lab,
        [],
        [
          // b calls x: the last use of the control port. x calls back on the gateway's 7648; y, never called, tries too.
          { name: 'b', role: 'h2', address: B, to: X, waitFor: 1 },
          { name: 'x', role: 'srv', address: X, to: PUB, waitFor: 1 },
          { name: 'y', role: 'srv', address: Y, to: PUB, waitFor: 1, firstFrameMs: 8000 },
        ],
      );
      assert.equal(r.clients.b.frames.x, FRAMES, JSON.stringify(r.clients.b));
      assert.equal(r.clients.x.frames.b, FRAMES, JSON.stringify(r.clients.x));
      assert.equal(r.clients.b.misaddressed, 0);
      assert.equal(r.clients.b.frames.y ?? 0, 0, 'y was not the remote b contacted');
      assert.equal(r.clients.y.frames.b ?? 0, 0);
    });
  });

  test('a fixed host for 7648 (ipautofw -h): a call in reaches it while two workstations are in a conference outside', async () => {
    const gw = await lab.startMasq('gw1', lab.masqConfig('gw1', GW([`ipautofw -A -r udp 7648 7649 -h ${B}`])));
    try {
      const r = await runPeers(
        lab,
        [{ name: 'reflector', role: 'srv', address: REFLECTOR }],
        [
          { name: 'a', role: 'h1', address: A, to: REFLECTOR, waitFor: 2 },
          { name: 'c', role: 'h1', address: C, to: REFLECTOR, waitFor: 2 },
          { name: 'y', role: 'srv', address: Y, to: REFLECTOR, waitFor: 2 },
          { name: 'b', role: 'h2', address: B, waitFor: 1 },
          { name: 'x', role: 'srv', address: X, to: PUB, waitFor: 1 },
        ],
      );
      assert.equal(r.clients.b.frames.x, FRAMES, JSON.stringify(r.clients.b));
      assert.equal(r.clients.x.frames.b, FRAMES, 'b answered');
      assert.equal(r.clients.b.target, `${X}:7648`);
      assert.equal(r.clients.b.misaddressed, 0);
      assertEveryoneSeesEveryone(r, ['a', 'c', 'y']);
    } finally {
      await gw.stop();
    }
  });

  test('a reflector on the LAN behind a static forward of 7648, while LAN users call out to another reflector', async () => {
    const gw = await lab.startMasq('gw1', lab.masqConfig('gw1', GW([`ipmasqadm autofw -A -r udp 7648 7648 -h ${B}`])));
    try {
      const r = await runPeers(
        lab,
        [
          { name: 'lan', role: 'h2', address: B },
          { name: 'outside', role: 'srv', address: REFLECTOR },
        ],
        [
          { name: 'x', role: 'srv', address: X, to: PUB, waitFor: 2 },
          { name: 'y', role: 'srv', address: Y, to: PUB, waitFor: 2 },
          { name: 'a', role: 'h1', address: A, to: B, waitFor: 2 },
          { name: 'c', role: 'h1', address: C, to: REFLECTOR, waitFor: 1 },
          { name: 'z', role: 'srv', address: Z, to: REFLECTOR, waitFor: 1 },
        ],
      );
      assertEveryoneSeesEveryone(r, ['x', 'y', 'a']);
      assertEveryoneSeesEveryone(r, ['c', 'z']);
      assert.deepEqual(r.reflectors.lan.participants.map((p) => p.addr).sort(), [A, X, Y]);
      assert.equal(r.reflectors.lan.unknownEntries, 0, r.reflectors.lan.unknownExamples.join('; '));
    } finally {
      await gw.stop();
    }
  });
});
