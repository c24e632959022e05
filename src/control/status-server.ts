/**
 * The gateway's operations endpoint: one listener (loopback by default) for
 * people with curl, `masq conntrack`, Prometheus and the dashboard.
 *
 *   GET  /                 the list of endpoints
 *   GET  /status           uptime, configuration summary, table sizes
 *   GET  /flows            live flows, conntrack's filters as query keys, ?limit=N
 *                          (default 10000), ?format=ndjson streams one flow a line
 *   GET  /flows/count      how many flows match (conntrack -C)
 *   GET  /expectations     pinholes opened by ALGs
 *   GET  /counters         engine, dataplane loop and TUN counters
 *   GET  /portmappings     port mappings inside hosts made (PCP, NAT-PMP, UPnP IGD)
 *   GET  /events           server-sent events: flows new/update/destroy, expectations
 *   GET  /metrics          Prometheus metrics
 *   GET  /dashboard        the live web dashboard (and /api/snapshot, /api/stream)
 *   POST /flows/delete     delete the flows a filter matches (conntrack -D), control token
 *   POST /flows/flush      delete every flow (conntrack -F), control token
 *   POST /reload           re-read the configuration file, control token
 *
 * Listings of a large table run a slice at a time (flow-listing.ts), so the
 * packet loop on the same event loop keeps forwarding.
 */
import { Hono, type Context } from 'hono';
import { setCookie } from 'hono/cookie';
import { streamSSE, stream } from 'hono/streaming';
import type { Registry } from 'prom-client';
import type { NatEvent, NatEventSink, EventSubscription } from '../nat/events.js';
import { flowInfoMatches, type FlowFilter } from '../nat/flow-filter.js';
import type { FlowInfo, NatEngine } from '../nat/engine.js';
import { requireControl, requireRead, TOKEN_COOKIE, type AccessPolicy } from './http/auth.js';
import { ListenError, listenHttp, parseListen as parseListenAddress } from './http/serve.js';
import { dashboardAssets } from './dashboard/assets.js';
import type { DashboardSource } from './dashboard/model.js';
import { flowFilterOf, flowQueryOf, FlowQueryError } from './flow-query.js';
import { listFlows, type FlowTableReader } from './flow-listing.js';
import { expectationToJson, flowToJson, type ExpectationsResponse, type FlowJson, type FlowsResponse, type PortMappingsResponse } from './status-model.js';

/** Answers may be promises (a multi-queue gateway asks its worker threads). */
export interface StatusSource {
  status(): unknown;
  flows(limit: number): FlowsResponse | Promise<FlowsResponse>;
  expectations(): ExpectationsResponse | Promise<ExpectationsResponse>;
  counters(): unknown;
  portMappings?(): PortMappingsResponse;
}

/** A running engine as the endpoint reads and changes it (the gateway passes its engine and clock). */
export interface LiveEngine extends FlowTableReader {
  now(): number;
  helperName(id: number): string | null;
  helperIds(alg: string): Set<number>;
  deleteFlow(id: number, withCall: boolean): { flows: number; expectations: number };
  subscribe(listener: NatEventSink, options?: EventSubscription): () => void;
}

/** A NAT engine as the endpoint reads and changes it, with the clock its flows' times are read on. */
export function liveEngineOf(engine: NatEngine, now: () => number): LiveEngine {
  return {
    now,
    scanFlows: (cursor, budget, filter, visit, at) => engine.scanFlows(cursor, budget, filter, visit, at),
    flowInfo: (id) => engine.flowInfo(id),
    helperName: (id) => engine.helperName(id),
    helperIds: (alg) => engine.helperIds(alg),
    deleteFlow: (id, withCall) => engine.deleteFlow(id, withCall),
    subscribe: (listener, options) => engine.subscribe(listener, options),
  };
}

/** The outcome of a reload, as /reload answers it. */
export type ReloadResult = { ok: true; changed: string[]; detail?: string } | { ok: false; problems: string[] };

