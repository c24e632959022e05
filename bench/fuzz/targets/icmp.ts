/** ICMP through the NAT engine, from both sides: queries, and errors translated with the packet they quote. */
import { defineFuzzTarget } from '../target.js';
import { fuzzEngine } from '../lib/engine-state.js';
import { runPacket, type PacketState } from '../lib/packet-run.js';
import { capturePacketSeeds, icmpSeeds, isIpv4Proto, udpSeeds } from '../lib/packet-seeds.js';
import { packetGenerator } from '../lib/packet-generators.js';

export default defineFuzzTarget<PacketState>({
  name: 'icmp',
  description: 'ICMP queries and errors (quoting UDP, TCP, ICMP) through NatEngine.process from both sides',
  // A UDP flow first, so errors quoting it have something to match.
  seeds: () => [...udpSeeds().slice(0, 1), ...icmpSeeds(), ...capturePacketSeeds(isIpv4Proto(1))],
  generator: packetGenerator('icmp'),
  maxLength: 2100,
  createState: () => ({ ...fuzzEngine(), last: null }),
  resetEvery: 64,
  run: runPacket,
});
