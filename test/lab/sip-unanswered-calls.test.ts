/**
 * Calls that never get an answer must not lock a phone out of calling.
 *
 * A phone (sipp on h1, media port 6000 in every offer, as sipp and many phones
 * do) places 300 calls that get no response at all (the far end takes the
 * INVITEs and stays silent; sipp gives each up after 1 s without a CANCEL).
 * Then the same phone places one ordinary call to a sipp UAS. Through masq
 * with the SIP ALG that call must complete, and the engine must not have
 * thrown on any packet.
 *
 * Found with bench/sip-calls.ts: after an overload, every later call from the
 * generator failed. What happens (masq at the time of writing): each
 * unanswered INVITE leaves its RTP/RTCP pinholes for callTimeoutSeconds
 * (3600 s), and every one of them takes another reference on the same public
 * ports 6000/6001 (NatEngine.expect -> PortPool.hold). PortPool counts
 * references in a Uint8Array; the 256th throws "RangeError: port 6000 held too
 * many times" out of NatEngine.expect, through SipAlg.mapMedia, into the
 * gateway loop, which logs an engine error and drops the packet: every INVITE
 * from that phone with m=audio 6000 is dropped, retransmissions included,
 * until the pinholes expire an hour later.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { prerequisites } from './prereq.js';
import { LAB, LabTopology } from './topology.js';
import { statusJson, tunMissing } from './fixtures/gateway-probes.js';
import { exitCodes, fixture, SipGateway, sipp, waitListening } from './fixtures/sip-lab.js';

const pre = prerequisites({ root: true, tools: ['ip', 'ss', 'env', 'sipp'] });
const tun = tunMissing();
const skip = pre.skip || (tun !== undefined && process.env.CI !== 'true' ? tun : false);

const SRV = LAB.servers.a;
const H1 = LAB.lan1.h1;
const UNANSWERED = 300;

describe('SIP: unanswered calls do not lock the phone out (masq)', { skip }, () => {
  let lab: LabTopology;
  let gateway: SipGateway;

  before(async () => {
    pre.assert();
    if (tun) assert.fail(`TUN gateway prerequisite: ${tun}`);
    lab = LabTopology.create('sipu');
    gateway = new SipGateway(lab);
    await gateway.use('masq');
  });

  after(async () => {
    await gateway?.stop();
    await lab?.destroy();
  });

  test(`after ${UNANSWERED} unanswered calls from one phone, its next call completes`, async () => {
    // A far end on the SIP port that takes the INVITEs and never answers. -nr: one INVITE per call.
    const silent = sipp(lab, 'srv', ['-sf', fixture('sip-uas-silent.xml'), '-i', SRV, '-p', '5060', '-timeout', '60s'], 'silent UAS');
    await waitListening(lab, 'srv', 'udp', SRV, 5060);
    const unanswered = sipp(
      lab,
      'h1',
      [`${SRV}:5060`, '-sn', 'uac', '-i', H1, '-p', '5060', '-mp', '6000', '-r', '150', '-m', String(UNANSWERED), '-l', String(UNANSWERED), '-nr', '-recv_timeout', '1000', '-timeout', '30s'],
      'unanswered calls',
    );
    await exitCodes([unanswered], 45_000);
    await silent.stop('SIGINT');
    const afterUnanswered = statusJson(lab, 'gw1', '/counters');
    const sipAfterUnanswered = afterUnanswered.algs.find((a: { name: string }) => a.name === 'sip').counters;
    // The ALG saw every INVITE (otherwise this test would prove nothing).
    assert.ok(sipAfterUnanswered.messages >= UNANSWERED * 0.9, `SIP ALG saw ${sipAfterUnanswered.messages} messages`);

    const uas = sipp(lab, 'srv', ['-sn', 'uas', '-i', SRV, '-p', '5060', '-m', '1', '-timeout', '30s', '-timeout_error'], 'UAS');
    await waitListening(lab, 'srv', 'udp', SRV, 5060);
    const call = sipp(lab, 'h1', [`${SRV}:5060`, '-sn', 'uac', '-i', H1, '-p', '5060', '-mp', '6000', '-m', '1', '-timeout', '20s', '-timeout_error'], 'ordinary call');
    const codes = await exitCodes([call, uas], 40_000);
    const counters = statusJson(lab, 'gw1', '/counters');
    const sip = counters.algs.find((a: { name: string }) => a.name === 'sip').counters;

    // All three at once, so a failure shows the whole picture.
    assert.deepEqual(
      { engineErrorsDuringUnansweredCalls: afterUnanswered.loop.engineErrors, ordinaryCall: codes, engineErrors: counters.loop.engineErrors },
      { engineErrorsDuringUnansweredCalls: 0, ordinaryCall: [0, 0], engineErrors: 0 },
      `ordinary call: ${call.errors().slice(-1000)}\nSIP ALG: ${JSON.stringify(sip)}`,
    );
  });
});
