/**
 * The rtpengine ng command handler (src/sipproxy/ng/handler.ts, as the UDP
 * server calls it) driving a media relay on in-memory sockets, with state
 * across inputs (calls offered, answered, deleted; the retransmission cache,
 * kept small so that it evicts): nothing escapes; every reply goes to the
 * request's own source, carries its cookie, is a bencoded dictionary with a
 * result, and fits in a UDP datagram; the cache stays within its size.
 */
import { MediaRelay } from '../../../src/sipproxy/media/relay.js';
import { bdecode, text } from '../../../src/sipproxy/ng/bencode.js';
import { NgHandler } from '../../../src/sipproxy/ng/handler.js';
import { FakeRelayNet, ManualScheduler } from '../../../test/sipproxy/fixtures/fake-relay-net.js';
import { defineFuzzTarget, invariant, latin1Text } from '../target.js';
import { hashBytes, Rng } from '../rng.js';
import { NG_DICTIONARY, ngGenerator, ngSeeds } from '../lib/ng-seeds.js';

const SOURCES: Array<[string, number]> = [['127.0.0.1', 40000], ['127.0.0.1', 40001], ['10.0.0.9', 22222]];
const CACHE_SIZE = 32;
/** The largest UDP payload over IPv4. */
const MAX_DATAGRAM = 65_507;

interface State {
  scheduler: ManualScheduler;
  handler: NgHandler;
  sent: Array<{ reply: Uint8Array; port: number; address: string }>;
}

function createState(): State {
  const scheduler = new ManualScheduler();
  const rng = new Rng(17);
  const relay = new MediaRelay({
    address: '198.51.100.10',
    ports: { min: 30000, max: 30039 },
    latch: 'signalling-address',
    removeIce: true,
    timeouts: { mediaMs: 60_000, heldMs: 600_000, offerMs: 30_000, maxCallMs: 3600_000 },
    binder: new FakeRelayNet(),
    scheduler,
    random: () => rng.u32() / 0x1_0000_0000,
  });
  const sent: State['sent'] = [];
  const handler = new NgHandler({ relay, now: () => scheduler.now(), cacheMs: 10_000, cacheSize: CACHE_SIZE }, (reply, port, address) => sent.push({ reply, port, address }));
  return { scheduler, handler, sent };
}

export default defineFuzzTarget<State>({
  name: 'ng-server',
  description: 'rtpengine ng command handler on a relay (offer, answer, query, delete, list; retransmission cache): replies only to the source, with its cookie, a dictionary, within a datagram',
  seeds: ngSeeds,
  dictionary: NG_DICTIONARY,
  generator: ngGenerator,
  maxLength: 4096,
  createState,
  resetEvery: 500,
  ciCount: 1000,
  async run(b, s) {
    const h = hashBytes(b);
    const [address, port] = SOURCES[h % SOURCES.length];
    s.scheduler.advance((h >>> 8) % 4000);
    s.sent.length = 0;
    await s.handler.handle(b, address, port);
    invariant(s.sent.length <= 1, () => `${s.sent.length} replies to one datagram`);
    invariant(s.handler.cached <= CACHE_SIZE, () => `${s.handler.cached} replies cached (at most ${CACHE_SIZE})`);
    for (const r of s.sent) {
      invariant(r.address === address && r.port === port, () => `a reply to ${r.address}:${r.port}, not the source ${address}:${port}`);
      invariant(r.reply.length <= MAX_DATAGRAM, () => `a ${r.reply.length}-byte reply`);
      const sp = r.reply.indexOf(0x20);
      invariant(sp > 0 && latin1Text(r.reply.subarray(0, sp + 1)) === latin1Text(b.subarray(0, sp + 1)), 'a reply without the request\'s cookie');
      const body = bdecode(r.reply, sp + 1);
      invariant(body.ok && body.end === r.reply.length && body.value instanceof Map, 'a reply that is not one bencoded dictionary');
      const result = text(body.value.get('result'));
      invariant(result === 'ok' || result === 'pong' || result === 'error', () => `a reply with result ${result}`);
    }
  },
});
