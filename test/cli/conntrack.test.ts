/**
 * `masq conntrack` against a live engine behind a real status endpoint on
 * loopback: -L with filters and output kinds, -L expect, -C, -D with the
 * control token (its call's pinholes go too), -F with and without
 * confirmation, -E as a live stream, and the one-line errors.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attachAlg, findAlg } from '../../src/alg/registry.js';
import { conntrack, type ConntrackIo, type ConntrackOptions } from '../../src/cli/conntrack.js';
import { CliError } from '../../src/cli/errors.js';
import { writeControlToken } from '../../src/control/http/control-token.js';
import { liveEngineOf, startStatusServer, type StatusServer } from '../../src/control/status-server.js';
import { Side, type NatEngine } from '../../src/nat/engine.js';
import { TCP_ACK, TCP_SYN } from '../../src/wire/tcp.js';
import { makeEngine, tcpPkt, udpPkt } from '../nat/packets.js';
import { SIP_PROXY as PROXY, sipInvite as invite } from '../control/sip-invite.js';


interface Run {
  out: string[];
  err: string[];
}

describe('masq conntrack on a running endpoint', () => {
  let engine: NatEngine;
  let server: StatusServer;
  let runtimeDir: string;
  const savedRuntime = process.env.RUNTIME_DIRECTORY;

  const setUp = () => {
    const made = makeEngine();
    engine = made.engine;
    attachAlg(engine, findAlg('sip')!);
    engine.process(udpPkt('10.0.0.2:5060', `${PROXY}:5060`, invite('10.0.0.2', 'call-1')), Side.Inside);
    engine.process(udpPkt('10.0.0.3:4000', '198.51.100.53:53', 'query'), Side.Inside);
    engine.process(tcpPkt('10.0.0.4:40000', '198.51.100.80:80', TCP_SYN), Side.Inside);
    const tcpFlow = engine.listFlows().find((f) => f.proto === 6)!;
    engine.process(tcpPkt('198.51.100.80:80', `203.0.113.1:${tcpFlow.public[1]}`, TCP_SYN | TCP_ACK, 5000, 1001), Side.Outside);
    engine.process(tcpPkt('10.0.0.4:40000', '198.51.100.80:80', TCP_ACK, 1001, 5001), Side.Inside);
    return made.clock;
  };

  before(async () => {
    runtimeDir = mkdtempSync(join(tmpdir(), 'masq-conntrack-test-'));
    process.env.RUNTIME_DIRECTORY = runtimeDir;
    const clock = setUp();
    const live = liveEngineOf(engine, () => clock.now());
    const { expectationToJson } = await import('../../src/control/status-model.js');
    server = await startStatusServer(
      '127.0.0.1:0',
      {
        status: () => ({}),
        flows: () => ({ total: 0, truncated: false, flows: [] }),
        expectations: () => {
          const now = clock.now();
          const list = engine.listExpectations(now).map((e) => expectationToJson(e, now));
          return { total: list.length, expectations: list };
        },
        counters: () => ({}),
      },
      { live, access: { controlToken: 'control-token-for-the-test-0123' } },
    );
    writeControlToken('gateway', Number(new URL(server.url).port), 'control-token-for-the-test-0123');
  });

  after(async () => {
    await server.close();
    rmSync(runtimeDir, { recursive: true, force: true });
    if (savedRuntime === undefined) delete process.env.RUNTIME_DIRECTORY;
    else process.env.RUNTIME_DIRECTORY = savedRuntime;
  });

  const run = async (o: Partial<ConntrackOptions>, answer: boolean | null = null, signal?: AbortSignal): Promise<Run> => {
    const r: Run = { out: [], err: [] };
    const io: ConntrackIo = { out: (l) => r.out.push(l), err: (l) => r.err.push(l), confirm: async () => answer, ...(signal ? { signal } : {}) };
    await conntrack({ status: server.url, limit: '10000', call: true, ...o }, io);
    return r;
  };

  test('-L: one line per flow as conntrack prints it, and the summary on stderr', async () => {
    const r = await run({ dump: true });
    assert.equal(r.out.length, 3);
    const tcpLine = r.out.find((l) => l.startsWith('tcp'))!;
    // conntrack -L: proto name padded to 8, number, seconds left, state, original tuple, reply tuple, flags.
    assert.match(
      tcpLine,
      /^tcp {6}6 \d+ ESTABLISHED src=10\.0\.0\.4 dst=198\.51\.100\.80 sport=40000 dport=80 packets=2 bytes=\d+ src=198\.51\.100\.80 dst=203\.0\.113\.1 sport=80 dport=\d+ packets=1 bytes=\d+ \[ASSURED\] mark=0 use=1$/,
    );
    const dns = r.out.find((l) => l.includes('dport=53'))!;
    assert.match(dns, /^udp {6}17 \d+ src=10\.0\.0\.3 dst=198\.51\.100\.53 sport=4000 dport=53 packets=1 bytes=\d+ \[UNREPLIED\] src=198\.51\.100\.53 dst=203\.0\.113\.1 sport=53 dport=\d+ packets=0 bytes=0 mark=0 use=1$/);
    assert.match(r.out.find((l) => l.includes('dport=5060'))!, / mark=0 helper=sip use=1$/);
    assert.deepEqual(r.err, ['masq conntrack: 3 flow entries have been shown.']);
  });

  test('-L with filters: -p, --src, --dport, --state, --alg', async () => {
    assert.equal((await run({ dump: true, proto: 'udp' })).out.length, 2);
    assert.equal((await run({ dump: true, src: '10.0.0.3' })).out.length, 1);
    assert.equal((await run({ dump: true, proto: 'tcp', dport: '80', state: 'ESTABLISHED' })).out.length, 1);
    assert.equal((await run({ dump: true, state: 'SYN_SENT' })).out.length, 0);
    assert.equal((await run({ dump: true, alg: 'sip' })).out.length, 1);
    assert.equal((await run({ dump: true, replySrc: '198.51.100.53' })).out.length, 1);
  });

  test('-o extended and id; -o json and --json print the JSON', async () => {
    const ext = await run({ dump: true, proto: 'tcp', output: 'extended,id' });
    assert.match(ext.out[0], /^ipv4 {5}2 tcp {6}6 .* id=\d+$/);
    const json = JSON.parse((await run({ dump: true, output: 'json' })).out.join('\n'));
    assert.equal(json.total, 3);
    assert.equal(json.flows.length, 3);
    assert.deepEqual(JSON.parse((await run({ dump: true, json: true, proto: 'tcp' })).out.join('\n')).flows[0].inside, { address: '10.0.0.4', port: 40000 });
  });

  test('-L expect and -C (flows, with a filter; expectations)', async () => {
    const ex = await run({ dump: 'expect' });
    assert.equal(ex.out.length, 2);
    assert.match(ex.out[0], /^\d+ proto=17 src=198\.51\.100\.10 dst=203\.0\.113\.1 sport=0 dport=\d+ mask-src=255\.255\.255\.255 .* class=audio helper=sip to=10\.0\.0\.2:3000[01] /);
    assert.deepEqual((await run({ count: true })).out, ['3']);
    assert.deepEqual((await run({ count: true, proto: 'udp' })).out, ['2']);
    assert.deepEqual((await run({ count: true, dump: undefined, expect: true })).out, ['2']);
  });

  test('mistakes are one line each: a bad filter, two actions, -D without a filter, an unreachable gateway', async () => {
    await assert.rejects(run({ dump: true, dport: 'http' }), (e: unknown) => e instanceof CliError && /HTTP 400: dport: "http" is not a port/.test(e.message));
    await assert.rejects(run({ dump: true, count: true }), (e: unknown) => e instanceof CliError && /one of -L, -C, -E, -D, -F/.test(e.message));
    await assert.rejects(run({ delete: true }), (e: unknown) => e instanceof CliError && /-D needs a filter/.test(e.message));
    await assert.rejects(run({ dump: 'flows' }), (e: unknown) => e instanceof CliError && /unknown table "flows"/.test(e.message));
    await assert.rejects(run({ output: 'xml' }), (e: unknown) => e instanceof CliError && /-o xml/.test(e.message));
    await assert.rejects(
      conntrack({ status: 'http://127.0.0.1:9', limit: '1', call: true }, { out() {}, err() {}, confirm: async () => null }),
      (e: unknown) => e instanceof CliError && e.exitCode === 1 && /cannot reach the status endpoint at http:\/\/127\.0\.0\.1:9/.test(e.message),
    );
  });

  test('-D deletes what a filter matches with its call; -F asks first, refuses without a terminal, then empties the table', async () => {
    const del = await run({ delete: true, alg: 'sip' });
    assert.deepEqual(del.err, ['masq conntrack: 1 flow entry has been deleted, with 2 expectations of their calls.']);
    assert.deepEqual((await run({ count: true })).out, ['2']);
    assert.deepEqual((await run({ dump: 'expect' })).out, []);
    await assert.rejects(run({ flush: true }, null), (e: unknown) => e instanceof CliError && /--yes/.test(e.message));
    const no = await run({ flush: true }, false);
    assert.deepEqual(no.err, ['masq conntrack: nothing flushed.']);
    assert.deepEqual((await run({ count: true })).out, ['2']);
    const yes = await run({ flush: true }, true);
    assert.match(yes.err[0], /connection tracking table has been emptied \(2 flows/);
    assert.deepEqual((await run({ count: true })).out, ['0']);
  });

  test('changes need the control token: without the token file, -D is refused and names what to do', async () => {
    const saved = process.env.RUNTIME_DIRECTORY;
    process.env.RUNTIME_DIRECTORY = join(runtimeDir, 'elsewhere');
    try {
      await assert.rejects(run({ delete: true, proto: 'udp' }), (e: unknown) => e instanceof CliError && /no control token .* --token-file/.test(e.message));
    } finally {
      process.env.RUNTIME_DIRECTORY = saved;
    }
  });

  test('-E: flow and expectation events as conntrack -E prints them, as they happen', async () => {
    const abort = new AbortController();
    let port = 20000;
    // Traffic until the stream has shown what it waits for (the subscription starts at some point of it).
    const traffic = setInterval(() => engine.process(udpPkt(`10.0.0.8:${port++}`, '198.51.100.53:53', 'q'), Side.Inside), 20);
    const stop = setTimeout(() => abort.abort(), 10_000);
    try {
      const r = await run({ event: true, proto: 'udp', maxEvents: '2' }, null, abort.signal);
      assert.equal(r.out.length, 2);
      for (const line of r.out) assert.match(line, /^ {4}\[NEW\] udp {6}17 \d+ src=10\.0\.0\.8 dst=198\.51\.100\.53 sport=\d+ dport=53 /);
    } finally {
      clearInterval(traffic);
      clearTimeout(stop);
    }
    assert.ok(!abort.signal.aborted, 'the events came before the time limit');
  });
});
