/**
 * An INVITE flood with SDP from one phone through `masq gateway` and its SIP
 * ALG (bench/floods-invite.ts, the short version of `bench/floods.ts --only
 * invite`): for 20 s h1 sends 1,500 INVITEs a second, each with its own media
 * and Contact ports, to a far end that never answers, while h2 places two
 * ordinary calls with RTP both ways. The expectation caps hold (the flooding
 * phone at its per-host share, the table below its size), the refusals are
 * counted, h2's calls complete with their media, and the gateway keeps running.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { prerequisites } from './prereq.js';
import { LabTopology } from './topology.js';
import { tunMissing } from './fixtures/gateway-probes.js';
import { G711A_PCAP } from './fixtures/sip-lab.js';
import { inviteFlood } from '../../bench/floods-invite.js';

const pre = prerequisites({ root: true, tools: ['ip', 'nft', 'ss', 'env', 'sipp', G711A_PCAP] });
const tun = tunMissing();
const skip = pre.skip || (tun !== undefined && process.env.CI !== 'true' ? tun : false);

describe('SIP: an INVITE flood from one phone (masq)', { skip }, () => {
  let lab: LabTopology;

  before(() => {
    pre.assert();
    if (tun) assert.fail(`TUN gateway prerequisite: ${tun}`);
    lab = LabTopology.create('sipfl');
  });

  after(async () => {
    await lab?.destroy();
  });

  test('caps hold and are counted; the other phone\'s calls complete with media both ways', { timeout: 180_000 }, async () => {
    const r = await inviteFlood(lab, 20, 1500);
    const detail = JSON.stringify({ ...r, samples: r.samples }, null, 1);
    assert.ok(r.floodInvites > 10_000, `the flood ran: ${r.floodInvites} INVITEs\n${detail}`);
    assert.ok(r.algMessages > 10_000, `the ALG saw the flood: ${r.algMessages}`);
    assert.equal(r.user.totals?.failed, 0, `the user's calls: ${JSON.stringify(r.user)}`);
    assert.equal(r.user.totals?.successful, r.user.calls);
    // Both directions of every call, allowing a little loss on a loaded machine.
    assert.ok(r.user.rtpAtPhone >= 0.9 * r.user.rtpExpected, `RTP at the phone: ${r.user.rtpAtPhone} of ${r.user.rtpExpected}`);
    assert.ok(r.user.rtpAtServer >= 0.9 * r.user.rtpExpected, `RTP at the server: ${r.user.rtpAtServer} of ${r.user.rtpExpected}`);
    assert.ok(r.samples.some((s) => s.toFlooder !== null), `at least one look at the pinholes\n${detail}`);
    assert.ok(r.toFlooderMax <= r.limits.expectationsPerHost, `the flooder within its share: ${r.toFlooderMax}`);
    assert.ok(r.expectationsMax <= r.limits.expectations);
    assert.ok((r.moved['engine.expectationsRefused'] ?? 0) > 0, 'refusals counted');
    assert.ok((r.moved['sip.mediaRefused'] ?? 0) > 0, 'streams left unrewritten, counted');
    assert.equal(r.moved['sip.callsForgottenTableFull'] ?? 0, 0, 'the flooder never filled the call table');
    assert.equal(r.moved['sip.handlerFailures'] ?? 0, 0);
    assert.ok(r.gatewayRunning);
  });
});
