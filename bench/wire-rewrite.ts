/**
 * The NAT's in-place rewrite of an address and port with every checksum kept
 * right, two ways: src/nat/rewrite.ts's rewriteEndpoint (its own inline code)
 * and the same rewrite composed of the wire setters (setIpv4Address,
 * setUdpEndpoint, setTcpEndpoint, setIcmpId). Both must leave identical bytes
 * (checked on every packet first); then each is timed over the same batch of
 * UDP, TCP and ICMP echo packets, rewriting out and back, in alternating
 * rounds, by this process's CPU time.
 *
 *   node --import tsx bench/wire-rewrite.ts [--runs 7] [--rounds 200]
 */
import assert from 'node:assert/strict';
import { L4, rewriteEndpoint } from '../src/nat/rewrite.js';
import { buildIcmpEcho } from '../src/wire/icmp.js';
import type { Ipv4AddressField } from '../src/wire/ipv4.js';
import * as icmpModule from '../src/wire/icmp.js';
import * as ipv4Module from '../src/wire/ipv4.js';
import { L4Checksum } from '../src/wire/l4-checksum.js';
import { buildTcpPacket } from '../src/wire/tcp.js';
import * as tcpModule from '../src/wire/tcp.js';
import { buildUdpPacket } from '../src/wire/udp.js';
import * as udpModule from '../src/wire/udp.js';
import { argValue, cpuSeconds, fmtRate, jsonOutput, median } from './harness.js';

// As a hot-path user would: local copies of the imported functions.
const { setIpv4Address: setAddress, PROTO_ICMP, PROTO_TCP, PROTO_UDP } = ipv4Module;
const { setUdpEndpoint } = udpModule;
const { setTcpEndpoint } = tcpModule;
const { setIcmpId } = icmpModule;
const NONE = L4Checksum.None;

/** rewriteEndpoint's contract, built from the wire setters. */
function rewriteWithWire(
  b: Uint8Array,
  ip: number,
  l4: number,
  l4Length: number,
  proto: number,
  addrAt: Ipv4AddressField,
  portAt: 0 | 2,
  oldAddr: number,
  newAddr: number,
  newPort: number,
  checksum: L4Checksum,
): void {
  setAddress(b, ip, addrAt, newAddr);
  if (checksum === NONE) return;
  if (proto === PROTO_UDP) setUdpEndpoint(b, l4, portAt, newPort, oldAddr, newAddr, checksum);
  else if (proto === PROTO_TCP) {
    if (l4Length >= 18) setTcpEndpoint(b, l4, portAt, newPort, oldAddr, newAddr, checksum);
    else {
      b[l4 + portAt] = newPort >>> 8;
      b[l4 + portAt + 1] = newPort;
    }
  } else if (proto === PROTO_ICMP) setIcmpId(b, l4, newPort);
}

const COUNT = 1024;
const inside = 0x0a000002;
const pub = 0xcb007101;
const packets: Uint8Array[] = [];
const protos: number[] = [];
const ports: number[] = [];
for (let i = 0; i < COUNT; i++) {
  const remote = 0xc6336400 + (i & 0xff);
  const sport = 20000 + i;
  const payload = new Uint8Array(64 + (i % 7) * 100).fill(i & 0xff);
  const kind = i % 8;
  if (kind < 5) {
    packets.push(buildUdpPacket({ src: inside, dst: remote, srcPort: sport, dstPort: 5060, payload }));
    protos.push(PROTO_UDP);
  } else if (kind < 7) {
    packets.push(buildTcpPacket({ src: inside, dst: remote, srcPort: sport, dstPort: 443, seq: i * 7919, ack: i, flags: 0x10, window: 500, payload }));
    protos.push(PROTO_TCP);
  } else {
    packets.push(buildIcmpEcho(inside, remote, 8, sport, i, payload));
    protos.push(PROTO_ICMP);
  }
  ports.push(sport);
}

type Rewrite = (b: Uint8Array, proto: number, oldAddr: number, newAddr: number, oldPort: number, newPort: number, mode: number) => void;
const viaNat: Rewrite = (b, proto, oldAddr, newAddr, oldPort, newPort, mode) =>
  rewriteEndpoint(b, 0, 20, b.length - 20, proto, 12, 0, oldAddr, newAddr, oldPort, newPort, mode as L4);
const viaWire: Rewrite = (b, proto, oldAddr, newAddr, _oldPort, newPort, mode) =>
  rewriteWithWire(b, 0, 20, b.length - 20, proto, 12, 0, oldAddr, newAddr, newPort, mode as L4Checksum);

// Same bytes, every packet, for full, partial and none.
for (const mode of [L4Checksum.Full, L4Checksum.Partial, L4Checksum.None]) {
  for (let i = 0; i < COUNT; i++) {
    const a = packets[i].slice();
    const b = packets[i].slice();
    viaNat(a, protos[i], inside, pub, ports[i], 40000 + i, mode);
    viaWire(b, protos[i], inside, pub, ports[i], 40000 + i, mode);
    assert.deepEqual(b, a, `packet ${i}, mode ${mode}`);
  }
}

/** CPU seconds for `rounds` passes over the batch, each packet out and back. */
function timeRounds(rewrite: Rewrite, rounds: number): number {
  const t0 = cpuSeconds();
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < COUNT; i++) {
      const b = packets[i];
      const p = protos[i];
      rewrite(b, p, inside, pub, ports[i], 40000 + i, 1);
      rewrite(b, p, pub, inside, 40000 + i, ports[i], 1);
    }
  }
  return cpuSeconds() - t0;
}

const runs = argValue('runs', 7);
const rounds = argValue('rounds', 200);
timeRounds(viaNat, rounds);
timeRounds(viaWire, rounds);
const nat: number[] = [];
const wire: number[] = [];
for (let r = 0; r < runs; r++) {
  // Alternate which goes first, so neither always runs on a warmer cache or a quieter machine.
  if (r % 2 === 0) {
    nat.push(timeRounds(viaNat, rounds));
    wire.push(timeRounds(viaWire, rounds));
  } else {
    wire.push(timeRounds(viaWire, rounds));
    nat.push(timeRounds(viaNat, rounds));
  }
}
const rewrites = rounds * COUNT * 2;
const result = {
  rewritesPerRun: rewrites,
  natRewriteEndpoint: rewrites / median(nat),
  wireSetters: rewrites / median(wire),
  ratio: median(wire) / median(nat),
};
if (jsonOutput) console.log(JSON.stringify(result));
else {
  console.log(`nat/rewrite.ts rewriteEndpoint: ${fmtRate(result.natRewriteEndpoint)} rewrites per CPU-second`);
  console.log(`wire setters:                   ${fmtRate(result.wireSetters)} rewrites per CPU-second`);
  console.log(`time ratio wire / nat: ${result.ratio.toFixed(3)} (median of ${runs} runs of ${rewrites} rewrites)`);
}
