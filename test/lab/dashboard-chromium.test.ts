/**
 * The dashboard in a real browser: Debian's headless Chromium, driven by
 * puppeteer-core, on the gateway's operations endpoint (real HTTP on
 * loopback) over a live engine with the SIP ALG. The test opens the page,
 * sees a flow appear when traffic starts and disappear when it expires,
 * filters by protocol and by ALG, sees a refused filter named, and saves a
 * screenshot (desktop and phone width) under test-output/.
 *
 * The engine is driven by the test (packets in, its clock advanced) instead
 * of by TUN devices, so what the page shows is known exactly.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { attachAlg, findAlg } from '../../src/alg/registry.js';
import { engineDashboard } from '../../src/control/dashboard/engine-feed.js';
import { startStatusServer, type StatusServer } from '../../src/control/status-server.js';
import { Side } from '../../src/nat/engine.js';
import { makeEngine, udpPkt } from '../nat/packets.js';
import { prerequisites, repoRoot } from './prereq.js';

const CHROMIUM = '/usr/bin/chromium';
const pre = prerequisites({ tools: [CHROMIUM] });
const outDir = join(repoRoot, 'test-output', 'dashboard');

describe('the dashboard in headless Chromium', { skip: pre.skip }, () => {
  const { engine, clock } = makeEngine();
  const sip = attachAlg(engine, findAlg('sip')!);
  let server: StatusServer;
  let browser: Browser;
  let page: Page;

  before(async () => {
    pre.assert();
    mkdirSync(outDir, { recursive: true });
    server = await startStatusServer(
      '127.0.0.1:0',
      { status: () => ({}), flows: () => ({ total: 0, truncated: false, flows: [] }), expectations: () => ({ total: 0, expectations: [] }), counters: () => ({}) },
      {
        dashboard: engineDashboard({
          service: 'masq gateway (test)',
          engine: () => engine,
          algs: () => [sip],
          now: () => clock.now(),
          summary: () => ({ public: '203.0.113.1' }),
          measured: () => null,
        }),
      },
    );
    browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'], timeout: 60_000 });
    page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  /** The inside endpoints of the flows the page shows now. */
  const shownFlows = () => page.$$eval('#flows tbody tr[data-flow]', (rows) => rows.map((r) => (r as unknown as { dataset: { flow: string } }).dataset.flow));
  const waitForFlows = async (want: (flows: string[]) => boolean, what: string) => {
    const deadline = Date.now() + 15_000;
    let flows: string[] = [];
    while (Date.now() < deadline) {
      flows = await shownFlows();
      if (want(flows)) return flows;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.fail(`${what}: the page shows ${JSON.stringify(flows)}`);
  };

  test('a flow appears when traffic starts and disappears when it expires', async () => {
    await page.goto(`${server.url}/dashboard`, { waitUntil: 'domcontentloaded' });
    await page.waitForFunction("document.getElementById('live')?.textContent === 'live'", { timeout: 15_000 });
    assert.deepEqual(await shownFlows(), [], 'no traffic yet');
    engine.process(udpPkt('10.0.0.3:4000', '198.51.100.53:53', 'query'), Side.Inside);
    await waitForFlows((f) => f.includes('udp 10.0.0.3:4000 198.51.100.53:53'), 'the new flow');
    await page.screenshot({ path: join(outDir, 'flow.png'), fullPage: true });
    // Past the UDP timeout (5 minutes here): the next tick expires the flow.
    clock.advance(600_000);
    engine.tick();
    await waitForFlows((f) => f.length === 0, 'the expired flow is gone');
  });

  test('filters by protocol and ALG; a refused filter is named on the page', async () => {
    engine.process(udpPkt('10.0.0.4:4000', '198.51.100.53:53', 'query'), Side.Inside);
    const invite = [
      'INVITE sip:bob@198.51.100.10 SIP/2.0',
      'Via: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKd1;rport',
      'From: <sip:alice@198.51.100.10>;tag=a1',
      'To: <sip:bob@198.51.100.10>',
      'Call-ID: dash-1',
      'CSeq: 1 INVITE',
      'Contact: <sip:alice@10.0.0.2:5060>',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    engine.process(udpPkt('10.0.0.2:5060', '198.51.100.10:5060', invite), Side.Inside);
    await waitForFlows((f) => f.length === 2, 'both flows');
    await page.type('#filters input[name="alg"]', 'sip');
    await waitForFlows((f) => f.length === 1 && f[0] === 'udp 10.0.0.2:5060 198.51.100.10:5060', 'only the SIP flow');
    await page.$eval('#filters input[name="alg"]', (el) => ((el as unknown as { value: string }).value = ''));
    await page.select('#filters select[name="proto"]', 'tcp');
    await page.$eval('#filters', (f) => f.dispatchEvent(new Event('input')));
    await waitForFlows((f) => f.length === 0, 'no TCP flows');
    await page.select('#filters select[name="proto"]', '');
    await page.type('#filters input[name="port"]', 'http');
    await page.waitForFunction("!document.getElementById('filter-problem').hidden", { timeout: 15_000 });
    assert.match(await page.$eval('#filter-problem', (e) => e.textContent ?? ''), /port: "http" is not a port/);
    await page.screenshot({ path: join(outDir, 'filter-refused.png'), fullPage: true });
  });

  test('fits a phone screen: nothing wider than the viewport but the tables\' own scroll boxes', async () => {
    await page.$eval('#filters input[name="port"]', (el) => ((el as unknown as { value: string }).value = ''));
    await page.$eval('#filters', (f) => f.dispatchEvent(new Event('input')));
    await page.setViewport({ width: 390, height: 844, isMobile: true, hasTouch: true });
    await waitForFlows((f) => f.length === 2, 'both flows again');
    const overflow = (await page.evaluate('document.documentElement.scrollWidth - window.innerWidth')) as number;
    assert.ok(overflow <= 0, `the page is ${overflow} px wider than a phone`);
    await page.screenshot({ path: join(outDir, 'phone.png'), fullPage: true });
  });
});
