/**
 * One UDP worker process of a multi-process STUN server: the entry module that
 * udp-worker-pool.ts forks through node:cluster. Nothing imports it.
 *
 * On node:dgram it binds the server's sockets with `exclusive: false`, so
 * cluster hands it the supervisor's sockets, shared with every other worker:
 * the kernel gives each datagram to whichever worker reads it first. On
 * batched sockets it binds its own with SO_REUSEPORT: the kernel spreads the
 * senders over the workers' sockets by address and port. Every worker holds
 * all four RFC 5780 sockets, so it answers a CHANGE-REQUEST from the right one
 * itself.
 */
import { batchedNetEnvWith } from '../../net/batched-udp.js';
import { nodeNetEnvWith } from '../../net/node-udp.js';
import { StunUdpServer } from './udp-server.js';
import { isToWorker, type FromWorker, type ToWorker } from './worker-messages.js';

if (!process.send) throw new Error('udp-worker.ts runs only as a worker forked by udp-worker-pool.ts');

let server: StunUdpServer | undefined;

function tell(m: FromWorker, then?: () => void): void {
  if (!process.connected) return then?.();
  process.send!(m, undefined, {}, () => then?.());
}

async function onMessage(m: ToWorker): Promise<void> {
  if (m.type === 'start') {
    if (server) return;
    try {
      const env = m.udpIo === 'batched' ? batchedNetEnvWith({ ...m.buffers, reusePort: true }) : nodeNetEnvWith({ ...m.buffers, clusterShared: true });
      server = await StunUdpServer.start(env, m.config, {
        // The supervisor chose concrete ports; a retry here would bind somewhere the others are not.
        bindAttempts: 1,
        ...(m.events ? { onEvent: (event) => tell({ type: 'event', event }) } : {}),
      });
      tell({ type: 'ready', addresses: server.addresses });
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      tell({ type: 'failed', error: err.message ?? String(e), ...(err.code ? { code: err.code } : {}) }, () => process.exit(1));
    }
  } else if (m.type === 'counters') {
    if (server) tell({ type: 'counters', id: m.id, counters: { ...server.counters } });
  } else if (m.type === 'stop') {
    const counters = server ? { ...server.counters } : undefined;
    server?.close();
    server = undefined;
    if (counters) tell({ type: 'stopped', counters }, () => process.exit(0));
    else process.exit(0);
  }
}

process.on('message', (m: unknown) => {
  if (isToWorker(m)) void onMessage(m);
});
// Without the supervisor nobody can stop or count this worker: do not keep its sockets.
process.on('disconnect', () => process.exit(0));
// Ctrl-C in a terminal signals the whole process group, and a service manager may
// signal every process of the service: the supervisor stops the workers itself,
// after collecting their counters. (SIGKILL still ends a worker; the supervisor
// then replaces it.)
process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});
tell({ type: 'hello' });
