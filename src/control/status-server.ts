/**
 * The gateway's local status endpoint: HTTP on a loopback address, JSON only,
 * read-only. `masq conntrack` and people with curl read it.
 *
 *   GET /              the list of endpoints
 *   GET /status        uptime, configuration summary, table sizes
 *   GET /flows?limit=N live flows (default limit 10000)
 *   GET /expectations  pinholes opened by ALGs
 *   GET /counters      engine, dataplane loop and TUN counters
 *   GET /portmappings  port mappings inside hosts made (PCP, NAT-PMP, UPnP IGD)
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { ExpectationsResponse, FlowsResponse, PortMappingsResponse } from './status-model.js';

export interface StatusSource {
  status(): unknown;
  flows(limit: number): FlowsResponse;
  expectations(): ExpectationsResponse;
  counters(): unknown;
  /** Port mappings (PCP, NAT-PMP, UPnP); absent for sources that have none. */
  portMappings?(): PortMappingsResponse;
}

export interface StatusServer {
  /** Base URL, e.g. http://127.0.0.1:8787 */
  readonly url: string;
  close(): Promise<void>;
}

const DEFAULT_FLOW_LIMIT = 10_000;
const MAX_FLOW_LIMIT = 1_000_000;

export class StatusListenError extends Error {
  override name = 'StatusListenError';
}

/** "127.0.0.1:8787", "[::1]:8787", "localhost:0" -> host and port. */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(listen);
  if (!m) throw new StatusListenError(`status listen address ${JSON.stringify(listen)} is not HOST:PORT`);
  const port = Number(m[3]);
  if (port > 65535) throw new StatusListenError(`status listen port ${port} is out of range`);
  return { host: m[1] ?? m[2], port };
}

export async function startStatusServer(listen: string, source: StatusSource): Promise<StatusServer> {
  const { host, port } = parseListen(listen);
  const server = createServer((req, res) => handle(source, req, res));
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new StatusListenError(`status endpoint cannot listen on ${listen}: ${err.code ?? err.message}`)),
    );
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  const bound = typeof address === 'object' && address !== null ? address.port : port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${bound}`,
    close: () => closeServer(server),
  };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(text);
}

function handle(source: StatusSource, req: IncomingMessage, res: ServerResponse): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    send(res, 405, { error: 'read-only: use GET' });
    return;
  }
  const url = new URL(req.url ?? '/', 'http://status');
  try {
    switch (url.pathname) {
      case '/':
        send(res, 200, { endpoints: ['/status', '/flows?limit=N', '/expectations', '/counters', '/portmappings'] });
        return;
      case '/status':
        send(res, 200, source.status());
        return;
      case '/flows': {
        const text = url.searchParams.get('limit');
        const limit = text === null ? DEFAULT_FLOW_LIMIT : Number(text);
        if (!Number.isInteger(limit) || limit < 0 || limit > MAX_FLOW_LIMIT) {
          send(res, 400, { error: `limit must be an integer in 0..${MAX_FLOW_LIMIT}` });
          return;
        }
        send(res, 200, source.flows(limit));
        return;
      }
      case '/expectations':
        send(res, 200, source.expectations());
        return;
      case '/counters':
        send(res, 200, source.counters());
        return;
      case '/portmappings':
        send(res, 200, source.portMappings?.() ?? { total: 0, portMappings: [] });
        return;
      default:
        send(res, 404, { error: `no such endpoint: ${url.pathname}` });
    }
  } catch (err) {
    send(res, 500, { error: (err as Error).message });
  }
}
