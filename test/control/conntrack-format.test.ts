import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatExpectation, formatFlow, sortFlows } from '../../src/control/conntrack-format.js';
import { expectationToJson, flowToJson, type FlowJson } from '../../src/control/status-model.js';
import { NatEngine, Side } from '../../src/nat/engine.js';
import { ManualClock } from '../../src/util/clock.js';
import { parseIpv4 } from '../../src/wire/address.js';
import { buildUdpPacket } from '../../src/wire/udp.js';
import { buildTcpPacket } from '../../src/wire/tcp.js';

const base: FlowJson = {
  id: 1,
  proto: 'udp',
  protoNumber: 17,
  tcpState: null,
  origin: 'outbound',
  replied: true,
  inside: { address: '10.0.1.2', port: 5000 },
  public: { address: '203.0.113.1', port: 5000 },
  remote: { address: '198.51.100.10', port: 3478 },
  timeoutSeconds: 299.4,
  ageSeconds: 1,
  packets: { out: 3, in: 2 },
  bytes: { out: 180, in: 120 },
  helper: null,
  offloaded: false,
};

describe('conntrack -L style lines', () => {
  test('an outbound UDP flow with replies', () => {
    assert.equal(
      formatFlow(base),
      'udp      17 300 src=10.0.1.2 dst=198.51.100.10 sport=5000 dport=3478 packets=3 bytes=180 ' +
        'src=198.51.100.10 dst=203.0.113.1 sport=3478 dport=5000 packets=2 bytes=120 [ASSURED] mark=0 use=1',
    );
  });

  test('a flow the kernel carries is marked [OFFLOAD] after [ASSURED], as conntrack marks its flowtable flows', () => {
    assert.match(formatFlow({ ...base, offloaded: true }), /bytes=120 \[ASSURED\] \[OFFLOAD\] mark=0 use=1$/);
  });

  test('unreplied: the flag sits after the original tuple, as conntrack prints it', () => {
    const line = formatFlow({ ...base, replied: false, packets: { out: 1, in: 0 }, bytes: { out: 60, in: 0 } });
    assert.match(line, /bytes=60 \[UNREPLIED\] src=198\.51\.100\.10/);
    assert.ok(!line.includes('ASSURED'));
  });

  test('TCP shows its state; a forwarded flow starts from the remote and is marked', () => {
    const line = formatFlow({
      ...base,
      proto: 'tcp',
      protoNumber: 6,
      tcpState: 'ESTABLISHED',
      origin: 'forward',
      inside: { address: '10.0.1.2', port: 8000 },
      public: { address: '203.0.113.1', port: 8080 },
      remote: { address: '198.51.100.10', port: 41000 },
      timeoutSeconds: 7440,
      helper: 'sip',
    });
    assert.equal(
      line,
      'tcp      6 7440 ESTABLISHED src=198.51.100.10 dst=203.0.113.1 sport=41000 dport=8080 packets=2 bytes=120 ' +
        'src=10.0.1.2 dst=198.51.100.10 sport=8000 dport=41000 packets=3 bytes=180 [ASSURED] [FORWARD] mark=0 helper=sip use=1',
    );
  });

  test('ICMP echo: type, code and identifier instead of ports', () => {
    const line = formatFlow({ ...base, proto: 'icmp', protoNumber: 1, inside: { address: '10.0.1.2', port: 77 }, public: { address: '203.0.113.1', port: 1077 }, remote: { address: '198.51.100.10', port: 0 } });
    assert.match(line, /^icmp     1 300 src=10\.0\.1\.2 dst=198\.51\.100\.10 type=8 code=0 id=77 .* src=198\.51\.100\.10 dst=203\.0\.113\.1 type=0 code=0 id=1077 /);
    // The kernel never marks an ICMP echo [ASSURED], replied or not.
    assert.ok(line.endsWith('packets=2 bytes=120 mark=0 use=1'), line);
  });

  test('sorted by protocol, then inside address numerically', () => {
    const flows = [
      { ...base, inside: { address: '10.0.1.10', port: 1 } },
      { ...base, proto: 'tcp', inside: { address: '10.0.1.9', port: 1 } },
      { ...base, inside: { address: '10.0.1.9', port: 2 } },
    ];
    assert.deepEqual(
      sortFlows(flows).map((f) => `${f.proto} ${f.inside.address}:${f.inside.port}`),
      ['tcp 10.0.1.9:1', 'udp 10.0.1.9:2', 'udp 10.0.1.10:1'],
    );
  });
});

describe('status JSON from a live engine', () => {
  test('flows: addresses as text, origin, state, counters and time left', () => {
    const clock = new ManualClock(10_000);
    const engine = new NatEngine({ inside: ['10.0.1.0/24'], public: ['203.0.113.1'] }, { clock });
    const out = buildUdpPacket({ src: parseIpv4('10.0.1.2'), dst: parseIpv4('198.51.100.10'), srcPort: 5000, dstPort: 3478, payload: new Uint8Array(10) });
    engine.process(out, Side.Inside);
    const syn = buildTcpPacket({ src: parseIpv4('10.0.1.2'), dst: parseIpv4('198.51.100.10'), srcPort: 40000, dstPort: 80, seq: 1, ack: 0, flags: 0x02, window: 100, payload: new Uint8Array(0) });
    engine.process(syn, Side.Inside);
    clock.advance(2500);
    const flows = engine.listFlows().map((f) => flowToJson(f, clock.now()));
    const udp = flows.find((f) => f.proto === 'udp')!;
    assert.deepEqual(
      { ...udp, id: 0 },
      {
        id: 0,
        proto: 'udp',
        protoNumber: 17,
        tcpState: null,
        origin: 'outbound',
        replied: false,
        inside: { address: '10.0.1.2', port: 5000 },
        public: { address: '203.0.113.1', port: 5000 },
        remote: { address: '198.51.100.10', port: 3478 },
        timeoutSeconds: 297.5,
        ageSeconds: 2.5,
        packets: { out: 1, in: 0 },
        bytes: { out: 38, in: 0 },
        helper: null,
        offloaded: false,
      },
    );
    assert.equal(flows.find((f) => f.proto === 'tcp')!.tcpState, 'SYN_SENT');
  });

  test('expectations: as conntrack -L expect prints them, a wildcard port as 0 with its mask 0', () => {
    const clock = new ManualClock(0);
    const engine = new NatEngine({ inside: ['10.0.1.0/24'], public: ['203.0.113.1'] }, { clock });
    const e = engine.expect({ proto: 17, insideAddr: parseIpv4('10.0.1.2'), insidePort: 4000, remoteAddr: parseIpv4('198.51.100.10'), remotePort: 0, ttlMs: 60_000, singleUse: false, group: 'call-1', helper: 'sip', reason: 'SDP m=audio' });
    assert.ok(typeof e === 'object');
    const json = expectationToJson(e, 1000);
    assert.deepEqual(json.remote, { address: '198.51.100.10', port: 0 });
    assert.equal(json.timeoutSeconds, 59);
    assert.equal(
      formatExpectation(json),
      `59 proto=17 src=198.51.100.10 dst=203.0.113.1 sport=0 dport=${json.public.port} mask-src=255.255.255.255 mask-dst=255.255.255.255 sport=0 dport=65535 class=data helper=sip to=10.0.1.2:4000 group=call-1 reason="SDP m=audio"`,
    );
  });
});
