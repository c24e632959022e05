/**
 * The pinhole set's changes go out in groups (one batch in flight, the next
 * gathering), and an open resolves only once nft has confirmed its batch.
 * Against a session whose batches the test confirms by hand: no nft needed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NftPinholes } from '../../src/sipproxy/kernel/pinholes.js';
import type { NftSession } from '../../src/net/nft-session.js';

const TABLE = 'ip masq_test';
const turn = () => new Promise((r) => setImmediate(r));

/** Records each run(); each stays unconfirmed until confirm() is called. */
function heldSession() {
  const runs: Array<{ commands: string[]; confirm: () => void }> = [];
  const session = {
    run(commands: readonly string[]) {
      return new Promise<void>((resolve) => runs.push({ commands: [...commands], confirm: resolve }));
    },
  };
  return { runs, session: session as unknown as NftSession };
}

const portsOf = (command: string) => (/\{ (.*) \}/.exec(command)?.[1] ?? '').split(', ').map(Number);

test('pinholes: a burst of opens is one nft command; each open resolves only when its batch is confirmed', async () => {
  const { runs, session } = heldSession();
  const p = new NftPinholes(session, TABLE);
  let resolved = 0;
  const opens = Array.from({ length: 100 }, (_, i) => p.openPorts([30000 + 4 * i, 30001 + 4 * i]).then(() => void resolved++));
  await turn();
  assert.equal(runs.length, 1);
  assert.deepEqual(runs[0].commands.length, 1);
  assert.ok(runs[0].commands[0].startsWith(`add element ${TABLE} live {`));
  assert.equal(portsOf(runs[0].commands[0]).length, 200);
  assert.equal(resolved, 0, 'not open before nft confirmed');
  runs[0].confirm();
  await Promise.all(opens);
  assert.equal(resolved, 100);
  assert.equal(p.batches, 1);
  assert.equal(p.ports.size, 200);
});

test('pinholes: what changes while a batch is in flight waits for it, and goes out together; a port opened and closed meanwhile is never sent', async () => {
  const { runs, session } = heldSession();
  const p = new NftPinholes(session, TABLE);
  const first = p.openPorts([30000, 30001]);
  await turn();
  assert.equal(runs.length, 1);
  // In flight: these gather.
  p.closePorts([30000, 30001]);
  const second = p.openPorts([30004, 30005]);
  void p.openPorts([30008, 30009]);
  p.closePorts([30008, 30009]);
  await turn();
  assert.equal(runs.length, 1, 'nothing more until the batch in flight is confirmed');
  runs[0].confirm();
  await first;
  await turn();
  assert.equal(runs.length, 2);
  assert.deepEqual(runs[1].commands, [`delete element ${TABLE} live { 30000, 30001 }`, `add element ${TABLE} live { 30004, 30005 }`]);
  let done = false;
  void second.then(() => (done = true));
  await turn();
  assert.equal(done, false);
  runs[1].confirm();
  await second;
  assert.deepEqual([...p.ports].sort(), [30004, 30005]);
});

test('pinholes: a port closed and opened again before its delete went out stays in the set (no command)', async () => {
  const { runs, session } = heldSession();
  const p = new NftPinholes(session, TABLE);
  const a = p.openPorts([30000]);
  await turn();
  runs[0].confirm();
  await a;
  const hold = p.openPorts([30010]);
  await turn();
  p.closePorts([30000]);
  const again = p.openPorts([30000]);
  runs[1].confirm();
  await hold;
  await turn();
  assert.equal(runs.length, 2, 'the close and the reopen cancelled out: no batch');
  await again;
  assert.ok(p.ports.has(30000));
  assert.equal(p.opened, 3);
  assert.equal(p.closed, 1);
});
