/**
 * The gateway's operations endpoint on a real engine with the SIP ALG: after
 * known traffic, /flows with conntrack's filters, /flows/count, /events,
 * deletes and flushes behind the control token, /metrics names and values,
 * and the dashboard's snapshot. Requests go to the hono app itself (no socket).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { attachAlg, findAlg } from '../../src/alg/registry.js';
import type { NatEngine } from '../../src/nat/engine.js';
import { Side } from '../../src/nat/engine.js';
import { engineDashboard } from '../../src/control/dashboard/engine-feed.js';
import { registerGatewayMetrics } from '../../src/control/metrics/gateway-metrics.js';
import { createMetricsRegistry } from '../../src/control/metrics/registry.js';
import { createStatusApp, liveEngineOf, type StatusSource } from '../../src/control/status-server.js';
import type { FlowJson } from '../../src/control/status-model.js';
import type { ManualClock } from '../../src/util/clock.js';
import { TCP_ACK, TCP_SYN } from '../../src/wire/tcp.js';
import { makeEngine, tcpPkt, udpPkt } from '../nat/packets.js';
import { SIP_PROXY as PROXY, sipInvite as invite } from './sip-invite.js';

const READ = 'read-token-0123456789';
const CONTROL = 'control-token-0123456789';

const live = (engine: NatEngine, clock: ManualClock) => liveEngineOf(engine, () => clock.now());

const unused: StatusSource = {
  status: () => ({ service: 'test' }),
  flows: () => {
    throw new Error('a live engine lists flows itself');
  },
  expectations: () => ({ total: 0, expectations: [] }),
  counters: () => ({}),
};

/** An engine with the SIP ALG, a call set up, a DNS query and an established TCP connection. */
function gateway() {
  const { engine, clock } = makeEngine();
  const sip = attachAlg(engine, findAlg('sip')!);
  engine.process(udpPkt('10.0.0.2:5060', `${PROXY}:5060`, invite('10.0.0.2', 'call-1')), Side.Inside);
  engine.process(udpPkt('10.0.0.3:4000', '198.51.100.53:53', 'query'), Side.Inside);
  const syn = tcpPkt('10.0.0.4:40000', '198.51.100.80:80', TCP_SYN);
  engine.process(syn, Side.Inside);
  const tcpFlow = engine.listFlows().find((f) => f.proto === 6)!;
  engine.process(tcpPkt('198.51.100.80:80', `203.0.113.1:${tcpFlow.public[1]}`, TCP_SYN | TCP_ACK, 5000, 1001), Side.Outside);
  engine.process(tcpPkt('10.0.0.4:40000', '198.51.100.80:80', TCP_ACK, 1001, 5001), Side.Inside);
  const registry = createMetricsRegistry('gateway');
  registerGatewayMetrics(registry, { engine, algs: () => [sip] });
  const app = createStatusApp(unused, {
    live: live(engine, clock),
    metrics: registry,
    dashboard: engineDashboard({
      service: 'masq gateway',
      engine: () => engine,
      algs: () => [sip],
      now: () => clock.now(),
      summary: () => ({ public: '203.0.113.1' }),
      measured: () => null,
    }),
    access: { readToken: READ, controlToken: CONTROL },
  });
  const req = (path: string, token: string | null = READ, method = 'GET') =>
    app.request(path, { method, headers: token === null ? {} : { authorization: `Bearer ${token}` } });
  const flows = async (query = ''): Promise<FlowJson[]> => {
    const res = await req(`/flows${query}`);
    assert.equal(res.status, 200, query);
    return ((await res.json()) as { flows: FlowJson[] }).flows;
  };
  return { engine, clock, sip, app, req, flows };
}