export interface StatusServerOptions {
  /** Streams, counts, deletes and events from the engine itself (else flows come from source.flows). */
  live?: LiveEngine;
  metrics?: Registry;
  dashboard?: DashboardSource;
  reload?: () => Promise<ReloadResult>;
  access?: AccessPolicy;
}

export interface StatusServer {
  /** Base URL, e.g. http://127.0.0.1:8787 */
  readonly url: string;
  close(): Promise<void>;
}

const DEFAULT_FLOW_LIMIT = 10_000;
/** The endpoints that change something: POST only, control token only. */
const CONTROL_PATHS = new Set(['/flows/delete', '/flows/flush', '/reload']);
const MAX_FLOW_LIMIT = 1_000_000;
const DASHBOARD_FLOW_LIMIT = 500;
const STREAM_INTERVAL_MS = 1000;

export { ListenError as StatusListenError } from './http/serve.js';

/** "127.0.0.1:8787", "[::1]:8787", "localhost:0" -> host and port. */
export function parseListen(listen: string): { host: string; port: number } {
  return parseListenAddress(listen, 'status listen address');
}

export async function startStatusServer(listen: string, source: StatusSource, options: StatusServerOptions = {}): Promise<StatusServer> {
  return listenHttp(listen, createStatusApp(source, options), 'status endpoint');
}

class BadRequest extends Error {}

function limitOf(c: Context, fallback: number): number {
  const text = c.req.query('limit');
  const limit = text === undefined ? fallback : Number(text);
  if (!Number.isInteger(limit) || limit < 0 || limit > MAX_FLOW_LIMIT) throw new BadRequest(`limit must be an integer in 0..${MAX_FLOW_LIMIT}`);
  return limit;
}

/** The filter in a request's query string (keys other than the filters' are named in `ignore`). */
function filterOf(c: Context, live: LiveEngine, ignore: readonly string[]): FlowFilter {
  try {
    return flowFilterOf(flowQueryOf(new URL(c.req.url).searchParams, ignore), (alg) => live.helperIds(alg));
  } catch (err) {
    if (err instanceof FlowQueryError) throw new BadRequest(err.message);
    throw err;
  }
}

const json = (c: Context, body: unknown, status: 200 | 400 | 401 | 403 | 404 | 405 | 500 | 503 = 200) => {
  c.header('cache-control', 'no-store');
  return c.body(`${JSON.stringify(body)}\n`, status, { 'content-type': 'application/json; charset=utf-8' });
};

