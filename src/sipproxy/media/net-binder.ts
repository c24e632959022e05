/**
 * Relay ports on the UDP sockets of src/net, as `media.udpIo` chooses (the
 * same choice STUN, the rendezvous server and the relay offer): node:dgram,
 * a socket per port; or the in-repo addon. With the addon every port is by
 * default a member of one socket set (`media.relaySockets: set`): a wake of
 * the event loop reads every port that has a packet and crosses into
 * JavaScript once for all of them, which is what a relay needs, where each
 * port carries one packet every 20 ms and a socket of its own (`per-port`)
 * costs a wake and a crossing per packet (docs/benchmarks.md has the
 * figures). A socket's buffers are
 * sized for a few hundred packets: RTP arrives in steady streams, and a burst
 * after a pause must not be dropped by the kernel before the relay reads it.
 */
import { netEnvFor, resolveUdpIo, type UdpIo } from '../../net/udp-io.js';
import { UdpSocketSet } from '../../net/udp-set.js';
import type { RelayPortSocket, RelaySocketBinder } from './endpoint.js';

export type RelaySockets = 'set' | 'per-port';

export function netRelayBinder(address: string, udpIo: UdpIo, bufferBytes = 256 * 1024, sockets: RelaySockets = 'set'): RelaySocketBinder {
  if (sockets === 'set' && resolveUdpIo(udpIo) === 'batched') return setRelayBinder(address, bufferBytes);
  const env = netEnvFor(udpIo, { recvBufferSize: bufferBytes, sendBufferSize: bufferBytes });
  return {
    async bind(port, onPacket) {
      const sock = await env.bindUdp({ address, port });
      sock.onMessage((data, from) => onPacket(data, from.address, from.port));
      let open = true;
      return {
        send(data, to, toPort) {
          if (open) sock.send(data, { address: to, port: toPort });
        },
        close() {
          if (!open) return;
          open = false;
          sock.close();
        },
      };
    },
  };
}

/** Every relay port a member of one socket set (made on the first bind). */
export function setRelayBinder(address: string, bufferBytes = 256 * 1024): RelaySocketBinder & { set(): UdpSocketSet | null } {
  let set: UdpSocketSet | null = null;
  return {
    set: () => set,
    counters: () => set?.counters ?? null,
    async bind(port, onPacket) {
      set ??= UdpSocketSet.open();
      const sock = set.bind({ address, port, recvBufferSize: bufferBytes, sendBufferSize: bufferBytes });
      // The relay forwards (copies into the send queue) before it returns: no copy of its own is needed.
      sock.onDatagram(onPacket);
      let open = true;
      return {
        send(data, to, toPort) {
          if (open) sock.sendTo(data, to, toPort);
        },
        close() {
          if (!open) return;
          open = false;
          sock.close();
        },
      };
    },
  };
}
