/**
 * `masq pcap translate --metrics-out FILE`: the gateway's Prometheus metrics
 * after a capture of known traffic, checked by name and exact value:
 *
 *   UDP   192.168.1.2:4000 -> 198.51.100.53:53, twice; one answer
 *   TCP   192.168.1.2:40000 -> 198.51.100.80:80: SYN, SYN-ACK, ACK
 *   SIP   an INVITE from 192.168.1.3 offering audio on 30000 (the ALG rewrites
 *         it and opens RTP and RTCP pinholes); three RTP packets from the
 *         proxy's address into the RTP pinhole
 *   ICMP  an echo request out, its reply
 *   junk  one unsolicited UDP datagram to the public address (dropped)
 *
 * And the same on a shared capture (sip.pcap), where the metrics must agree
 * with the summary pcap translate prints as JSON.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writePcap } from '../../src/wire/capture.js';
import { LinkType } from '../../src/wire/link-layer.js';
import { parseIpv4 } from '../../src/wire/address.js';
import { buildUdpPacket } from '../../src/wire/udp.js';
import { buildTcpPacket } from '../../src/wire/tcp.js';
import { buildIcmpEcho, ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST } from '../../src/wire/icmp.js';
import { sipInvite } from '../control/sip-invite.js';
import { metricValue, parseMetrics } from '../control/prometheus-text.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'masq-pcap-metrics-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const ep = (text: string) => {
  const [a, p] = text.split(':');
  return { addr: parseIpv4(a), port: Number(p) };
};
const udp = (from: string, to: string, payload: Uint8Array | string) => {
  const s = ep(from);
  const d = ep(to);
  return buildUdpPacket({ src: s.addr, dst: d.addr, srcPort: s.port, dstPort: d.port, payload: typeof payload === 'string' ? new TextEncoder().encode(payload) : payload });
};
const tcp = (from: string, to: string, flags: number, seq: number, ack: number) => {
  const s = ep(from);
  const d = ep(to);
  return buildTcpPacket({ src: s.addr, dst: d.addr, srcPort: s.port, dstPort: d.port, seq, ack, flags, window: 64240, payload: new Uint8Array(0) });
};
const SYN = 0x02;
const ACK = 0x10;

/** The known traffic, in order, as IPv4 packets (a raw-IP capture). */
function knownTraffic(): Uint8Array[] {
  const rtp = new Uint8Array(172);
  rtp[0] = 0x80;
  rtp[1] = 8;
  return [
    udp('192.168.1.2:4000', '198.51.100.53:53', 'query-one!'),
    udp('192.168.1.2:4000', '198.51.100.53:53', 'query-two!'),
    udp('198.51.100.53:53', '203.0.113.1:4000', 'answer-answer-answer'),
    tcp('192.168.1.2:40000', '198.51.100.80:80', SYN, 1000, 0),
    tcp('198.51.100.80:80', '203.0.113.1:40000', SYN | ACK, 5000, 1001),
    tcp('192.168.1.2:40000', '198.51.100.80:80', ACK, 1001, 5001),
    udp('192.168.1.3:5060', '198.51.100.10:5060', sipInvite('192.168.1.3', 'metrics-call')),
    udp('198.51.100.10:40000', '203.0.113.1:30000', rtp),
    udp('198.51.100.10:40000', '203.0.113.1:30000', rtp),
    udp('198.51.100.10:40000', '203.0.113.1:30000', rtp),
    buildIcmpEcho(parseIpv4('192.168.1.2'), parseIpv4('198.51.100.53'), ICMP_ECHO_REQUEST, 77, 1, new Uint8Array(56)),
    buildIcmpEcho(parseIpv4('198.51.100.53'), parseIpv4('203.0.113.1'), ICMP_ECHO_REPLY, 77, 1, new Uint8Array(56)),
    udp('198.51.100.99:1234', '203.0.113.1:9999', 'unsolicited'),
  ];
}

function translate(input: string, extra: string[]): { status: number | null; stdout: string; stderr: string; metrics: string } {
  const metricsFile = join(dir, `metrics-${Date.now()}-${Math.random()}.prom`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'pcap', 'translate', input, join(dir, 'out.pcap'), '--metrics-out', metricsFile, ...extra], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, metrics: existsSync(metricsFile) ? readFileSync(metricsFile, 'utf8') : '' };
}

