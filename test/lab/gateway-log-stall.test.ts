/**
 * `masq gateway` whose log reader stops reading: the gateway logs a line per
 * new flow through a port forward (info), its stdout pipe fills, and packets
 * must still be forwarded, both ways, while the lines beyond its log buffer
 * are dropped and counted (src/control/log-output.ts). With the synchronous
 * stdout it had before, the first full pipe stopped the packet loop.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { prerequisites } from './prereq.js';
import { LAB, LabTopology, type LabProcess } from './topology.js';
import { DEBIAN_PYTHON, probe, probeServer, statusJson, tunMissing } from './fixtures/gateway-probes.js';

const pre = prerequisites({ root: true, tools: ['ip', 'nft', 'conntrack', DEBIAN_PYTHON] });
const tun = tunMissing();
const skip = pre.skip || (tun !== undefined && process.env.CI !== 'true' ? tun : false);

const PUB1 = LAB.gw1.public;
const A = LAB.servers.a;
/**
 * Inbound flows to as many forwarded ports: the engine logs "port forward used" (~250 bytes) when a
 * forward's port is first used, so 6,000 ports make 1.5 MB of lines, past the pipe and the 1 MiB buffer.
 */
const FLOWS = 6000;
const FIRST_PORT = 20000;
// One datagram to each forwarded port (h1 answers with ICMP port unreachable: the line is the point).
const SEND_FLOWS = `
import socket, sys, time
n = int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(n):
    s.sendto(b"flow %d" % i, (sys.argv[1], ${FIRST_PORT} + i))
    if i % 50 == 49:
        time.sleep(0.005)  # paced: what the gateway's queues drop under a burst would make no line
print(n)
`;

describe('a gateway whose log reader stalls keeps forwarding', { skip }, () => {
  let lab: LabTopology;
  let masq: LabProcess;

  before(async () => {
    pre.assert();
    if (tun) assert.fail(`TUN gateway prerequisite: ${tun}`);
    lab = LabTopology.create('glog');
    await probeServer(lab, 'h1', ['udp-echo', '--port', '9000']);
    await probeServer(lab, 'srv', ['udp-echo', '--port', '7']);
    lab.useMasqAddressing('gw1');
    const extra = [
      'forwards:',
      `  - { protocol: udp, port: 9000, to: ${LAB.lan1.h1}, toPort: 9000 }`,
      `  - { protocol: udp, port: ${FIRST_PORT}-${FIRST_PORT + FLOWS - 1}, to: ${LAB.lan1.h1} }`,
      '',
    ].join('\n');
    masq = await lab.startMasq('gw1', lab.masqConfig('gw1', extra).replace('level: debug', 'level: info'));
  });

  after(async () => {
    await masq?.stop();
    await lab?.destroy();
  });

  test('stdout not read: flows are logged into a full pipe, then dropped and counted, and packets still pass', async () => {
    // From here on nobody reads the gateway's stdout (Node's stream stops reading at its high-water mark).
    masq.proc.stdout!.pause();
    // The first datagram resolves the neighbours (a burst before that would be lost in the ARP queue).
    assert.equal(probe(lab, 'srv', ['udp-ask', '--to', `${PUB1}:9000`, '--timeout', '2', '--tries', '5']).ok, true);
    const sent = lab.exec('srv', [DEBIAN_PYTHON, '-c', SEND_FLOWS, PUB1, String(FLOWS)], { timeoutMs: 120_000 });
    assert.equal(sent.stdout.trim(), String(FLOWS));
    // The forward is still served, and outbound traffic still passes, while the pipe stays full.
    const inbound = probe(lab, 'srv', ['udp-ask', '--to', `${PUB1}:9000`, '--timeout', '2', '--tries', '5']);
    assert.equal(inbound.ok, true, JSON.stringify(inbound));
    const outbound = probe(lab, 'h1', ['udp-ask', '--to', `${A}:7`, '--timeout', '2', '--tries', '5']);
    assert.equal(outbound.ok, true, JSON.stringify(outbound));
    const counters = statusJson(lab, 'gw1', '/counters');
    const log = counters.log as { written: number; dropped: number; pendingBytes: number };
    // The reader really stalled: lines wait, and those beyond the buffer were dropped (counted, not lost silently).
    const seen = JSON.stringify({ log, flowsCreated: counters.engine.flowsCreated });
    assert.ok(log.pendingBytes > 0, seen);
    assert.ok(log.dropped > 0, seen);
    // Reading again: the gateway catches up, and says how many lines it dropped.
    masq.proc.stdout!.resume();
    await masq.waitFor(/"limit":"log-output"[^\n]*log lines were dropped/, 30_000);
    assert.equal(masq.running, true);
  });
});
