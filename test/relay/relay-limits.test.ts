/**
 * Relay binding limits (issue 17): one host could take every binding through
 * open sessions, and a member of a keyed session then heard "relay full".
 * Now bindings are capped per source address and per session, and open
 * sessions only get a share of the total.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deriveSessionKey, SessionKeys } from '../../src/rendezvous/protocol/keys.js';
import { relaySim, type Peer } from './fixtures/relay-sim.js';

const keys = new SessionKeys({ secrets: { keyed: 'pw' }, open: true });
const KEYED = deriveSessionKey('pw', 'keyed');
const OPEN = (session: string) => deriveSessionKey('', session);
const id = (n: number) => n.toString(16).padStart(16, '0');
const bound = (p: Peer) => p.got.some((m) => m.kind === 'relay-bind-ok');
const refusal = (p: Peer) => {
  const e = p.got.find((m) => m.kind === 'error');
  return e?.kind === 'error' ? `${e.code} ${e.reason}` : null;
};

test('one host binding through open sessions gets a share; a keyed member still binds', async () => {
  const logs: Array<Record<string, unknown>> = [];
  // 40 stands for the default 10,000: the shape is the same.
  const t = await relaySim(keys, { maxBindings: 40, warn: (event, f) => logs.push({ event, ...f }) });
  const attacker = t.host('192.0.2.66');
  const socks: Peer[] = [];
  for (let i = 0; i < 40; i++) {
    const p = t.peer(attacker);
    socks.push(p);
    t.bind(p.sock, `open-${i}`, id(i + 1), OPEN(`open-${i}`));
  }
  await t.sim.run(200);
  const taken = socks.filter(bound).length;
  assert.equal(taken, 20, 'open sessions hold at most half of the bindings');
  assert.equal(t.relay.openBindings, 20);
  assert.match(refusal(socks.find((p) => !bound(p))!)!, /^429 relay full for open sessions/);
  assert.equal(t.relay.counters.refusedOpen, 20);
  assert.deepEqual(logs.filter((l) => l.event === 'limit').map((l) => l.limit), ['open'], 'logged once (throttled)');

  const member = t.peer();
  t.bind(member.sock, 'keyed', id(0xbeef), KEYED);
  await t.sim.run(100);
  assert.ok(bound(member), `the keyed member binds: ${refusal(member)}`);
  t.relay.close();
});

test('bindings are capped per source address and per session', async () => {
  const t = await relaySim(keys, { maxBindingsPerAddress: 8, maxBindingsPerSession: 10 });
  const host = t.host('192.0.2.77');
  const fromOne: Peer[] = [];
  for (let i = 0; i < 12; i++) {
    const p = t.peer(host);
    fromOne.push(p);
    t.bind(p.sock, 'keyed', id(i + 1), KEYED);
  }
  await t.sim.run(200);
  assert.equal(fromOne.filter(bound).length, 8);
  assert.match(refusal(fromOne.find((p) => !bound(p))!)!, /^429 relay full for your address/);
  assert.equal(t.relay.counters.refusedPerAddress, 4);
  // Other addresses fill the session up to its cap.
  const others: Peer[] = [];
  for (let i = 0; i < 4; i++) {
    const p = t.peer();
    others.push(p);
    t.bind(p.sock, 'keyed', id(0x100 + i), KEYED);
  }
  await t.sim.run(200);
  assert.equal(others.filter(bound).length, 2);
  assert.match(refusal(others.find((p) => !bound(p))!)!, /^429 relay full for this session/);
  assert.equal(t.relay.counters.refusedPerSession, 2);
  assert.equal(t.relay.counters.refused, 6);
  t.relay.close();
});
