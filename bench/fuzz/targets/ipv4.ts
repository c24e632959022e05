/** IPv4 through the NAT engine, from both sides: header fields, options, fragments, other protocols, every transport. */
import { defineFuzzTarget } from '../target.js';
import { fuzzEngine } from '../lib/engine-state.js';
import { runPacket, type PacketState } from '../lib/packet-run.js';
import { capturePacketSeeds, ipv4Seeds } from '../lib/packet-seeds.js';
import { packetGenerator } from '../lib/packet-generators.js';

export default defineFuzzTarget<PacketState>({
  name: 'ipv4',
  description: 'IPv4 packets (options, fragments, any protocol) through NatEngine.process from both sides, with the malformed policy "pass"',
  seeds: () => [...ipv4Seeds(), ...capturePacketSeeds((p) => p.length >= 20 && p[0] >> 4 === 4, 16)],
  generator: packetGenerator('any'),
  maxLength: 2100,
  // Malformed packets pass by policy here, so the pass path is fuzzed too (the other targets drop them).
  createState: () => ({ ...fuzzEngine({ malformed: 'pass', mapping: 'address-and-port-dependent', filtering: 'endpoint-independent', ports: { allocation: 'random' } }), last: null }),
  resetEvery: 64,
  run: runPacket,
});