export function createStatusApp(source: StatusSource, o: StatusServerOptions = {}): Hono {
  const app = new Hono();
  const access = o.access ?? {};
  const live = o.live;
  const toJson = (f: FlowInfo): FlowJson => flowToJson(f, live!.now(), (id) => live!.helperName(id));

  app.onError((err, c) => {
    if (err instanceof BadRequest) return json(c, { error: err.message }, 400);
    return json(c, { error: err.message }, 500);
  });
  app.notFound((c) => json(c, { error: `no such endpoint: ${new URL(c.req.url).pathname}` }, 404));

  // Opening the dashboard once with ?token= keeps the token in a cookie the page's requests carry.
  app.get('/dashboard', async (c, next) => {
    const token = c.req.query('token');
    if (token === undefined) return next();
    setCookie(c, TOKEN_COOKIE, token, { httpOnly: true, sameSite: 'Strict', path: '/' });
    return c.redirect('/dashboard', 303);
  });

  app.use('*', async (c, next) => {
    const method = c.req.method;
    const path = new URL(c.req.url).pathname;
    const changes = CONTROL_PATHS.has(path);
    if (changes ? method !== 'POST' : method !== 'GET' && method !== 'HEAD') {
      c.header('allow', changes ? 'POST' : 'GET, HEAD');
      return json(c, { error: changes ? 'this changes the gateway: use POST' : 'read-only: use GET' }, 405);
    }
    return (changes ? requireControl(access) : requireRead(access))(c, next);
  });

  app.get('/', (c) =>
    json(c, {
      endpoints: [
        '/status',
        '/flows?limit=N',
        '/expectations',
        '/counters',
        '/portmappings',
        ...(live ? ['/flows/count', '/events'] : []),
        ...(o.metrics ? ['/metrics'] : []),
        ...(o.dashboard ? ['/dashboard'] : []),
      ],
    }),
  );
  app.get('/status', async (c) => json(c, await source.status()));
  app.get('/expectations', async (c) => json(c, await source.expectations()));
  app.get('/counters', async (c) => json(c, await source.counters()));
  app.get('/portmappings', (c) => json(c, source.portMappings?.() ?? { total: 0, portMappings: [] }));

  app.get('/flows', async (c) => {
    const limit = limitOf(c, DEFAULT_FLOW_LIMIT);
    if (!live) return json(c, await source.flows(limit));
    const filter = filterOf(c, live, ['limit', 'format']);
    const ndjson = c.req.query('format') === 'ndjson';
    c.header('cache-control', 'no-store');
    c.header('content-type', ndjson ? 'application/x-ndjson; charset=utf-8' : 'application/json; charset=utf-8');
    return stream(c, async (s) => {
      let first = true;
      if (!ndjson) await s.write('{"flows":[');
      const r = await listFlows(
        live,
        filter,
        async (batch) => {
          const text = batch.map((f) => JSON.stringify(toJson(f)));
          if (ndjson) await s.write(`${text.join('\n')}\n`);
          else {
            await s.write(`${first ? '' : ','}${text.join(',')}`);
            first = false;
          }
        },
        { limit, now: () => live.now(), stopped: () => s.aborted },
      );
      if (ndjson) await s.write(`${JSON.stringify({ matched: r.matched, shown: r.shown })}\n`);
      else await s.write(`],"total":${r.matched},"truncated":${r.matched > r.shown}}\n`);
    });
  });

  if (live) {
    app.get('/flows/count', async (c) => {
      const filter = filterOf(c, live, []);
      const r = await listFlows(live, filter, () => {}, { limit: 0, now: () => live.now() });
      return json(c, { count: r.matched });
    });

    app.post('/flows/delete', async (c) => {
      const filter = filterOf(c, live, ['call']);
      if (Object.keys(filter).length === 0) throw new BadRequest('no filter: give one, or flush with POST /flows/flush');
      return json(c, await deleteMatching(live, filter, c.req.query('call') !== '0'));
    });
    app.post('/flows/flush', async (c) => json(c, await deleteMatching(live, {}, true)));

    app.get('/events', (c) => {
      const filter = filterOf(c, live, ['flows', 'expect']);
      const wantFlows = c.req.query('flows') !== '0';
      const wantExpect = c.req.query('expect') !== '0';
      return streamSSE(c, async (s) => {
        const queue: Array<{ event: string; data: string }> = [];
        let wake: (() => void) | null = null;
        const onEvent = (e: NatEvent) => {
          const msg = eventMessage(e, live, filter, wantFlows, wantExpect, toJson);
          if (!msg || queue.length >= 10_000) return; // a reader this far behind loses events rather than memory
          queue.push(msg);
          wake?.();
        };
        const stop = live.subscribe(onEvent, { flows: wantFlows });
        s.onAbort(() => {
          stop();
          wake?.();
        });
        try {
          await s.writeSSE({ event: 'ready', data: '{}' });
          while (!s.aborted) {
            if (queue.length === 0) {
              await new Promise<void>((resolve) => {
                wake = resolve;
                setTimeout(resolve, 15_000); // a comment now and then keeps proxies from closing the stream
              });
              wake = null;
              if (queue.length === 0 && !s.aborted) await s.write(': keep-alive\n\n');
              continue;
            }
            for (const msg of queue.splice(0, queue.length)) await s.writeSSE(msg);
          }
        } finally {
          stop();
        }
      });
    });
  }

  if (o.reload) {
    const reload = o.reload;
    app.post('/reload', async (c) => {
      const r = await reload();
      return json(c, r, r.ok ? 200 : 400);
    });
  }

  if (o.metrics) {
    const registry = o.metrics;
    app.get('/metrics', async (c) => c.body(await registry.metrics(), 200, { 'content-type': registry.contentType, 'cache-control': 'no-store' }));
  }

  if (o.dashboard) mountDashboard(app, o.dashboard);
  return app;
}

