/**
 * `masq gateway` with the kernel fast path (dataplane.kernelOffload) as the
 * router of the lab LAN (test/lab/topology.ts), against real traffic:
 *
 *   - UDP: 400 requests and their echoes all arrive, the server sees the
 *     public address, the flow goes to the kernel after 8 packets, masq's
 *     loop reads a fraction of the packets, and after a reconcile the flow
 *     listing counts every packet and byte both ways, masq's and the kernel's;
 *   - filtering holds on the kernel path: a third host, or the server from
 *     another port, sending to the offloaded flow's public port gets nothing in;
 *   - a flow deleted in masq (`masq conntrack -D`) leaves the kernel's map at
 *     the next reconcile, and new packets of its 5-tuple go through masq again;
 *   - TCP: 8 MB each way with their SHA-256 checked, carried mostly by the
 *     kernel, and the FIN still reaches masq (the connection's state follows);
 *   - a flow with an ALG (SIP) is never handed over;
 *   - stop removes the nftables table and the fwmark rules;
 *   - with a 3 s UDP timeout, a flow the kernel carries for longer lives on
 *     (the kernel's counters refresh it), and once idle it expires in masq
 *     and leaves the kernel's map.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { prerequisites, repoRoot } from './prereq.js';
import { LAB, LabTopology, sleep, type LabProcess } from './topology.js';
import { DEBIAN_PYTHON, probe, probeServer, routingState, statusJson, tunMissing } from './fixtures/gateway-probes.js';

const pre = prerequisites({ root: true, tools: ['ip', 'nft', DEBIAN_PYTHON] });
const tun = tunMissing();
const skip = pre.skip || (tun !== undefined && process.env.CI !== 'true' ? tun : false);

const PEER = join(repoRoot, 'test/lab/fixtures/offload-peer.py');
const A = LAB.servers.a;
const B = LAB.servers.b;
const H1 = LAB.lan1.h1;
const PUB = LAB.gw1.public;
/** Not 8787: the control token file is named by the port, and other labs may run a gateway at the same time. */
const STATUS_PORT = 8797;
const STATUS_URL = `http://127.0.0.1:${STATUS_PORT}`;
const TABLE = 'masq_offload';
const MARK = '0x40000000';
const UDP_COUNT = 400;
const TCP_SIZE = 8 * 1024 * 1024;
/** IPv4 + UDP headers: the flow listing and the kernel count whole IP packets. */
const UDP_OVERHEAD = 28;

const OFFLOAD_CONFIG = `
dataplane:
  kernelOffload: { afterPackets: 8, reconcileMs: 500 }
algs:
  - name: sip
    ports: [udp/5060]
`;
/** Shorter than the RFC 4787 minimum (2 min), so that a test sees a flow outlive it only by the kernel's refreshes. */
const SHORT_UDP_TIMEOUT = 3;
const SHORT_TIMEOUT_CONFIG = `${OFFLOAD_CONFIG}timeouts: { udp: ${SHORT_UDP_TIMEOUT}, allowBelowRfc: true }
`;

interface Flow {
  proto: string;
  tcpState: string | null;
  inside: { address: string; port: number };
  public: { address: string; port: number };
  remote: { address: string; port: number };
  packets: { out: number; in: number };
  bytes: { out: number; in: number };
  helper: string | null;
  offloaded: boolean;
}

interface OffloadStats {
  offloaded: number;
  returned: number;
  kernelPackets: number;
  kernelBytes: number;
  reconciles: number;
  listFailures: number;
  inKernel: number;
  nftErrors: number;
}

/** The JSON lines a fixture printed, by phase. */
function phase(p: LabProcess, name: string): any {
  const line = p.output.split('\n').find((l) => l.includes(`"phase": "${name}"`));
  assert.ok(line, `no ${name} line in:\n${p.output}`);
  return JSON.parse(line);
}

