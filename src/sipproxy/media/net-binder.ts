/**
 * Relay ports on the UDP sockets of src/net, one socket per port: the
 * batched sockets (recvmmsg/sendmmsg through the in-repo addon) where they
 * are available, node:dgram otherwise, as `media.udpIo` chooses (the same
 * choice STUN, the rendezvous server and the relay offer). A socket's
 * buffers are sized for a few hundred packets: RTP arrives in steady
 * streams, and a burst after a pause must not be dropped by the kernel
 * before the relay reads it.
 */
import { netEnvFor, type UdpIo } from '../../net/udp-io.js';
import type { RelayPortSocket, RelaySocketBinder } from './endpoint.js';

export function netRelayBinder(address: string, udpIo: UdpIo, bufferBytes = 256 * 1024): RelaySocketBinder {
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
