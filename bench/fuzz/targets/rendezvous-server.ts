/**
 * The rendezvous server's packet handler, on a network of fake sockets with a
 * hand-moved clock (retransmissions and sweeps run as time passes), small
 * limits, a keyed session and open mode: nothing escapes the handler or
 * rejects later, and no address that never proved it receives gets more
 * bytes than it sent (the join reflection of issue 17).
 */
import { RendezvousServer } from '../../../src/rendezvous/server/server.js';
import { SessionKeys } from '../../../src/rendezvous/protocol/keys.js';
import { defineFuzzTarget } from '../target.js';
import { FakeNet, settle } from '../lib/fake-net.js';
import { assertNoAmplification, COOKIE_SECRET, daemonState, prepare, type DaemonState } from '../lib/daemon-input.js';
import { EPOCH, KEYED, RENDEZVOUS_DICTIONARY, rendezvousSeeds, SECRET } from '../lib/rendezvous-seeds.js';
import { withControl } from '../lib/packet-run.js';

const LISTEN = { address: '198.51.100.10', port: 7000 };
const OBSERVE = { address: '198.51.100.10', port: 7001 };

interface State extends DaemonState {
  server: RendezvousServer | null;
}

export default defineFuzzTarget<State>({
  name: 'rendezvous-server',
  description: 'RendezvousServer packet handling (keyed and open sessions, cookies, limits, retransmissions): no exception, no amplification',
  seeds: () => rendezvousSeeds().flatMap((p) => [withControl(0, p), withControl(4, p), withControl(1 | 4, p), withControl(8 | 0x40, p)]),
  dictionary: RENDEZVOUS_DICTIONARY,
  maxLength: 1500,
  createState: () => ({ ...daemonState(new FakeNet(EPOCH)), server: null }),
  resetEvery: 200,
  ciCount: 1500,
  async run(input, s) {
    s.server ??= await RendezvousServer.start(s.net, {
      listen: LISTEN,
      observe: OBSERVE,
      keys: new SessionKeys({ secrets: { [KEYED]: SECRET }, open: true }),
      relay: { address: '198.51.100.10', port: 7100 },
      maxPeersPerSession: 4,
      maxSessions: 8,
      maxOpenSessions: 4,
      maxPeersPerAddress: 3,
      joinsPerSecond: 5,
      replayCapacity: 64,
      cookieSecret: COOKIE_SECRET,
      log: () => {},
    });
    const { from, data, second } = prepare(input, s);
    s.net.deliver(second ? OBSERVE : LISTEN, data, from);
    await settle();
    assertNoAmplification(s);
  },
});
