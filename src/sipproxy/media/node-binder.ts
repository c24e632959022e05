/**
 * Relay ports on real UDP sockets (node:dgram), one socket per port. A
 * socket's buffers are sized for a few hundred packets: RTP arrives in
 * steady streams, and a burst after a pause must not be dropped by the
 * kernel before the relay reads it.
 */
import dgram from 'node:dgram';
import type { RelayPortSocket, RelaySocketBinder } from './endpoint.js';

export function nodeRelayBinder(address: string, bufferBytes = 256 * 1024): RelaySocketBinder {
  const type = address.includes(':') ? 'udp6' : 'udp4';
  return {
    bind(port, onPacket) {
      return new Promise<RelayPortSocket>((resolve, reject) => {
        const sock = dgram.createSocket({ type, recvBufferSize: bufferBytes, sendBufferSize: bufferBytes });
        sock.once('error', reject);
        sock.bind({ port, address, exclusive: true }, () => {
          sock.off('error', reject);
          sock.on('error', () => {});
          sock.on('message', (msg, rinfo) => onPacket(msg, rinfo.address, rinfo.port));
          resolve({
            send(data, to, toPort) {
              sock.send(data, toPort, to);
            },
            close() {
              try {
                sock.close();
              } catch {
                /* already closed */
              }
            },
          });
        });
      });
    },
  };
}