/** The value of one sample in Prometheus text, or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    const m = /^([a-z_:]+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = m[2] ? m[2].split(',') : [];
    if (want.every((w) => have.includes(w)) && have.length === want.length) return Number(m[3]);
  }
  return undefined;
}

describe('the operations endpoint on a live engine', () => {
  test('/flows: conntrack filters (proto, src, dst, sport, dport, state, alg), each alone and together', async () => {
    const { flows } = gateway();
    assert.equal((await flows()).length, 3);
    assert.deepEqual((await flows('?proto=tcp')).map((f) => f.inside.address), ['10.0.0.4']);
    assert.deepEqual((await flows('?proto=udp')).map((f) => f.inside.address).sort(), ['10.0.0.2', '10.0.0.3']);
    assert.deepEqual((await flows('?src=10.0.0.3')).map((f) => f.remote.port), [53]);
    assert.deepEqual((await flows(`?dst=${PROXY}`)).map((f) => f.inside.port), [5060]);
    assert.deepEqual((await flows('?dport=80')).map((f) => f.proto), ['tcp']);
    assert.deepEqual((await flows('?sport=4000')).map((f) => f.inside.address), ['10.0.0.3']);
    assert.deepEqual((await flows('?state=ESTABLISHED')).map((f) => f.tcpState), ['ESTABLISHED']);
    assert.deepEqual((await flows('?state=SYN_SENT')).length, 0);
    assert.deepEqual((await flows('?alg=sip')).map((f) => [f.helper, f.inside.port]), [['sip', 5060]]);
    assert.equal((await flows('?alg=none')).length, 2);
    assert.equal((await flows('?proto=udp&dport=53&src=10.0.0.3')).length, 1);
    assert.equal((await flows('?proto=udp&dport=80')).length, 0);
  });

  test('/flows: a limit truncates and says so; NDJSON streams one flow a line and a summary', async () => {
    const { req } = gateway();
    const limited = (await (await req('/flows?limit=1')).json()) as { flows: FlowJson[]; total: number; truncated: boolean };
    assert.deepEqual([limited.flows.length, limited.total, limited.truncated], [1, 3, true]);
    const res = await req('/flows?format=ndjson&proto=udp');
    assert.equal(res.headers.get('content-type'), 'application/x-ndjson; charset=utf-8');
    const lines = (await res.text()).trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, 3);
    assert.deepEqual(lines.at(-1), { matched: 2, shown: 2 });
  });

  test('bad filters are 400 naming the problem; an unknown key is refused, not ignored', async () => {
    const { req } = gateway();
    for (const [q, want] of [
      ['?proto=sctpx', /proto/],
      ['?src=10.0.0', /not an IPv4 address/],
      ['?dport=70000', /not a port/],
      ['?state=OPEN', /not one of/],
      ['?alg=h323x', /no ALG named/],
      ['?srcx=1.2.3.4', /unknown filter "srcx"/],
    ] as const) {
      const res = await req(`/flows${q}`);
      assert.equal(res.status, 400, q);
      assert.match(((await res.json()) as { error: string }).error, want, q);
    }
  });

  test('/flows/count counts what a filter matches', async () => {
    const { req } = gateway();
    assert.deepEqual(await (await req('/flows/count')).json(), { count: 3 });
    assert.deepEqual(await (await req('/flows/count?proto=udp')).json(), { count: 2 });
  });

  test('reads need the read token; changes need the control token and POST', async () => {
    const { req } = gateway();
    assert.equal((await req('/flows', null)).status, 401);
    assert.equal((await req('/flows', 'wrong-token-0123456789')).status, 401);
    assert.equal((await req('/flows', CONTROL)).status, 200, 'the control token also reads');
    assert.equal((await req('/flows/flush', READ, 'POST')).status, 401, 'the read token does not change anything');
    assert.equal((await req('/flows/flush', CONTROL, 'GET')).status, 405);
    assert.equal((await req('/flows', READ, 'DELETE')).status, 405);
  });

  test('delete by filter (conntrack -D) takes the call and its pinholes; flush (-F) empties the table', async () => {
    const { req, engine, flows } = gateway();
    assert.ok(engine.listExpectations().length >= 2, 'the INVITE opened RTP and RTCP pinholes');
    const none = await req('/flows/delete', CONTROL, 'POST');
    assert.equal(none.status, 400, 'a delete without a filter is refused');
    const r = await req('/flows/delete?alg=sip', CONTROL, 'POST');
    assert.equal(r.status, 200);
    const body = (await r.json()) as { flows: number; expectations: number };
    assert.equal(body.flows, 1);
    assert.ok(body.expectations >= 2, 'the pinholes of the call went with it');
    assert.equal(engine.listExpectations().length, 0);
    assert.equal((await flows()).length, 2);
    const flushed = (await (await req('/flows/flush', CONTROL, 'POST')).json()) as { flows: number };
    assert.equal(flushed.flows, 2);
    assert.equal((await flows()).length, 0);
  });

  test('/events: server-sent flow events (new, destroy) and expectation events, filtered', async () => {
    const { app, engine } = gateway();
    const abort = new AbortController();
    const res = await app.fetch(new Request('http://gw/events?proto=udp', { headers: { authorization: `Bearer ${READ}` }, signal: abort.signal }));
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    const until = async (pattern: RegExp) => {
      const deadline = Date.now() + 5000;
      while (!pattern.test(text)) {
        assert.ok(Date.now() < deadline, `no ${pattern} in ${text}`);
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
    };
    try {
      await until(/event: ready/);
      engine.process(tcpPkt('10.0.0.9:41000', '198.51.100.80:80', TCP_SYN), Side.Inside); // filtered out: TCP
      engine.process(udpPkt('10.0.0.7:5000', '198.51.100.53:53', 'q'), Side.Inside);
      await until(/"action":"new"[^\n]*10\.0\.0\.7/);
      assert.ok(!text.includes('10.0.0.9'), 'the TCP flow does not match proto=udp');
      engine.process(udpPkt('10.0.0.2:5060', `${PROXY}:5060`, invite('10.0.0.2', 'call-2')), Side.Inside);
      await until(/event: expectation\ndata: \{"action":"new"/);
      const flow = engine.listFlows().find((f) => f.inside[0] === 0x0a000007)!;
      engine.deleteFlow(flow.id);
      await until(/"action":"destroy","reason":"deleted"/);
    } finally {
      abort.abort();
      await reader.cancel().catch(() => {});
    }
  });

  test('/metrics: names by the conventions and values after known traffic', async () => {
    const { req } = gateway();
    const res = await req('/metrics');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    assert.equal(sample(text, 'masq_build_info', { service: 'gateway', version: '0.1.0' }), 1);
    assert.equal(sample(text, 'masq_nat_flows', { protocol: 'tcp', state: 'ESTABLISHED' }), 1);
    assert.equal(sample(text, 'masq_nat_flows', { protocol: 'udp', state: 'UNREPLIED' }), 2);
    assert.equal(sample(text, 'masq_nat_flows_created_total'), 3);
    assert.equal(sample(text, 'masq_nat_mappings'), 3);
    assert.equal(sample(text, 'masq_nat_packets_total', { direction: 'outbound' }), 4, 'INVITE, query, SYN, ACK');
    assert.equal(sample(text, 'masq_nat_packets_total', { direction: 'inbound' }), 1, 'SYN-ACK');
    assert.ok(sample(text, 'masq_nat_bytes_total', { direction: 'outbound' })! > 4 * 40);
    assert.equal(sample(text, 'masq_nat_expectations', { alg: 'sip', class: 'audio' }), 2, 'RTP and RTCP');
    assert.equal(sample(text, 'masq_alg_messages_total', { alg: 'sip' }), 1);
    assert.equal(sample(text, 'masq_alg_messages_rewritten_total', { alg: 'sip' }), 1);
    assert.equal(sample(text, 'masq_alg_messages_unparsed_total', { alg: 'sip' }), 0);
    assert.equal(sample(text, 'masq_alg_pinholes_opened_total', { alg: 'sip' }), 2);
    assert.equal(sample(text, 'masq_nat_dropped_packets_total', { reason: 'flowLimit' }), 0);
    assert.match(text, /^nodejs_eventloop_lag_seconds /m, 'event-loop delay');
    for (const line of text.split('\n')) {
      const m = /^# TYPE (masq_\S+) (counter|gauge|histogram)$/.exec(line);
      if (!m) continue;
      if (m[2] === 'counter') assert.match(m[1], /_total$/, `${m[1]}: a counter ends in _total`);
      else assert.doesNotMatch(m[1], /_total$/, `${m[1]}: only counters end in _total`);
    }
  });

  test('a refusal is counted by its reason in /metrics', async () => {
    const { engine, clock } = makeEngine({ limits: { flows: 1 } });
    const registry = createMetricsRegistry('gateway');
    registerGatewayMetrics(registry, { engine, algs: () => [] });
    const app = createStatusApp(unused, { live: live(engine, clock), metrics: registry });
    engine.process(udpPkt('10.0.0.2:4000', '198.51.100.53:53'), Side.Inside);
    engine.process(udpPkt('10.0.0.3:4000', '198.51.100.53:53'), Side.Inside);
    engine.process(udpPkt('10.0.0.4:4000', '198.51.100.53:53'), Side.Inside);
    const text = await (await app.request('/metrics')).text();
    assert.equal(sample(text, 'masq_nat_dropped_packets_total', { reason: 'flowLimit' }), 2);
    assert.equal(sample(text, 'masq_nat_flows_limit'), 1);
  });

  test('the dashboard: its page and assets, a snapshot with the flows a filter matches, the call and ALG counters', async () => {
    const { req } = gateway();
    const page = await req('/dashboard');
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    const html = await page.text();
    assert.match(html, /<meta name="viewport"/, 'made for phone screens too');
    assert.doesNotMatch(html, /https?:\/\/(?!www\.w3\.org)/, 'no asset from the internet');
    assert.equal((await req('/dashboard/app.js')).status, 200);
    assert.equal((await req('/dashboard/style.css')).status, 200);
    const snap = (await (await req('/api/snapshot?proto=tcp')).json()) as Record<string, any>;
    assert.equal(snap.flows.matched, 1);
    assert.equal(snap.flows.shown[0].tcpState, 'ESTABLISHED');
    assert.equal(snap.expectations.length, 2);
    assert.equal(snap.calls.length, 1);
    assert.equal(snap.counters['alg sip'].messages, 1);
    assert.equal(snap.behaviour.measuredBy, 'not measured yet');
    assert.equal((await req('/api/snapshot?port=x')).status, 400);
  });

  test('the dashboard token: ?token= once sets a cookie the page then reads with', async () => {
    const { app } = gateway();
    const res = await app.request(`/dashboard?token=${READ}`);
    assert.equal(res.status, 303);
    const cookie = res.headers.get('set-cookie') ?? '';
    assert.match(cookie, /masq_token=.*HttpOnly/i);
    const again = await app.request('/api/snapshot', { headers: { cookie: cookie.split(';')[0] } });
    assert.equal(again.status, 200);
  });
});
