/**
 * The dashboard of a real `masq gateway` (TUN, in the lab's gw1 namespace)
 * in headless Chromium driven by puppeteer-core, with real traffic from h1
 * to srv. The status listener stays on the gateway's loopback (its default):
 * Chromium runs inside gw1's namespace through `ip netns exec`, and
 * puppeteer talks to it over a pipe (file descriptors cross namespaces; a
 * DevTools TCP port on gw1's loopback would not be reachable from here).
 *
 * The page shows a UDP flow appear when h1 starts talking to srv and
 * disappear when it expires (udp timeout 5 s, below the RFC minimum on
 * purpose), filters by protocol and by address, and a screenshot is saved
 * under test-output/dashboard-gateway/. test/lab/dashboard-chromium.test.ts
 * covers the page itself on an engine the test drives.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { prerequisites, repoRoot } from './prereq.js';
import { LAB, LabTopology, sleep, type LabProcess } from './topology.js';
import { probe, probeServer, tunMissing } from './fixtures/gateway-probes.js';

const CHROMIUM = '/usr/bin/chromium';
const pre = prerequisites({ root: true, tools: ['ip', CHROMIUM, '/usr/bin/python3'] });
const tun = tunMissing();
const skip = pre.skip || (tun !== undefined && process.env.CI !== 'true' ? tun : false);
const outDir = join(repoRoot, 'test-output', 'dashboard-gateway');

const H1 = LAB.lan1.h1;
const H2 = LAB.lan1.h2;
const SRV = LAB.servers.a;
const STATUS_PORT = 8842;
const UDP_TIMEOUT_S = 5;

describe('the dashboard of a running gateway, in headless Chromium inside the lab', { skip }, () => {
  let lab: LabTopology;
  let masq: LabProcess;
  let browser: Browser;
  let page: Page;
  const servers: LabProcess[] = [];

  before(async () => {
    pre.assert();
    if (tun) assert.fail(`TUN gateway prerequisite: ${tun}`);
    mkdirSync(outDir, { recursive: true });
    lab = LabTopology.create('dgw');
    const timeouts = `timeouts: { udp: ${UDP_TIMEOUT_S}, allowBelowRfc: true }`;
    masq = await lab.startMasq('gw1', lab.masqConfig('gw1', timeouts, STATUS_PORT));
    servers.push(await probeServer(lab, 'srv', ['udp-echo', '--port', '7']));
    servers.push(await probeServer(lab, 'srv', ['tcp-serve', '--port', '8080']));
    // Chromium in gw1's namespace: a wrapper puppeteer starts as if it were the browser.
    const wrapper = join(lab.dir, 'chromium-in-gw1');
    writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${lab.names.gw1} ${CHROMIUM} "$@"\n`);
    chmodSync(wrapper, 0o755);
    browser = await puppeteer.launch({
      executablePath: wrapper,
      pipe: true,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
      timeout: 60_000,
    });
    page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
  });

  after(async () => {
    await browser?.close();
    for (const s of servers) await s.stop();
    await masq?.stop();
    await lab?.destroy();
  });

  const shownFlows = () => page.$$eval('#flows tbody tr[data-flow]', (rows) => rows.map((r) => (r as unknown as { dataset: { flow: string } }).dataset.flow));
  const waitForFlows = async (want: (flows: string[]) => boolean, what: string, timeoutMs = 15_000) => {
    const deadline = Date.now() + timeoutMs;
    let flows: string[] = [];
    while (Date.now() < deadline) {
      flows = await shownFlows();
      if (want(flows)) return flows;
      await sleep(200);
    }
    assert.fail(`${what}: after ${timeoutMs} ms the page shows ${JSON.stringify(flows)}`);
  };
  const udpFlow = `udp ${H1}:4000 ${SRV}:7`;

  test('a flow appears when h1 talks to srv and disappears when it expires', async (t) => {
    await page.goto(`http://127.0.0.1:${STATUS_PORT}/dashboard`, { waitUntil: 'domcontentloaded' });
    await page.waitForFunction("document.getElementById('live')?.textContent === 'live'", { timeout: 15_000 });
    assert.deepEqual(await shownFlows(), [], 'no traffic yet');
    const asked = probe(lab, 'h1', ['udp-ask', '--to', `${SRV}:7`, '--sport', '4000', '--timeout', '2', '--tries', '2']);
    assert.ok(asked.ok, JSON.stringify(asked));
    const appearedAt = Date.now();
    await waitForFlows((f) => f.includes(udpFlow), 'the new flow');
    await page.screenshot({ path: join(outDir, 'flow.png'), fullPage: true });
    // Expired after its timeout; the gateway's housekeeping and the page's next update may add a few seconds.
    await waitForFlows((f) => !f.includes(udpFlow), 'the expired flow is gone', (UDP_TIMEOUT_S + 10) * 1000);
    const goneAfter = Date.now() - appearedAt;
    t.diagnostic(`the flow left the page ${goneAfter} ms after the exchange (udp timeout ${UDP_TIMEOUT_S} s)`);
    assert.ok(goneAfter >= UDP_TIMEOUT_S * 1000 - 1000, `gone after ${goneAfter} ms: before its timeout`);
  });

  test('filters by protocol and by address', async () => {
    // Keep the UDP flows alive with a repeat exchange just before each look; TCP stays established.
    const udpFrom = (role: 'h1' | 'h2', sport: number) =>
      assert.ok(probe(lab, role, ['udp-ask', '--to', `${SRV}:7`, '--sport', String(sport), '--timeout', '2', '--tries', '2']).ok);
    udpFrom('h1', 4000);
    udpFrom('h2', 4001);
    const tcp = probe(lab, 'h1', ['tcp-ask', '--to', `${SRV}:8080`]);
    assert.ok(tcp.ok, JSON.stringify(tcp));
    const h2Flow = `udp ${H2}:4001 ${SRV}:7`;
    await waitForFlows((f) => f.includes(udpFlow) && f.includes(h2Flow) && f.some((x) => x.startsWith(`tcp ${H1}:`)), 'the UDP flows of h1 and h2 and the TCP flow');

    await page.select('#filters select[name="proto"]', 'tcp');
    await page.$eval('#filters', (f) => f.dispatchEvent(new Event('input')));
    const tcpOnly = await waitForFlows((f) => f.length > 0 && f.every((x) => x.startsWith('tcp ')), 'only TCP flows');
    assert.ok(tcpOnly.every((x) => x.endsWith(`${SRV}:8080`)), JSON.stringify(tcpOnly));

    await page.select('#filters select[name="proto"]', 'udp');
    await page.type('#filters input[name="address"]', H2);
    await page.$eval('#filters', (f) => f.dispatchEvent(new Event('input')));
    await waitForFlows((f) => f.length === 1 && f[0] === h2Flow, 'only h2\'s UDP flow');
    await page.screenshot({ path: join(outDir, 'filtered.png'), fullPage: true });
  });
});