test('pcap translate --metrics-out: packets and bytes each way, flows by protocol and state, SIP messages, pinholes, drops', () => {
  const packets = knownTraffic();
  const file = join(dir, 'known.pcap');
  writeFileSync(file, writePcap(packets.map((data, i) => ({ linkType: LinkType.RAW, tsSec: 1 + i, tsNsec: 0, data, origLength: data.length, interfaceIndex: 0 }))));
  const r = translate(file, ['--inside', '192.168.1.0/24', '--public', '203.0.113.1', '--alg', 'sip', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const m = parseMetrics(r.metrics);
  const v = (name: string, labels: Record<string, string> = {}) => metricValue(m, name, labels);

  // Translated each way: the junk datagram is not.
  assert.equal(v('masq_nat_packets_total', { direction: 'outbound' }), 6);
  assert.equal(v('masq_nat_packets_total', { direction: 'inbound' }), 6);
  // Inbound bytes are known to the byte (nothing inbound is rewritten): UDP answer, SYN-ACK, three RTP, the echo reply.
  assert.equal(v('masq_nat_bytes_total', { direction: 'inbound' }), 20 + 8 + 20 + (20 + 20) + 3 * (20 + 8 + 172) + (20 + 8 + 56));
  // Outbound: every packet as built; the ALG's rewrite of the INVITE (192.168.1.3 to 203.0.113.1, ports kept) keeps its length.
  assert.equal(v('masq_nat_bytes_total', { direction: 'outbound' }), 2 * (20 + 8 + 10) + 2 * (20 + 20) + packets[6].length + (20 + 8 + 56));

  assert.equal(v('masq_nat_flows_created_total'), 5, 'DNS, TCP, SIP, RTP, ICMP');
  assert.equal(v('masq_nat_flows', { protocol: 'tcp', state: 'ESTABLISHED' }), 1);
  assert.equal(v('masq_nat_flows', { protocol: 'udp', state: 'ASSURED' }), 1, 'the DNS flow was answered');
  assert.equal(v('masq_nat_flows', { protocol: 'udp', state: 'UNREPLIED' }), 2, 'the INVITE got no answer; the RTP flow none from inside');
  assert.equal(v('masq_nat_flows', { protocol: 'icmp', state: 'ASSURED' }), 1);
  // One per inside endpoint that carried traffic; the RTP endpoint's was made when its pinhole was used.
  assert.equal(v('masq_nat_mappings_created_total'), 5, 'DNS, TCP, SIP, RTP, ICMP');

  assert.equal(v('masq_alg_messages_total', { alg: 'sip' }), 1);
  assert.equal(v('masq_alg_messages_rewritten_total', { alg: 'sip' }), 1);
  assert.equal(v('masq_alg_messages_unparsed_total', { alg: 'sip' }), 0);
  assert.equal(v('masq_alg_pinholes_opened_total', { alg: 'sip' }), 2, 'RTP and RTCP');
  assert.equal(v('masq_nat_expectations_opened_total'), 2);
  assert.equal(v('masq_nat_expectations_used_total'), 1, 'the RTP pinhole admitted one flow');

  const drops = m.filter((s) => s.name === 'masq_nat_dropped_packets_total' && s.value > 0);
  assert.deepEqual(drops.map((d) => [d.labels.reason, d.value]), [['noMapping', 1]], 'the unsolicited datagram, and nothing else');

  // The JSON summary and the metrics tell the same story.
  const summary = JSON.parse(r.stdout) as { packetsIn: number; dropped: number; flows: number; algs: { sip: Record<string, number> } };
  assert.equal(summary.packetsIn, packets.length);
  assert.equal(summary.dropped, 1);
  assert.equal(summary.algs.sip.expectationsOpened, 2);
});

const SHARED_SIP = join(root, '..', 'shared', 'captures', 'sip.pcap');

test('pcap translate --metrics-out on a shared SIP capture agrees with the JSON summary', { skip: existsSync(SHARED_SIP) ? false : `no ${SHARED_SIP}` }, () => {
  const r = translate(SHARED_SIP, ['--inside', '10.0.0.0/8,192.168.0.0/16,172.16.0.0/12', '--public', '203.0.113.1', '--alg', 'sip', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const m = parseMetrics(r.metrics);
  const v = (name: string, labels: Record<string, string> = {}) => metricValue(m, name, labels);
  const s = JSON.parse(r.stdout) as {
    packetsIn: number;
    packetsOut: number;
    dropped: number;
    flows: number;
    expectations: number;
    counters: { packetsOut: number; packetsIn: number; drops: Record<string, number> };
    algs: { sip: Record<string, number> };
  };
  assert.equal(v('masq_nat_packets_total', { direction: 'outbound' }), s.counters.packetsOut);
  assert.equal(v('masq_nat_packets_total', { direction: 'inbound' }), s.counters.packetsIn);
  const flows = m.filter((x) => x.name === 'masq_nat_flows').reduce((a, x) => a + x.value, 0);
  assert.equal(flows, s.flows);
  assert.equal(v('masq_alg_messages_total', { alg: 'sip' }), s.algs.sip.messages);
  assert.ok(s.algs.sip.messages > 0, 'the capture holds SIP the ALG saw');
  assert.equal(v('masq_alg_messages_rewritten_total', { alg: 'sip' }), s.algs.sip.rewritten);
  assert.equal(v('masq_alg_pinholes_opened_total', { alg: 'sip' }), s.algs.sip.expectationsOpened);
  for (const [reason, n] of Object.entries(s.counters.drops)) assert.equal(v('masq_nat_dropped_packets_total', { reason }), n, reason);
});

test('pcap translate --metrics-out to a directory that does not exist: one line naming it, exit 2 as for the output capture', () => {
  const file = join(dir, 'known.pcap');
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'pcap', 'translate', file, join(dir, 'out2.pcap'), '--inside', '192.168.1.0/24', '--public', '203.0.113.1', '--metrics-out', join(dir, 'missing', 'm.prom')], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /cannot write .*missing\/m\.prom/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
});
