/** TCP through the NAT engine, from both sides: handshakes, state changes, held SYNs, forwards, a trigger, options. */
import { defineFuzzTarget } from '../target.js';
import { fuzzEngine } from '../lib/engine-state.js';
import { runPacket, type PacketState } from '../lib/packet-run.js';
import { capturePacketSeeds, IS_TCP, tcpSeeds } from '../lib/packet-seeds.js';
import { packetGenerator } from '../lib/packet-generators.js';

export default defineFuzzTarget<PacketState>({
  name: 'tcp',
  description: 'TCP segments through NatEngine.process from both sides (state tracking, SYN hold, forwards, triggers)',
  seeds: () => [...tcpSeeds(), ...capturePacketSeeds(IS_TCP)],
  generator: packetGenerator('tcp'),
  maxLength: 2100,
  createState: () => ({ ...fuzzEngine(), last: null }),
  resetEvery: 64,
  run: runPacket,
});
