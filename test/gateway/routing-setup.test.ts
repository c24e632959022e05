/**
 * The start and stop skeleton both gateways share (src/gateway/routing-setup.ts):
 * a start that fails after the routing is in place takes the routing away with
 * the rest, last first; a teardown command that fails is counted and logged
 * while the others still run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/control/logging.js';
import { commandText, type RoutingSpec } from '../../src/dataplane/tun/gateway-routing.js';
import { SystemCommandError, type SystemAccess } from '../../src/dataplane/tun/gateway-system.js';
import { setUpRouting, startOrUndo, takeDownRouting } from '../../src/gateway/routing-setup.js';

const SPEC: RoutingSpec = {
  insideInterfaces: ['lan0'],
  outsideInterface: 'wan0',
  insidePrefixes: ['10.0.1.0/24'],
  publicAddrs: ['203.0.113.1'],
  publicDelivery: 'routed',
  tunInside: 'masq-in',
  tunOutside: 'masq-out',
  table: 4787,
  priority: 4787,
};

/** Every sysctl reads 0; commands are recorded, and those `fails` names fail. */
function system(fails: (cmd: string) => boolean = () => false): SystemAccess & { ran: string[] } {
  const ran: string[] = [];
  return {
    ran,
    run(argv) {
      const cmd = commandText(argv);
      ran.push(cmd);
      if (fails(cmd)) throw new SystemCommandError(argv, 'RTNETLINK answers: No such process');
      return '';
    },
    readSysctl: () => 0,
  };
}

function logger() {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { log: createLogger('debug', sink), lines };
}

test('a start that fails after the routing: the routing is taken away with the rest, last first, and the error goes on', async () => {
  const sys = system();
  const { log } = logger();
  const order: string[] = [];
  let expected: string[] = [];
  await assert.rejects(
    startOrUndo(log, async (undo) => {
      undo.push(() => order.push('devices closed'));
      const routing = setUpRouting(SPEC, sys, log);
      assert.ok(routing.steps.length > 5);
      expected = [...routing.steps.map((s) => commandText(s.apply)), ...[...routing.steps].reverse().map((s) => commandText(s.undo))];
      undo.push(() => {
        order.push('routing taken away');
        takeDownRouting(routing, log);
      });
      undo.push(() => {
        throw new Error('a status endpoint that will not close');
      });
      throw new Error('the last start step failed');
    }),
    /the last start step failed/,
  );
  assert.deepEqual(order, ['routing taken away', 'devices closed'], 'a failing undo step does not stop the others');
  assert.deepEqual(sys.ran, expected);
});

test('taking the routing down: a failing command is counted and logged, the others still run', () => {
  const sys = system((cmd) => cmd.startsWith('ip rule del'));
  const { log, lines } = logger();
  const routing = setUpRouting(SPEC, sys, log);
  const applied = routing.steps.length;
  sys.ran.length = 0;
  const failures = takeDownRouting(routing, log);
  const failed = sys.ran.filter((c) => c.startsWith('ip rule del'));
  assert.ok(failed.length > 0);
  assert.equal(failures, failed.length);
  assert.equal(sys.ran.length, applied, 'every step was undone or tried');
  assert.equal(lines.filter((l) => l.event === 'teardown').length, failures);
  assert.equal(takeDownRouting(routing, log), 0, 'twice: nothing left to undo');
});