/** Deletes the flows a filter matches, slice by slice; with `withCall`, their calls' pinholes and flows too. */
async function deleteMatching(live: LiveEngine, filter: FlowFilter, withCall: boolean): Promise<{ flows: number; expectations: number }> {
  const total = { flows: 0, expectations: 0 };
  for (let cursor = 0; cursor >= 0; ) {
    // Deleting inside the scan is safe: a row gone is never visited, and nothing new arrives during a slice.
    cursor = live.scanFlows(cursor, 4096, filter, (id) => {
      const r = live.deleteFlow(id, withCall);
      total.flows += r.flows;
      total.expectations += r.expectations;
    }, live.now());
    if (cursor >= 0) await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return total;
}

/** An engine event as a server-sent event, or null when the stream does not want it. */
function eventMessage(
  e: NatEvent,
  live: LiveEngine,
  filter: FlowFilter,
  wantFlows: boolean,
  wantExpect: boolean,
  toJson: (f: FlowInfo) => FlowJson,
): { event: string; data: string } | null {
  if (e.type === 'flow') {
    if (!wantFlows || !flowInfoMatches(e.flow, filter)) return null;
    return { event: 'flow', data: JSON.stringify({ action: e.action, ...(e.reason ? { reason: e.reason } : {}), flow: toJson(e.flow) }) };
  }
  if (e.type === 'expectation') {
    if (!wantExpect) return null;
    // Opened is new; expired and removed are destroyed; used is a change (conntrack shows no event for it).
    const action = e.action === 'opened' ? 'new' : e.action === 'used' ? 'update' : 'destroy';
    const now = live.now();
    const view = { ...e, group: e.group ?? '', cls: e.cls ?? 'data', direction: e.direction ?? 'inbound', expiresAt: e.expiresAt ?? now, singleUse: e.singleUse ?? false, uses: e.uses ?? 0 };
    return { event: 'expectation', data: JSON.stringify({ action, expectation: expectationToJson(view, now) }) };
  }
  return null;
}

function mountDashboard(app: Hono, source: DashboardSource): void {
  const assets = dashboardAssets();
  const asset = (name: string) => (c: Context) => {
    const a = assets.get(name)!;
    return c.body(a.body, 200, { 'content-type': a.type, 'cache-control': 'no-cache' });
  };
  app.get('/dashboard', asset('index.html'));
  app.get('/dashboard/', (c) => c.redirect('/dashboard', 301));
  app.get('/dashboard/app.js', asset('app.js'));
  app.get('/dashboard/style.css', asset('style.css'));
  const query = (c: Context) => {
    const params = new URL(c.req.url).searchParams;
    const limit = limitOf(c, DASHBOARD_FLOW_LIMIT);
    try {
      return { filter: flowQueryOf(params, ['limit']), limit };
    } catch (err) {
      if (err instanceof FlowQueryError) throw new BadRequest(err.message);
      throw err;
    }
  };
  const snapshot = async (c: Context) => {
    try {
      return await source.snapshot(query(c));
    } catch (err) {
      if (err instanceof FlowQueryError) throw new BadRequest(err.message);
      throw err;
    }
  };
  app.get('/api/snapshot', async (c) => json(c, await snapshot(c)));
  app.get('/api/stream', async (c) => {
    const q = query(c);
    return streamSSE(c, async (s) => {
      while (!s.aborted) {
        let data: string;
        try {
          data = JSON.stringify(await source.snapshot(q));
        } catch (err) {
          await s.writeSSE({ event: 'problem', data: JSON.stringify({ error: (err as Error).message }) });
          return;
        }
        await s.writeSSE({ event: 'snapshot', data });
        await s.sleep(STREAM_INTERVAL_MS);
      }
    });
  });
}
