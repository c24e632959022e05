/**
 * `masq gateway` with dataplane.queues: 2 (multi-queue TUN, one engine per
 * queue on its own thread, eBPF steering) as the router of the lab LAN:
 * UDP and TCP from two inside hosts that land on different queues, a static
 * forward, and a SIP call with RTP both ways whose media pinhole must come
 * from the slice of the engine that handled the signalling.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { prerequisites } from './prereq.js';
import { LAB, LabTopology, type LabProcess, type Role } from './topology.js';
import { DEBIAN_PYTHON, probe, probeServer, statusJson, tunMissing } from './fixtures/gateway-probes.js';
import { Capture, exitCodes, fixture, G711A_PCAP, pcapPacketCount, SIP_ALG_CONFIG, sipMessages, sipp, udpDatagrams, waitListening } from './fixtures/sip-lab.js';
import { writeWithSsrc } from './fixtures/sip-rtp-pcap.js';
import { join } from 'node:path';
import { hostQueue, portSlices } from '../../src/dataplane/tun/steering.js';
import { parseIpv4 } from '../../src/wire/address.js';

const pre = prerequisites({ root: true, tools: ['ip', 'nft', 'conntrack', 'ss', 'env', 'iperf3', 'sipp', 'dumpcap', 'tshark', DEBIAN_PYTHON, G711A_PCAP] });
const tun = tunMissing();
const skip = pre.skip || (tun !== undefined && process.env.CI !== 'true' ? tun : false);

const SRV = LAB.servers.a;
const PUB = LAB.gw1.public;
const HOSTS = [
  { role: 'h1' as Role, addr: LAB.lan1.h1 },
  { role: 'h2' as Role, addr: LAB.lan1.h2 },
];
const SLICES = portSlices([1024, 65535], 2);
const queueOf = (addr: string) => hostQueue(parseIpv4(addr), 2);

const QUEUES_CONFIG = `
hairpin: false
dataplane:
  queues: 2
forwards:
  - { protocol: tcp, port: 8080, to: ${LAB.lan1.h1}, toPort: 8000 }
${SIP_ALG_CONFIG}`;

describe('masq gateway with 2 queues', { skip }, () => {
  let lab: LabTopology;
  let masq: LabProcess | undefined;

  before(async () => {
    pre.assert();
    if (tun) assert.fail(`TUN gateway prerequisite: ${tun}`);
    // The two inside hosts must land on different queues, or this test proves nothing about sharding.
    assert.notEqual(queueOf(HOSTS[0].addr), queueOf(HOSTS[1].addr));
    lab = LabTopology.create('gwq');
    // sip-uas-media.xml plays this copy of the stream to calls for "bob"; sipp runs in the lab directory.
    writeWithSsrc(G711A_PCAP, join(lab.dir, 'sip-stream-b.pcap'), 0x0b0b0b0b);
    await probeServer(lab, 'srv', ['udp-echo', '--port', '7']);
    await probeServer(lab, 'srv', ['tcp-serve', '--port', '6667']);
    await probeServer(lab, 'h1', ['tcp-serve', '--port', '8000']);
    const iperf = lab.spawn('srv', ['iperf3', '-s', '-B', SRV, '-p', '5201', '--forceflush'], 'iperf3 -s');
    await iperf.waitFor(/Server listening/);
    lab.useMasqAddressing('gw1');
    const config = lab.masqConfig('gw1', QUEUES_CONFIG).replace('status:\n', 'status:\n  metrics: false\n  dashboard: false\n');
    masq = await lab.startMasq('gw1', config);
  });

  after(async () => {
    await masq?.stop();
    await lab?.destroy();
  });

  test('UDP from two inside hosts, several ports each: answers come back, from the public address', () => {
    for (const h of HOSTS) {
      for (const sport of [41000, 41001, 52000]) {
        const r = probe(lab, h.role, ['udp-ask', '--to', `${SRV}:7`, '--sport', String(sport)]);
        assert.ok(r.ok, `${h.role}:${sport} ${JSON.stringify(r)}`);
        assert.equal(/from (\S+):/.exec(String(r.reply))?.[1], PUB);
      }
    }
  });

  test('each host\'s flows are on its own queue, with public ports from that queue\'s slice', async () => {
    const flows = (await statusJson(lab, 'gw1', '/flows?limit=1000')).flows as Array<{ proto: string; inside: { address: string }; public: { port: number } }>;
    for (const h of HOSTS) {
      const mine = flows.filter((f) => f.proto === 'udp' && f.inside.address === h.addr);
      assert.ok(mine.length >= 3, `${h.role}: ${JSON.stringify(mine)}`);
      const [lo, hi] = SLICES[queueOf(h.addr)];
      for (const f of mine) assert.ok(f.public.port >= lo && f.public.port <= hi, `${h.role} public port ${f.public.port} outside ${lo}-${hi}`);
    }
    const counters = statusJson(lab, 'gw1', '/counters');
    assert.equal(counters.queues.length, 2);
    for (const q of counters.queues) assert.ok(q.answered && q.packetsRead > 0, JSON.stringify(counters.queues));
    assert.equal(counters.loop.engineErrors, 0);
  });

  test('TCP both ways from both hosts (iperf3, up and down)', () => {
    for (const h of HOSTS) {
      for (const reverse of [[], ['-R']]) {
        const r = lab.exec(h.role, ['iperf3', '-c', SRV, '-t', '1', '--json', ...reverse], { timeoutMs: 30_000 });
        const end = JSON.parse(r.stdout).end;
        assert.ok(end.sum_received.bytes > 1_000_000, `${h.role} ${reverse.join('')}: ${end.sum_received.bytes} bytes`);
      }
    }
  });

  test('a static forward reaches its inside server; the engine of that host logs it', async () => {
    const r = probe(lab, 'srv', ['tcp-ask', '--to', `${PUB}:8080`]);
    assert.ok(r.ok, JSON.stringify(r));
    await masq!.waitFor(new RegExp(`"queue":${queueOf(LAB.lan1.h1)}.*"msg":"port forward used"`), 5000);
  });

  for (const h of HOSTS) {
    test(`a SIP call from ${h.role} with RTP both ways: its media port is in its engine's slice`, async (tc) => {
      const streamPackets = pcapPacketCount(G711A_PCAP);
      const caps = [await Capture.start(lab, 'srv', `q-${h.role}-srv`), await Capture.start(lab, h.role, `q-${h.role}-in`)];
      const uas = sipp(lab, 'srv', ['-sf', fixture('sip-uas-media.xml'), '-t', 'u1', '-i', SRV, '-p', '5060', '-mp', '6000', '-m', '1', '-timeout', '60s', '-timeout_error'], 'UAS');
      await waitListening(lab, 'srv', 'udp', SRV, 5060);
      const uac = sipp(lab, h.role, [`${SRV}:5060`, '-sf', fixture('sip-uac-media.xml'), '-t', 'u1', '-s', 'uas', '-i', h.addr, '-p', '5060', '-mp', '6000', '-m', '1', '-timeout', '60s', '-timeout_error'], 'UAC');
      const codes = await exitCodes([uac, uas], 75_000);
      for (const c of caps) await c.stop();
      if (codes.some((c) => c !== 0)) tc.diagnostic(`UAC errors:\n${uac.errors().slice(-2000)}\nUAS errors:\n${uas.errors().slice(-2000)}`);
      assert.deepEqual(codes, [0, 0]);
      const invite = sipMessages(caps[0].file).find((m) => m.method === 'INVITE');
      assert.ok(invite && invite.sdpPort !== null, 'the UAS got an INVITE with SDP');
      assert.equal(invite.sdpConnection, PUB);
      const [lo, hi] = SLICES[queueOf(h.addr)];
      assert.ok(invite.sdpPort >= lo && invite.sdpPort <= hi, `media port ${invite.sdpPort} outside queue ${queueOf(h.addr)}'s ${lo}-${hi}`);
      const toUas = udpDatagrams(caps[0].file).filter((d) => d.dst === SRV && d.dport === 6000);
      const toUac = udpDatagrams(caps[1].file).filter((d) => d.dst === h.addr && d.dport === 6000);
      assert.ok(toUas.length >= 0.9 * streamPackets, `UAS got ${toUas.length} of ${streamPackets}`);
      assert.ok(toUac.length >= 0.9 * streamPackets, `UAC got ${toUac.length} of ${streamPackets} (inbound RTP steered to the wrong engine?)`);
    });
  }
});
