/**
 * How calls end in `masq sip-proxy`, and that each end frees what the call
 * held (relay ports, pinholes), with phones behind kernel NATs:
 *
 *   a. media timeout: a call with no media at all is hung up by the proxy
 *      (a BYE to each side) when the timeout passes;
 *   b. 300 calls that ring and are cancelled free every port they took;
 *   c. an offer nobody answers ends at the offer timeout (CANCEL to the
 *      phone, 408 to the caller);
 *   d. port exhaustion: with the relay's range full, the next offer is
 *      answered 503 and counted, and the call that holds the ports is fine.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { prerequisites } from './prereq.js';
import { LAB, LabTopology, sleep, type LabProcess } from './topology.js';
import { exitCodes, G711A_PCAP } from './fixtures/sip-lab.js';
import { answeringPhone, callingPhone, nftLivePorts, proxyConfig, proxyJson, registerPhone, startProxy, waitForCall, writeCallMedia, finishLab } from './fixtures/sipproxy-lab.js';

const pre = prerequisites({ root: true, tools: ['ip', 'nft', 'conntrack', 'ss', 'env', 'sipp', G711A_PCAP] });

const H1 = LAB.lan1.h1;
const H2 = LAB.lan1.h2;
const H3 = LAB.lan2.h3;
const CALLS = 300;

describe('masq sip-proxy: how calls end, and what they leave', { skip: pre.skip }, () => {
  let lab: LabTopology;
  let proxy: LabProcess;

  before(async () => {
    pre.assert();
    lab = LabTopology.create('spt');
    writeCallMedia(lab, G711A_PCAP, 100);
    lab.useKernelNat('gw1', 'masquerade');
    lab.useKernelNat('gw2', 'masquerade');
    proxy = await startProxy(lab, proxyConfig({ media: '  timeouts: { media: 3, offer: 6 }' }));
  });

  after(() => finishLab(lab, proxy));

  const counters = () => proxyJson(lab, '/counters');

  function assertNoLeftovers(): void {
    const c = counters();
    assert.deepEqual(proxyJson(lab, '/calls').calls, [], 'no call listed');
    assert.equal(c.relay.portPairsInUse, 0, 'every relay port pair was freed');
    assert.deepEqual(nftLivePorts(lab), [], 'no pinhole left');
  }

  test('a. a call without media is hung up by the proxy when the media timeout passes', async () => {
    assert.equal(await registerPhone(lab, 'h3', H3, { user: 'bob' }), 0);
    const before = counters();
    const bob = await answeringPhone(lab, 'h3', H3, { user: 'bob', scenario: 'sipproxy-uas-silent.xml' });
    const caller = callingPhone(lab, 'h1', H1, { to: 'bob', scenario: 'sipproxy-uac-silent.xml' });
    const started = Date.now();
    const codes = await exitCodes([caller, bob], 30_000);
    const took = Date.now() - started;
    assert.deepEqual(codes, [0, 0], `both got the proxy's BYE and answered it:\ncaller:\n${caller.errors().slice(-1500)}\nbob:\n${bob.errors().slice(-1500)}`);
    const after = counters();
    assert.equal(after.relay.endedBy['media-timeout'] - before.relay.endedBy['media-timeout'], 1, 'ended by the media timeout');
    assert.equal(after.proxy.hangups - before.proxy.hangups, 1);
    assert.ok(took >= 3000 && took < 15_000, `hung up after ${took} ms (timeout 3 s)`);
    assertNoLeftovers();
  });

  test(`b. ${CALLS} calls that ring and are cancelled free every port they took`, async () => {
    assert.equal(await registerPhone(lab, 'h3', H3, { user: 'bob' }), 0);
    const before = counters();
    const bob = await answeringPhone(lab, 'h3', H3, { user: 'bob', scenario: 'sipproxy-uas-ring.xml', calls: CALLS });
    const caller = callingPhone(lab, 'h1', H1, { to: 'bob', scenario: 'sipproxy-uac-cancel.xml', calls: CALLS, rate: 50, extra: ['-l', '50'] });
    let peak = 0;
    const watch = (async () => {
      while (caller.running) {
        peak = Math.max(peak, counters().relay.portPairsInUse as number);
        await sleep(500);
      }
    })();
    const codes = await exitCodes([caller, bob], 60_000);
    await watch;
    assert.deepEqual(codes, [0, 0], `caller:\n${caller.errors().slice(-1500)}\nbob:\n${bob.errors().slice(-1500)}`);
    const after = counters();
    assert.equal(after.relay.callsCreated - before.relay.callsCreated, CALLS, 'every INVITE\'s offer got relay ports');
    assert.equal(after.relay.endedBy.cancel - before.relay.endedBy.cancel, CALLS, 'every CANCEL freed them');
    assert.ok(peak >= 4, `calls held ports while ringing (peak ${peak} pairs)`);
    assertNoLeftovers();
  });

  test('c. an offer nobody answers ends at the offer timeout: CANCEL to the phone, 408 to the caller', async () => {
    assert.equal(await registerPhone(lab, 'h3', H3, { user: 'bob' }), 0);
    const before = counters();
    const bob = await answeringPhone(lab, 'h3', H3, { user: 'bob', scenario: 'sip-uas-silent.xml' });
    const caller = callingPhone(lab, 'h1', H1, { to: 'bob', scenario: 'sipproxy-uac-unanswered.xml' });
    const codes = await exitCodes([caller], 20_000);
    await bob.stop();
    assert.deepEqual(codes, [0], caller.errors().slice(-1500));
    const after = counters();
    assert.equal(after.relay.endedBy['offer-timeout'] - before.relay.endedBy['offer-timeout'], 1);
    assertNoLeftovers();
  });

  test('d. with the relay range full, the next offer gets 503 (counted); the call holding the ports is not disturbed', async () => {
    await proxy.stop();
    // Two pairs: one call's stream.
    proxy = await startProxy(lab, proxyConfig({ media: '  timeouts: { media: 3, offer: 6 }' }).replace('ports: { min: 30000, max: 30999 }', 'ports: { min: 30000, max: 30003 }'), 'small');
    assert.equal(await registerPhone(lab, 'h3', H3, { user: 'bob' }), 0);
    const bob = await answeringPhone(lab, 'h3', H3, { user: 'bob' });
    const first = callingPhone(lab, 'h1', H1, { to: 'bob', holdMs: 3000 });
    await waitForCall(lab, 15_000);
    const second = callingPhone(lab, 'h2', H2, { to: 'bob', scenario: 'sipproxy-uac-rejected.xml' });
    const codes = await exitCodes([second, first, bob], 40_000);
    assert.deepEqual(codes, [0, 0, 0], `second:\n${second.errors().slice(-1500)}\nfirst:\n${first.errors().slice(-1500)}\nbob:\n${bob.errors().slice(-1500)}`);
    const c = counters();
    assert.equal(c.proxy.portsExhausted, 1, 'the 503 was counted by the proxy');
    assert.equal(c.relay.portsExhausted, 1, 'and by the relay');
    assertNoLeftovers();
  });
});
