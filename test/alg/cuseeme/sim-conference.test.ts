/**
 * CU-SeeMe conferences through a masq NAT in the simulator, with the test
 * peers of src/lab/cuseeme (their own codec, not the ALG's): three
 * workstations behind one public address and two clients on the internet in
 * one conference through a reflector on the internet; the same with the 1999
 * behaviour configured, as the HOWTO's users had it; several conferences at
 * once; incoming calls by control port and by fixed host; a LAN reflector
 * behind a static forward while LAN users call out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { conferenceProblems, formatConference, pairOutcome, runCuSeeMeScenario, threeBehindOneNat, type ScenarioResult } from '../../../src/lab/cuseeme/scenario.js';

const HOWTO_LINE = 'ipautofw -A -r udp 7648 7649 -c udp 7648 -u';
const INSIDE = ['a', 'b', 'c'];
const OUTSIDE = ['x', 'y'];
const EVERYONE = [...INSIDE, ...OUTSIDE];

function conference(alg: 'multi-user' | 'historical', nat: Record<string, unknown> = {}): Promise<ScenarioResult> {
  return runCuSeeMeScenario(threeBehindOneNat(alg, nat));
}

function assertEveryoneSeesEveryone(r: ScenarioResult, names: string[]): void {
  assert.deepEqual(conferenceProblems(r, names), [], formatConference(r, names));
}

test('3 workstations behind one masq NAT + 2 on the internet, one reflector: every client receives every other client', async () => {
  const r = await conference('multi-user');
  assertEveryoneSeesEveryone(r, EVERYONE);
  assert.equal(r.clients.a.framesSent, 20);
  // The reflector saw five participants, three of them on the public address with ports of their own.
  const seen = r.reflectors.refl.participants.map((p) => `${p.addr}:${p.port}`);
  assert.equal(new Set(seen).size, 5);
  assert.equal(seen.filter((e) => e.startsWith('203.0.113.1:')).length, 3);
  // Nothing inside leaked into the lists the reflector got.
  assert.equal(r.reflectors.refl.unknownEntries, 0, r.reflectors.refl.unknownExamples.join('; '));
  // The LAN users see each other under their inside endpoints.
  const aSeesB = r.clients.a.participants.find((p) => p.name === 'b');
  assert.equal(aSeesB?.endpoint, '10.0.0.3:7648');
  const xSeesB = r.clients.x.participants.find((p) => p.name === 'b');
  assert.match(xSeesB!.endpoint, /^203\.0\.113\.1:\d+$/);
  assert.ok(r.alg!.entriesRestored > 0 && r.alg!.entriesPublished > 0 && r.alg!.sendersRestored > 0);
  assert.equal(r.alg!.entriesAmbiguous, 0);
  assert.equal(r.alg!.passedParseError, 0);
});

test('the same conference with the 1999 behaviour: one workstation gets the conference, the others nothing', async () => {
  const r = await conference('historical');
  const table = formatConference(r, EVERYONE);
  // Every workstation's header says public:7648, so the reflector sees one participant there and sends
  // everything to public:7648, which the HOWTO's trigger gives to the last workstation that sent to 7648: c.
  const lanOnReflector = r.reflectors.refl.participants.filter((p) => p.addr === '203.0.113.1');
  assert.deepEqual(
    lanOnReflector.map((p) => `${p.addr}:${p.port}`),
    ['203.0.113.1:7648'],
  );
  for (const sender of OUTSIDE) {
    assert.equal(pairOutcome(r, 'c', sender).frames, 20, table);
    for (const idle of ['a', 'b']) assert.equal(pairOutcome(r, idle, sender).frames, 0, table);
  }
  // LAN users never get each other (the reflector takes them for one participant).
  for (const receiver of INSIDE) for (const sender of INSIDE) if (receiver !== sender) assert.equal(pairOutcome(r, receiver, sender).frames, 0, table);
  // Outside, the three come out as one participant whose frames carry three names.
  for (const receiver of OUTSIDE) {
    const merged = r.clients[receiver].participants.find((p) => p.endpoint === '203.0.113.1:7648');
    assert.deepEqual(merged?.senders, ['a', 'b', 'c'], table);
    for (const sender of INSIDE) assert.equal(pairOutcome(r, receiver, sender).sees, false);
  }
});

test('with address-and-port-dependent mapping too', async () => {
  const r = await conference('multi-user', { mapping: 'apdm' });
  assertEveryoneSeesEveryone(r, EVERYONE);
});

test('several conferences at once: two LAN users on one reflector, the third on another', async () => {
  const r = await runCuSeeMeScenario({
    reflectors: [
      { name: 'r1', address: '198.51.100.10' },
      { name: 'r2', address: '198.51.100.11' },
    ],
    clients: [
      { name: 'a', address: '10.0.0.2', target: 'r1' },
      { name: 'b', address: '10.0.0.3', target: 'r1', startMs: 30 },
      { name: 'x', address: '198.51.100.20', target: 'r1', startMs: 60 },
      { name: 'c', address: '10.0.0.4', target: 'r2', startMs: 10 },
      { name: 'y', address: '198.51.100.21', target: 'r2', startMs: 40 },
    ],
  });
  assertEveryoneSeesEveryone(r, ['a', 'b', 'x']);
  assertEveryoneSeesEveryone(r, ['c', 'y']);
  assert.equal(r.clients.a.frames.c ?? 0, 0, 'no frames across conferences');
  assert.equal(r.clients.c.frames.a ?? 0, 0);
});

test('incoming call by control port: to the workstation that last sent to 7648, only from the remote it contacted (the HOWTO line)', async () => {
  const r = await runCuSeeMeScenario({
    nat: { autofw: [HOWTO_LINE] },
    reflectors: [{ name: 'refl', address: '198.51.100.10' }],
    clients: [
      { name: 'a', address: '10.0.0.2', target: 'refl' },
      // b calls x last: the range goes to b, and admits x only.
      { name: 'b', address: '10.0.0.3', target: '198.51.100.20:7648', startMs: 200 },
      // x calls the gateway's own 7648 (not the port b's packets came from).
      { name: 'x', address: '198.51.100.20', target: '203.0.113.1:7648', startMs: 400 },
      // y was never contacted: its call goes nowhere.
      { name: 'y', address: '198.51.100.21', target: '203.0.113.1:7648', startMs: 400 },
    ],
  });
  assert.equal(r.clients.b.frames.x, 20, 'x reached b through the gateway 7648');
  assert.equal(r.clients.b.misaddressed, 0, 'addressed to 203.0.113.1:7648, rewritten to b');
  assert.equal(r.clients.x.frames.b, 20);
  assert.equal(r.clients.a.frames.x ?? 0, 0);
  for (const who of ['a', 'b']) assert.equal(r.clients[who].frames.y ?? 0, 0, `y reached ${who}`);
});

test('incoming call by control port, insecure (-i): anyone reaches the last user; the earlier one keeps its conference', async () => {
  const r = await runCuSeeMeScenario({
    nat: { autofw: ['ipautofw -A -r udp 7648 7649 -c udp 7648 -u -i'] },
    reflectors: [{ name: 'refl', address: '198.51.100.10' }],
    clients: [
      { name: 'a', address: '10.0.0.2', target: 'refl' },
      { name: 'x', address: '198.51.100.20', target: 'refl', startMs: 20 },
      { name: 'b', address: '10.0.0.3', target: 'refl', startMs: 200 },
      { name: 'y', address: '198.51.100.21', target: '203.0.113.1:7648', startMs: 400 },
    ],
  });
  assert.equal(r.clients.b.frames.y, 20);
  assert.equal(r.clients.b.misaddressed, 0);
  assert.equal(r.clients.a.frames.y ?? 0, 0);
  assertEveryoneSeesEveryone(r, ['a', 'x', 'b']);
});

test('incoming call to a fixed host, while the other workstations are in a conference', async () => {
  const r = await runCuSeeMeScenario({
    nat: { autofw: ['ipautofw -A -r udp 7648 7649 -h 10.0.0.3'] },
    reflectors: [{ name: 'refl', address: '198.51.100.10' }],
    clients: [
      { name: 'a', address: '10.0.0.2', target: 'refl' },
      { name: 'c', address: '10.0.0.4', target: 'refl', startMs: 20 },
      { name: 'y', address: '198.51.100.21', target: 'refl', startMs: 40 },
      // b waits for a call; x calls the gateway.
      { name: 'b', address: '10.0.0.3' },
      { name: 'x', address: '198.51.100.20', target: '203.0.113.1:7648', startMs: 100 },
    ],
  });
  assert.equal(r.clients.b.frames.x, 20);
  assert.equal(r.clients.x.frames.b, 20, 'b answered: its frames reached x');
  assert.equal(r.clients.b.target, '198.51.100.20:7648');
  assert.equal(r.clients.b.misaddressed, 0);
  assert.equal(r.clients.x.misaddressed, 0);
  assertEveryoneSeesEveryone(r, ['a', 'c', 'y']);
});

test('a reflector on the LAN behind a static forward, while LAN users call out to another reflector', async () => {
  const r = await runCuSeeMeScenario({
    nat: { autofw: ['ipmasqadm autofw -A -r udp 7648 7648 -h 10.0.0.10'] },
    reflectors: [
      { name: 'lanrefl', address: '10.0.0.10' },
      { name: 'refl', address: '198.51.100.10' },
    ],
    clients: [
      // The LAN reflector's conference: two outside callers and a LAN user joining it directly.
      { name: 'x', address: '198.51.100.20', target: '203.0.113.1:7648' },
      { name: 'y', address: '198.51.100.21', target: '203.0.113.1:7648', startMs: 20 },
      { name: 'c', address: '10.0.0.4', target: 'lanrefl', startMs: 40 },
      // Meanwhile two LAN users in a conference outside.
      { name: 'a', address: '10.0.0.2', target: 'refl', startMs: 10 },
      { name: 'b', address: '10.0.0.3', target: 'refl', startMs: 30 },
      { name: 'z', address: '198.51.100.22', target: 'refl', startMs: 50 },
    ],
  });
  assertEveryoneSeesEveryone(r, ['x', 'y', 'c']);
  assertEveryoneSeesEveryone(r, ['a', 'b', 'z']);
  // The LAN reflector knows its outside participants by their own addresses.
  assert.deepEqual(r.reflectors.lanrefl.participants.map((p) => p.addr).sort(), ['10.0.0.4', '198.51.100.20', '198.51.100.21']);
  assert.equal(r.reflectors.lanrefl.unknownEntries, 0, r.reflectors.lanrefl.unknownExamples.join('; '));
});
