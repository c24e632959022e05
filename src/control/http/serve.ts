/**
 * One HTTP listener for a daemon's operations endpoints (status, metrics,
 * dashboard): a hono app on Node's http server. Loopback by default; a
 * listener on any other address must have a token (auth.ts), which the
 * configuration checks.
 */
import { createAdaptorServer } from '@hono/node-server';
import type { Server } from 'node:http';
import type { Hono } from 'hono';
import { tryParseIpv4 } from '../../wire/address.js';

export class ListenError extends Error {
  override name = 'ListenError';
}

/** "127.0.0.1:8787", "[::1]:8787", "localhost:0" -> host and port. */
export function parseListen(listen: string, what = 'listen address'): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(listen);
  if (!m) throw new ListenError(`${what} ${JSON.stringify(listen)} is not HOST:PORT`);
  const port = Number(m[3]);
  if (port > 65535) throw new ListenError(`${what} port ${port} is out of range`);
  return { host: m[1] ?? m[2], port };
}

/** 127.0.0.0/8, ::1 and localhost: reachable from this host only. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  return h === '::1' || h === 'localhost' || (tryParseIpv4(h) ?? 0) >>> 24 === 127;
}

export interface HttpListener {
  /** Base URL, e.g. http://127.0.0.1:8787 */
  readonly url: string;
  close(): Promise<void>;
}

/** Serves `app` on `listen`; rejects with a ListenError naming the address and the reason (EADDRINUSE, EACCES). */
export async function listenHttp(listen: string, app: Hono, what = 'status endpoint'): Promise<HttpListener> {
  const { host, port } = parseListen(listen, `${what} listen address`);
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new ListenError(`${what} cannot listen on ${listen}: ${err.code ?? err.message}`)));
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  const bound = typeof address === 'object' && address !== null ? address.port : port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${bound}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        // Event streams and keep-alive connections would hold the close open.
        server.closeAllConnections();
      }),
  };
}
