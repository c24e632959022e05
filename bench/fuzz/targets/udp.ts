/** UDP through the NAT engine, from both sides: new flows, replies, forwards, hairpins, fragments, ICMP errors about UDP. */
import { defineFuzzTarget } from '../target.js';
import { fuzzEngine } from '../lib/engine-state.js';
import { runPacket, type PacketState } from '../lib/packet-run.js';
import { capturePacketSeeds, isIpv4Proto, udpSeeds } from '../lib/packet-seeds.js';
import { packetGenerator } from '../lib/packet-generators.js';

export default defineFuzzTarget<PacketState>({
  name: 'udp',
  description: 'UDP packets through NatEngine.process from both sides (wire parsers, checksums kept)',
  seeds: () => [...udpSeeds(), ...capturePacketSeeds(isIpv4Proto(17))],
  generator: packetGenerator('udp'),
  maxLength: 2100,
  createState: () => ({ ...fuzzEngine(), last: null }),
  resetEvery: 64,
  run: runPacket,
});
