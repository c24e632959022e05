/**
 * The relay's packet handler, on fake sockets with a hand-moved clock, small
 * limits, a keyed session and open mode: nothing escapes, and no address that
 * never proved it receives gets more bytes than it sent (forged-source binds).
 */
import { RelayServer } from '../../../src/relay/relay-server.js';
import { SessionKeys } from '../../../src/rendezvous/protocol/keys.js';
import { defineFuzzTarget } from '../target.js';
import { FakeNet, settle } from '../lib/fake-net.js';
import { assertNoAmplification, COOKIE_SECRET, daemonState, prepare, type DaemonState } from '../lib/daemon-input.js';
import { EPOCH, KEYED, RENDEZVOUS_DICTIONARY, rendezvousSeeds, SECRET } from '../lib/rendezvous-seeds.js';
import { withControl } from '../lib/packet-run.js';

const LISTEN = { address: '198.51.100.10', port: 7100 };

interface State extends DaemonState {
  relay: RelayServer | null;
}

export default defineFuzzTarget<State>({
  name: 'relay-server',
  description: 'RelayServer packet handling (binds with cookies, relay-send, limits, expiry): no exception, no amplification',
  seeds: () => rendezvousSeeds().flatMap((p) => [withControl(0, p), withControl(4, p), withControl(1 | 4, p), withControl(2 | 8, p)]),
  dictionary: RENDEZVOUS_DICTIONARY,
  maxLength: 1500,
  createState: () => ({ ...daemonState(new FakeNet(EPOCH)), relay: null }),
  resetEvery: 200,
  ciCount: 1500,
  async run(input, s) {
    s.relay ??= await RelayServer.start(s.net, {
      listen: LISTEN,
      keys: new SessionKeys({ secrets: { [KEYED]: SECRET }, open: true }),
      maxBindings: 6,
      maxOpenBindings: 3,
      maxBindingsPerSession: 3,
      maxBindingsPerAddress: 2,
      cookieSecret: COOKIE_SECRET,
      bytesPerSecond: 2000,
      log: () => {},
    });
    const { from, data } = prepare(input, s);
    s.net.deliver(LISTEN, data, from);
    await settle();
    assertNoAmplification(s);
  },
});
