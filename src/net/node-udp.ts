/** UdpSocket and NetEnv over real sockets (node:dgram). */
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import { systemScheduler } from '../util/clock.js';
import type { Endpoint, NetEnv, UdpBindOptions, UdpSocket } from './udp.js';

export async function bindNodeUdp(options: UdpBindOptions = {}): Promise<UdpSocket> {
  const address = options.address ?? '0.0.0.0';
  const sock = dgram.createSocket({ type: isIPv6(address) ? 'udp6' : 'udp4', reuseAddr: false });
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind({ address, port: options.port ?? 0, exclusive: true }, () => {
      sock.off('error', reject);
      resolve();
    });
  });
  // A send to an unreachable peer surfaces as an 'error' event on some systems;
  // UDP has no connection to fail, so it is not fatal to the socket.
  sock.on('error', () => {});
  const bound = sock.address();
  let handler: (data: Uint8Array, from: Endpoint) => void = () => {};
  sock.on('message', (msg, rinfo) => handler(msg, { address: rinfo.address, port: rinfo.port }));
  return {
    local: { address: bound.address, port: bound.port },
    send(data, to) {
      sock.send(data, to.port, to.address);
    },
    onMessage(h) {
      handler = h;
    },
    close() {
      try {
        sock.close();
      } catch {
        /* already closed */
      }
    },
  };
}

export const nodeNetEnv: NetEnv = {
  scheduler: systemScheduler,
  bindUdp: bindNodeUdp,
  random: Math.random,
};
