/**
 * The STUN server's packet handler (StunServerCore, as the UDP and TCP
 * servers call it), with and without RFC 5780: nothing escapes; every answer
 * goes to the request's source address, is STUN, and is no larger than the
 * amplification bound (three times the request, the minimal Binding answer
 * included: docs/security.md, "Reflection and amplification"); the fast path for plain
 * Binding requests answers exactly as the general one.
 */
import { StunServerCore } from '../../../src/stun/server/server-core.js';
import { DEFAULT_AMPLIFICATION_FACTOR, handleStunPacketGeneral, type BindingHandlerConfig, type SocketKey } from '../../../src/stun/server/binding-handler.js';
import { isPlainBindingRequest } from '../../../src/stun/server/plain-binding.js';
import { decodeStunMessage } from '../../../src/stun/message.js';
import { defineFuzzTarget, invariant } from '../target.js';
import { hashBytes } from '../rng.js';
import { STUN_DICTIONARY, stunSeeds } from '../lib/stun-seeds.js';

const primary = { address: '198.51.100.10', port: 3478 };
const alternate = { address: '198.51.100.11', port: 3479 };
const CONFIGS: BindingHandlerConfig[] = [{ addresses: { primary } }, { addresses: { primary, alternate } }, { addresses: { primary, alternate }, software: null }];
const SOCKETS: SocketKey[] = ['PP', 'PA', 'AP', 'AA'];
const FROM = [{ address: '203.0.113.5', port: 40000 }, { address: '2001:db8::5', port: 1 }, { address: '0.0.0.0', port: 0 }];

export default defineFuzzTarget<StunServerCore[]>({
  name: 'stun-server',
  description: 'StunServerCore.handle (plain and RFC 5780, UDP and TCP): answers only to the source, STUN, within the amplification bound',
  seeds: stunSeeds,
  dictionary: STUN_DICTIONARY,
  maxLength: 2048,
  createState: () => CONFIGS.map((c) => new StunServerCore({ ...c, rateLimit: null })),
  resetEvery: 10_000,
  run(b, cores) {
    const h = hashBytes(b);
    const which = h % CONFIGS.length;
    const core = cores[which];
    const config = CONFIGS[which];
    const from = FROM[(h >>> 4) % FROM.length];
    const on = config.addresses.alternate ? SOCKETS[(h >>> 8) & 3] : 'PP';
    const transport = (h >>> 12) & 1 ? 'tcp' : 'udp';
    const replies = core.handle(b, from, on, transport, 0);
    const bound = Math.max(b.length, 20) * (config.amplificationFactor ?? DEFAULT_AMPLIFICATION_FACTOR);
    for (const r of replies) {
      invariant(r.to.address === from.address, () => `an answer to ${r.to.address}, not the source ${from.address}`);
      invariant(r.data.length <= bound, () => `a ${r.data.length}-byte answer to a ${b.length}-byte request (bound ${bound})`);
      const answer = decodeStunMessage(r.data);
      // The bound may trim optional attributes, never the mapped address a success exists to carry.
      if (answer.cls === 'success') invariant(answer.attributes.some((a) => a.type === 'XOR-MAPPED-ADDRESS' || a.type === 'MAPPED-ADDRESS'), 'a success answer without its mapped address');
    }
    if (isPlainBindingRequest(b)) {
      const general = handleStunPacketGeneral(config, b, from, on, transport);
      invariant(general.replies.length === replies.length, 'the plain fast path and the general path answer differently');
      general.replies.forEach((g, i) => invariant(g.data.length === replies[i].data.length && g.data.every((v, k) => v === replies[i].data[k]), 'the plain fast path and the general path give different bytes'));
    }
  },
});