describe('masq gateway with the kernel fast path', { skip }, () => {
  let lab: LabTopology;
  let masq: LabProcess | undefined;
  let cleanRouting = '';
  let cleanTables = '';
  const runtimeDir = process.env.RUNTIME_DIRECTORY;

  const counters = () => statusJson(lab, 'gw1', '/counters', STATUS_PORT);
  const offloadStats = (): OffloadStats & { packetsRead: number; filtered: number } => {
    const c = counters();
    assert.ok(c.kernelOffload, 'counters carry kernelOffload');
    return { ...c.kernelOffload, packetsRead: c.loop.packetsRead, filtered: c.engine.drops.filtered ?? 0 };
  };
  const flows = (): Flow[] => statusJson(lab, 'gw1', '/flows?limit=10000', STATUS_PORT).flows;
  const flowOf = (proto: string, insidePort: number) => flows().find((f) => f.proto === proto && f.inside.address === H1 && f.inside.port === insidePort);
  /** Polls the flow listing (bounded) until `ok` holds for the flow; returns the last flow seen. */
  const waitFlow = async (proto: string, insidePort: number, ok: (f: Flow | undefined) => boolean, what: string, timeoutMs = 8000) => {
    const deadline = Date.now() + timeoutMs;
    let f = flowOf(proto, insidePort);
    while (!ok(f) && Date.now() < deadline) {
      await sleep(200);
      f = flowOf(proto, insidePort);
    }
    assert.ok(ok(f), `${what}: ${JSON.stringify(f)}`);
    return f;
  };
  /** The keys of the kernel's `out` map: "inside . proto . port . remote . port". */
  const outKeys = (): string[] => {
    const doc = JSON.parse(lab.exec('gw1', ['nft', '-j', 'list', 'map', 'ip', TABLE, 'out']).stdout);
    const map = doc.nftables.find((i: any) => i.map)?.map;
    return (map?.elem ?? []).map(([k]: [any]) => (k.elem?.val ?? k).concat.join(' . '));
  };
  const udpKey = (sport: number) => `${H1} . udp . ${sport} . ${A} . 7`;
  const startGateway = async (extra: string) => {
    // A group that failed before its stop test leaves its gateway running.
    await masq?.stop();
    const config = lab.masqConfig('gw1', extra, STATUS_PORT).replace('status:\n', 'status:\n  metrics: false\n  dashboard: false\n');
    masq = await lab.startMasq('gw1', config);
  };
  /** Stops the gateway; the table and the fwmark rules must be gone, and all else as before the start. */
  const stopGateway = async () => {
    const p = masq!;
    masq = undefined;
    await p.stop('SIGINT');
    assert.equal(p.exitCode, 0, p.output.slice(-2000));
    assert.match(p.output, /"teardownFailures":0/);
    assert.equal(routingState(lab, 'gw1'), cleanRouting);
    assert.equal(lab.exec('gw1', ['nft', 'list', 'tables']).stdout, cleanTables);
    assert.notEqual(lab.exec('gw1', ['nft', 'list', 'table', 'ip', TABLE], { allowFail: true }).status, 0);
  };

  before(async () => {
    pre.assert();
    if (tun) assert.fail(`TUN gateway prerequisite: ${tun}`);
    lab = LabTopology.create('gwo');
    // The control token `masq conntrack -D` reads: in this lab's directory, not a file other labs share.
    process.env.RUNTIME_DIRECTORY = lab.dir;
    await probeServer(lab, 'srv', ['udp-echo', '--port', '7']);
    const tcp = lab.spawn('srv', [DEBIAN_PYTHON, PEER, 'tcp-hash-serve', '--port', '5001', '--size', String(TCP_SIZE)], 'tcp-hash-serve');
    await tcp.waitFor(/^ready$/m, 10_000);
    const sip = lab.spawn('srv', [DEBIAN_PYTHON, PEER, 'sip-answer', '--port', '5060'], 'sip-answer');
    await sip.waitFor(/^ready$/m, 10_000);
    lab.useMasqAddressing('gw1');
    cleanRouting = routingState(lab, 'gw1');
    cleanTables = lab.exec('gw1', ['nft', 'list', 'tables']).stdout;
  });

  after(async () => {
    await masq?.stop();
    await lab?.destroy();
    if (runtimeDir === undefined) delete process.env.RUNTIME_DIRECTORY;
    else process.env.RUNTIME_DIRECTORY = runtimeDir;
  });

  describe('with afterPackets 8', () => {
    before(() => startGateway(OFFLOAD_CONFIG));

    test('start: the nftables table exists and marked packets from the LAN skip masq\'s rule', () => {
      const table = lab.exec('gw1', ['nft', 'list', 'table', 'ip', TABLE]).stdout;
      assert.match(table, /map out \{/);
      assert.match(table, /chain prerouting \{/);
      const rules = lab.exec('gw1', ['ip', 'rule', 'show']).stdout.split('\n');
      const mark = rules.findIndex((l) => l.includes(`iif lan0`) && l.includes(`fwmark ${MARK}/${MARK}`) && l.includes('lookup main'));
      const masqRule = rules.findIndex((l) => l.includes(`from ${LAB.lan1.prefix}`) && l.includes('iif lan0'));
      assert.ok(mark >= 0, `no fwmark rule:\n${rules.join('\n')}`);
      assert.ok(masqRule > mark, `the fwmark rule must come first:\n${rules.join('\n')}`);
      assert.deepEqual(outKeys(), []);
    });

    describe('UDP', () => {
      let session: LabProcess;
      let pubPort = 0;
      const stopFile = () => join(lab.dir, 'udp-stop');

      test(`${UDP_COUNT} requests and echoes: all arrive, the kernel carries most, the listing counts them all`, async (tc) => {
        const before = offloadStats();
        session = lab.spawn('h1', [DEBIAN_PYTHON, PEER, 'udp-session', '--to', `${A}:7`, '--sport', '41000', '--count', String(UDP_COUNT), '--stop', stopFile(), '--timeout', '60'], 'udp-session');
        await session.waitFor(/"phase": "exchanged"/, 40_000);
        const r = phase(session, 'exchanged');
        assert.equal(r.received, UDP_COUNT, JSON.stringify(r));
        const seen = /^(\S+):(\d+)$/.exec(String(r.seenAs));
        assert.equal(seen?.[1], PUB, `the server saw ${r.seenAs}`);
        pubPort = Number(seen![2]);

        // After a reconcile the flow has every packet, masq's and the kernel's, and every byte.
        const total = 2 * UDP_COUNT;
        const f = await waitFlow('udp', 41000, (x) => x !== undefined && x.packets.out + x.packets.in >= total, 'the flow never counted the kernel\'s packets');
        assert.equal(f!.offloaded, true);
        assert.deepEqual(f!.public, { address: PUB, port: pubPort });
        assert.deepEqual(f!.packets, { out: UDP_COUNT, in: UDP_COUNT });
        assert.deepEqual(f!.bytes, { out: r.sentBytes + UDP_OVERHEAD * UDP_COUNT, in: r.echoBytes + UDP_OVERHEAD * UDP_COUNT });

        const now = offloadStats();
        assert.ok(now.offloaded - before.offloaded >= 1, JSON.stringify(now));
        const kernel = now.kernelPackets - before.kernelPackets;
        const read = now.packetsRead - before.packetsRead;
        tc.diagnostic(`UDP: ${total} packets, ${kernel} by the kernel, ${read} read by masq; flow ${JSON.stringify(f!.packets)} ${JSON.stringify(f!.bytes)}`);
        assert.ok(kernel >= 0.75 * total, `the kernel carried ${kernel} of ${total} packets`);
        assert.ok(read <= total / 4, `masq read ${read} of ${total} packets`);
        assert.equal(kernel + read, total, `kernel ${kernel} + masq ${read} packets`);
        assert.equal(now.listFailures, 0);
        assert.equal(now.nftErrors, 0);
        assert.ok(outKeys().includes(udpKey(41000)), outKeys().join('\n'));

        const line = lab.exec('gw1', lab.masqArgv('conntrack', '--status', STATUS_URL)).stdout.split('\n').find((l) => l.includes('sport=41000'));
        assert.match(line ?? '', /\[OFFLOAD\]/);
      });

      test('filtering holds on the kernel path: only the server\'s own address and port get in', async () => {
        assert.ok(pubPort > 0, 'needs the previous test');
        const before = offloadStats();
        const to = `${PUB}:${pubPort}`;
        for (const from of [`${B}:7`, `${A}:9`]) {
          const r = lab.exec('srv', [DEBIAN_PYTHON, PEER, 'udp-send', '--from', from, '--to', to, '--count', '5']);
          assert.match(r.stdout, /"ok": true/);
        }
        // masq saw them (the kernel's map matched neither) and refused them.
        const mid = offloadStats();
        assert.equal(mid.filtered - before.filtered, 10, JSON.stringify(mid));
        // The server itself still gets in, by the kernel: the listener works.
        lab.exec('srv', [DEBIAN_PYTHON, PEER, 'udp-send', '--from', `${A}:7`, '--to', to, '--count', '3']);
        await sleep(300);
        lab.writeFile('udp-stop', '');
        await session.waitFor(/"phase": "listened"/, 10_000);
        const heard = phase(session, 'listened');
        assert.deepEqual(heard.sources, { [`${A}:7`]: 3 }, JSON.stringify(heard));
        const end = offloadStats();
        assert.equal(end.packetsRead - mid.packetsRead, 0, 'the server\'s packets went by the kernel');
      });

      test('a flow deleted in masq leaves the kernel; its next packets go through masq again', async () => {
        assert.ok(outKeys().includes(udpKey(41000)), 'the flow is in the kernel before');
        const before = offloadStats();
        const del = lab.exec('gw1', lab.masqArgv('conntrack', '-D', '-p', 'udp', '--sport', '41000', '--status', STATUS_URL));
        assert.match(del.stderr, /1 flow entry has been deleted/);
        const deadline = Date.now() + 5000;
        while (outKeys().includes(udpKey(41000)) && Date.now() < deadline) await sleep(100);
        assert.ok(!outKeys().includes(udpKey(41000)), `still in the kernel's map after 5 s:\n${outKeys().join('\n')}`);
        const mid = offloadStats();
        assert.ok(mid.returned - before.returned >= 1, JSON.stringify(mid));

        const r = probe(lab, 'h1', ['udp-ask', '--to', `${A}:7`, '--sport', '41000', '--tries', '1']);
        assert.ok(r.ok, JSON.stringify(r));
        const end = offloadStats();
        assert.ok(end.packetsRead - mid.packetsRead >= 2, 'masq read the request and its answer');
        const f = flowOf('udp', 41000);
        assert.equal(f?.offloaded, false, JSON.stringify(f));
        assert.deepEqual(f?.packets, { out: 1, in: 1 });
      });
    });

    test('TCP: 8 MB each way intact, mostly by the kernel; the FIN still reaches masq', async (tc) => {
      const before = offloadStats();
      const stop = join(lab.dir, 'tcp-stop');
      const client = lab.spawn('h1', [DEBIAN_PYTHON, PEER, 'tcp-hash-ask', '--to', `${A}:5001`, '--sport', '42000', '--size', String(TCP_SIZE), '--stop', stop, '--timeout', '60'], 'tcp-hash-ask');
      await client.waitFor(/"phase": "transferred"/, 60_000);
      const r = phase(client, 'transferred');
      assert.equal(r.sentIntact, true, JSON.stringify(r));
      assert.equal(r.receivedIntact, true, JSON.stringify(r));

      const f = await waitFlow('tcp', 42000, (x) => x !== undefined && x.bytes.out + x.bytes.in >= 2 * TCP_SIZE, 'the flow never counted the kernel\'s bytes');
      assert.equal(f!.offloaded, true);
      assert.equal(f!.tcpState, 'ESTABLISHED');
      const mid = offloadStats();
      assert.ok(mid.offloaded - before.offloaded >= 1, JSON.stringify(mid));
      assert.ok(mid.kernelBytes - before.kernelBytes >= TCP_SIZE, `the kernel carried ${mid.kernelBytes - before.kernelBytes} bytes`);

      lab.writeFile('tcp-stop', '');
      await client.waitFor(/"phase": "closed"/, 20_000);
      assert.equal(phase(client, 'closed').serverFin, true);
      // The FINs are never offloaded: masq follows the connection to its end.
      const closing = await waitFlow('tcp', 42000, (x) => x === undefined || x.tcpState !== 'ESTABLISHED', 'the FINs never reached masq');
      tc.diagnostic(`TCP: kernel ${mid.kernelBytes - before.kernelBytes} bytes in ${mid.kernelPackets - before.kernelPackets} packets, masq read ${mid.packetsRead - before.packetsRead} packets; flow ${JSON.stringify(f!.bytes)}; after the FINs: ${closing ? closing.tcpState : 'gone'}`);
      // The client waited for the server's FIN, which passed masq after the client's own.
      if (closing) assert.equal(closing.tcpState, 'TIME_WAIT');
    });

    test('a flow with an ALG (SIP) stays with masq', () => {
      const before = offloadStats();
      const r = lab.exec('h1', [DEBIAN_PYTHON, PEER, 'sip-options', '--to', `${A}:5060`, '--src', H1, '--sport', '5060', '--count', '20']);
      const res = JSON.parse(r.stdout.trim().split('\n').pop()!);
      assert.equal(res.ok, true, r.stdout);
      const f = flowOf('udp', 5060);
      assert.equal(f?.helper, 'sip', JSON.stringify(f));
      assert.equal(f?.offloaded, false);
      assert.deepEqual(f?.packets, { out: 20, in: 20 });
      const now = offloadStats();
      assert.equal(now.offloaded, before.offloaded);
      assert.ok(now.packetsRead - before.packetsRead >= 40);
    });

    test('stop: the table and the fwmark rules are gone', () => stopGateway());
  });

  describe(`with a ${SHORT_UDP_TIMEOUT} s UDP timeout`, () => {
    before(() => startGateway(SHORT_TIMEOUT_CONFIG));

    test('the kernel\'s counters keep a flow alive past the timeout; idle, it expires and leaves the kernel', async () => {
      const before = counters();
      // 200 exchanges 20 ms apart: longer than the timeout, nearly all of it by the kernel.
      const stop = lab.writeFile('short-stop', '');
      const session = lab.spawn('h1', [DEBIAN_PYTHON, PEER, 'udp-session', '--to', `${A}:7`, '--sport', '43000', '--count', '200', '--gap', '0.02', '--stop', stop, '--timeout', '30'], 'udp-session');
      const started = Date.now();
      await session.waitFor(/"phase": "exchanged"/, 30_000);
      const lasted = Date.now() - started;
      const r = phase(session, 'exchanged');
      assert.equal(r.received, 200, JSON.stringify(r));
      assert.ok(lasted > SHORT_UDP_TIMEOUT * 1000, `the exchange took ${lasted} ms, not longer than the timeout`);
      // One flow all along: had it expired on the way, a new one would hold only the packets after.
      const f = await waitFlow('udp', 43000, (x) => x !== undefined && x.packets.out + x.packets.in >= 400, 'the flow did not count every packet');
      assert.equal(f!.offloaded, true);
      assert.deepEqual(f!.packets, { out: 200, in: 200 });
      const mid = counters();
      assert.equal(mid.engine.flowsCreated - before.engine.flowsCreated, 1);
      assert.equal(mid.engine.flowsExpired - before.engine.flowsExpired, 0);
      assert.ok(outKeys().includes(udpKey(43000)));

      // Idle now: masq expires it, and the next reconcile takes it out of the kernel.
      const deadline = Date.now() + (SHORT_UDP_TIMEOUT + 5) * 1000;
      while ((flowOf('udp', 43000) !== undefined || outKeys().includes(udpKey(43000))) && Date.now() < deadline) await sleep(250);
      assert.equal(flowOf('udp', 43000), undefined, 'the flow never expired');
      assert.ok(!outKeys().includes(udpKey(43000)), `expired in masq, still in the kernel:\n${outKeys().join('\n')}`);
      const end = counters();
      assert.ok(end.engine.flowsExpired - before.engine.flowsExpired >= 1);
      assert.ok(end.kernelOffload.returned - before.kernelOffload.returned >= 1, JSON.stringify(end.kernelOffload));
      await session.exited(10_000);
    });

    test('stop: the table and the fwmark rules are gone', () => stopGateway());
  });
});
