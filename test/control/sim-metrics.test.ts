/**
 * The gateway's metrics after known traffic through the simulator: a NAT box
 * with the SIP ALG (the engine `masq gateway` runs), a phone behind it that
 * registers, calls a phone on the internet through a proxy, exchanges RTP and
 * hangs up, plus a ping and a UDP exchange. gatewayMetricsText reads the
 * box's engine and ALGs as /metrics would; names and exact values checked.
 *
 * Through the NAT, from the phone (alice, 192.168.1.20):
 *   out: REGISTER, INVITE, ACK, BYE (4 SIP), 40 RTP to bob
 *   in:  200 to REGISTER, 200 to INVITE, 200 to BYE (3 SIP), 25 RTP from bob
 * and from the laptop (192.168.1.10): one ping (request out, reply in) and
 * three UDP datagrams to an echo server, three answers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Simulator } from '../../src/dataplane/sim/index.js';
import { SimPhone, SimProxy } from '../../src/lab/sip-sim.js';
import { gatewayMetricsText } from '../../src/control/metrics/gateway-metrics.js';
import { metricValue, parseMetrics } from './prometheus-text.js';

test('metrics after a SIP call, a ping and a UDP exchange through the simulated gateway', async () => {
  const sim = new Simulator({ seed: 7 });
  const internet = sim.segment('internet', { delayMs: 10 });
  const lan = sim.segment('lan', { delayMs: 1 });
  const gw = sim.nat('gw', {
    inside: [lan, '192.168.1.1/24'],
    outside: [internet, '203.0.113.1/24'],
    config: { mapping: 'eim', filtering: 'apdf', ports: { allocation: 'preserve' } },
    // Bob's media may start before his answer reaches alice's gateway: admit it from any address, so every packet counts.
    algs: [{ name: 'sip', options: { media: 'any' } }],
  });
  const laptop = sim.host('laptop', lan, '192.168.1.10/24', '192.168.1.1');
  const phone = sim.host('phone', lan, '192.168.1.20/24', '192.168.1.1');
  const proxyHost = sim.host('proxy', internet, '198.51.100.20/24');
  const bobHost = sim.host('bob', internet, '198.51.100.30/24');
  const echoHost = sim.host('echo', internet, '198.51.100.40/24');

  new SimProxy(proxyHost, 'example.test');
  const proxy = { address: '198.51.100.20', port: 5060 };
  const alice = new SimPhone(phone, 'alice', proxy, 'example.test');
  const bob = new SimPhone(bobHost, 'bob', proxy, 'example.test');
  bob.answerPackets = 25;
  await sim.complete(bob.register(), 5000);
  await sim.complete(alice.register(), 5000);
  const call = await sim.complete(alice.call('bob', 40), 10_000);
  assert.equal(call.status, 200);
  await sim.run(3000);
  assert.deepEqual([alice.rtpReceived, bob.rtpReceived], [25, 40], 'every RTP packet arrived');
  const pinholesDuringCall = gw.engine.listExpectations().filter((e) => e.helper === 'sip' && e.group.startsWith('sip:')).length;
  await sim.complete(alice.hangup()!, 5000);

  assert.notEqual(await sim.complete(laptop.ping('198.51.100.40'), 5000), null);
  const echo = echoHost.bindUdp({ port: 7 });
  echo.onMessage((d, from) => echo.send(d, from));
  const client = laptop.bindUdp({ port: 4000 });
  let answers = 0;
  client.onMessage(() => answers++);
  for (let i = 0; i < 3; i++) client.send(new Uint8Array(100), { address: '198.51.100.40', port: 7 });
  await sim.run(1000);
  assert.equal(answers, 3);

  const m = parseMetrics(await gatewayMetricsText({ engine: gw.engine, algs: () => gw.algs }));
  const v = (name: string, labels: Record<string, string> = {}) => metricValue(m, name, labels);
  assert.equal(v('masq_nat_packets_total', { direction: 'outbound' }), 4 + 40 + 1 + 3);
  assert.equal(v('masq_nat_packets_total', { direction: 'inbound' }), 3 + 25 + 1 + 3);
  // alice's SIP flow; the RTP flow, one for both ways (bob's first packet opened it through the pinhole, alice's went out on it); the echo exchange.
  assert.equal(v('masq_nat_flows', { protocol: 'udp', state: 'ASSURED' }), 3);
  assert.equal(v('masq_nat_flows', { protocol: 'icmp', state: 'ASSURED' }), 1);
  assert.equal(v('masq_nat_flows_created_total'), 4);
  // One per inside endpoint: alice's SIP and RTP ports, the laptop's ping identifier and its UDP port.
  assert.equal(v('masq_nat_mappings'), 4);
  assert.equal(v('masq_nat_hosts'), 2);
  // Every SIP message crossed the gateway and was rewritten (Via, Contact, SDP out; Via back in).
  assert.equal(v('masq_alg_messages_total', { alg: 'sip' }), 7);
  assert.equal(v('masq_alg_messages_rewritten_total', { alg: 'sip' }), 7);
  assert.equal(v('masq_alg_messages_unparsed_total', { alg: 'sip' }), 0);
  // The registration's pinhole, and the call's RTP and RTCP.
  assert.equal(v('masq_alg_pinholes_opened_total', { alg: 'sip' }), 3);
  assert.equal(v('masq_nat_expectations_opened_total'), 3);
  assert.equal(pinholesDuringCall, 2);
  assert.equal(v('masq_nat_expectations_used_total'), 1, 'bob\'s RTP came in on the RTP pinhole');
  // After the BYE only the registration's pinhole stays.
  assert.equal(v('masq_nat_expectations', { alg: 'sip', class: 'signalling' }), 1);
  assert.equal(m.filter((x) => x.name === 'masq_nat_expectations').length, 1);
  assert.equal(v('masq_alg_events_total', { alg: 'sip', counter: 'callsStarted' }), 1);
  assert.equal(v('masq_alg_events_total', { alg: 'sip', counter: 'callsEnded' }), 1);
  assert.equal(v('masq_alg_events_total', { alg: 'sip', counter: 'registrationsOpened' }), 1);
  assert.equal(v('masq_alg_active', { alg: 'sip', counter: 'registrationsActive' }), 1);
  assert.equal(m.filter((x) => x.name === 'masq_nat_dropped_packets_total' && x.value > 0).length, 0, 'nothing dropped');
});
