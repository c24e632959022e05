/**
 * The proxy's status endpoint: HTTP on a loopback address, JSON, read-only.
 *
 *   GET /calls      live calls with their relay ports, latched sources, packets, user space or kernel
 *   GET /counters   proxy, transport, relay, ng and nftables counters
 *   GET /pinholes   the relay ports the nftables table admits now
 */
import { createServer, type Server } from 'node:http';
import { parseListen } from '../../control/status-server.js';

export interface StatusRoutes {
  [path: string]: () => unknown;
}

export interface RunningStatus {
  url: string;
  close(): Promise<void>;
}

export async function startStatus(listen: string, routes: StatusRoutes): Promise<RunningStatus> {
  const { host, port } = parseListen(listen);
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const route = req.method === 'GET' ? routes[path] : undefined;
    if (!route) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'not found', endpoints: Object.keys(routes) }));
      return;
    }
    try {
      const body = JSON.stringify(route());
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
    } catch (err) {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: (err as Error).message }));
    }
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const a = server.address();
  const bound = typeof a === 'object' && a ? a.port : port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
