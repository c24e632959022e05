/** IPv6 through the wire parser (extension header walk) and the engine (passed untranslated, counted). */
import { defineFuzzTarget } from '../target.js';
import { fuzzEngine } from '../lib/engine-state.js';
import { runPacket, type PacketState } from '../lib/packet-run.js';
import { capturePacketSeeds, ipv6Seeds } from '../lib/packet-seeds.js';

export default defineFuzzTarget<PacketState>({
  name: 'ipv6',
  description: 'IPv6 packets (extension headers, fragments) through parseIpv6 and NatEngine.process from both sides',
  seeds: () => [...ipv6Seeds(), ...capturePacketSeeds((p) => p.length >= 40 && p[0] >> 4 === 6, 64)],
  dictionary: ['\x00', '\x2b', '\x2c', '\x33', '\x3b', '\x3c', '\x87', '\x11', '\x06', '\x3a'],
  maxLength: 2100,
  createState: () => ({ ...fuzzEngine(), last: null }),
  resetEvery: 64,
  run: runPacket,
});
