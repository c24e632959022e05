/**
 * A gateway killed mid-call comes back with its state (docs/state.md): a
 * sipp call through `masq gateway` with the SIP ALG, RTP flowing both ways
 * (rtp-stream.py on the phone and on the media server), then SIGKILL,
 * `masq gateway --cleanup` and a restart with the same configuration, as a
 * service manager would do. Asserted: RTP flows again in both directions
 * within 1 s of the restarted gateway saying it started; the phone's media
 * keeps its public port; the call's pinholes are still there (same ids and
 * ports); and the call's BYE, after the restart, still closes them.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { prerequisites } from './prereq.js';
import { LAB, LabTopology, sleep, type LabProcess } from './topology.js';
import { tunMissing } from './fixtures/gateway-probes.js';
import { fixture, SIP_ALG_CONFIG, sipp, waitListening } from './fixtures/sip-lab.js';
import { firstAfter, logLine, logTime, rtpStream, statusJson, type Pinhole } from './fixtures/state-lab.js';

const pre = prerequisites({ root: true, tools: ['ip', 'sipp', 'ss', 'env', '/usr/bin/python3'] });
const tun = tunMissing();
const skip = pre.skip || (tun !== undefined && process.env.CI !== 'true' ? tun : false);

const SRV = LAB.servers.a;
const H1 = LAB.lan1.h1;
const PUB = LAB.gw1.public;

describe('gateway restart mid-call (state on disk)', { skip }, () => {
  let lab: LabTopology;

  before(() => {
    pre.assert();
    if (tun) assert.fail(`TUN gateway prerequisite: ${tun}`);
    lab = LabTopology.create('strs');
  });
  after(async () => {
    await lab?.destroy();
  });

  test('SIGKILL, restart: RTP again within 1 s, the same public ports, the pinholes still there, BYE closes them', async (t) => {
    const state = `{ dir: ${join(lab.dir, 'gw1-state')}, flushMs: 50, snapshotSeconds: 5 }`;
    const config = lab.writeFile('gw1-state.yaml', lab.masqConfig('gw1', SIP_ALG_CONFIG, 8787, state));
    const startGateway = async (): Promise<LabProcess> => {
      const p = lab.spawn('gw1', lab.masqArgv('gateway', '--config', config), 'masq gateway (gw1)');
      await p.waitFor(/"msg":"gateway started"/, 30_000);
      return p;
    };
    let masq = await startGateway();

    const uas = sipp(lab, 'srv', ['-sn', 'uas', '-i', SRV, '-p', '5060', '-mp', '7000', '-m', '1', '-timeout', '90s'], 'UAS');
    await waitListening(lab, 'srv', 'udp', SRV, 5060);
    const server = rtpStream(lab, 'srv', `${SRV}:6500`, 'latch', 40, 'server');
    const uac = sipp(lab, 'h1', [`${SRV}:5060`, '-sf', fixture('sip-uac-long.xml'), '-key', 'rtpport', '6000', '-s', 'uas', '-i', H1, '-p', '5060', '-mp', '16000', '-m', '1', '-timeout', '90s', '-timeout_error'], 'UAC');
    // The call is up once its RTP pinhole is open.
    let pinholes: Pinhole[] = [];
    for (let i = 0; i < 100 && pinholes.length === 0; i++) {
      await sleep(100);
      pinholes = statusJson<{ expectations: Pinhole[] }>(lab, 'gw1', '/expectations').expectations.filter((p) => p.inside.port === 6000);
    }
    assert.equal(pinholes.length, 1, 'the call\'s RTP pinhole');
    const phone = rtpStream(lab, 'h1', `${H1}:6000`, { to: `${SRV}:6500` }, 30, 'phone');
    await sleep(3000);
    const before = statusJson<{ expectations: Pinhole[] }>(lab, 'gw1', '/expectations').expectations;

    masq.proc.kill('SIGKILL');
    await masq.exited(10_000);
    const killedAt = Date.now();
    lab.exec('gw1', lab.masqArgv('gateway', '--cleanup', '--config', config), { timeoutMs: 30_000 });
    masq = await startGateway();
    const startedAt = logTime(masq.output, /^gateway started$/)!;
    const restored = logLine(masq.output, /^state restored$/);
    t.diagnostic(`restored: ${JSON.stringify(restored)}; down for ${startedAt - killedAt} ms after the kill`);
    assert.ok(restored, `the gateway restored its state:\n${masq.output.slice(-3000)}`);
    assert.ok(Number(restored.flows) >= 2, 'the SIP and RTP flows');

    const afterRestart = statusJson<{ expectations: Pinhole[] }>(lab, 'gw1', '/expectations').expectations;
    assert.deepEqual(
      afterRestart.map((p) => [p.id, p.public.port, p.inside.port, p.group]).sort(),
      before.map((p) => [p.id, p.public.port, p.inside.port, p.group]).sort(),
      'the same pinholes, same ids and public ports',
    );

    await Promise.all([phone.proc.exited(40_000), server.proc.exited(50_000)]);
    const atPhone = phone.result();
    const atServer = server.result();
    const toPhone = firstAfter(atPhone, startedAt, SRV);
    const toServer = firstAfter(atServer, startedAt, PUB);
    t.diagnostic(`first RTP after the restart: to the phone ${toPhone} ms, to the server ${toServer} ms`);
    assert.ok(toPhone !== null && toPhone <= 1000, `RTP reached the phone ${toPhone} ms after the restart`);
    assert.ok(toServer !== null && toServer <= 1000, `RTP reached the server ${toServer} ms after the restart`);
    // The server saw the phone's media from one public endpoint only: the port the SDP announced, before and after.
    const sources = new Set(atServer.received.filter(([, addr]) => addr === PUB).map(([, addr, port]) => `${addr}:${port}`));
    assert.deepEqual([...sources], [`${PUB}:${pinholes[0].public.port}`]);
    const flows = statusJson<{ flows: Array<{ inside: { port: number }; public: { port: number } }> }>(lab, 'gw1', '/flows').flows;
    assert.equal(flows.find((f) => f.inside.port === 6000)?.public.port, pinholes[0].public.port);

    // The BYE after the restart: the ALG knew the call, its pinholes close.
    await Promise.all([uac.exited(40_000), uas.exited(40_000)]);
    assert.equal(uac.exitCode, 0, uac.errors().slice(-2000));
    const left = statusJson<{ expectations: Pinhole[] }>(lab, 'gw1', '/expectations').expectations.filter((p) => p.group.startsWith('sip:'));
    assert.deepEqual(left, [], 'BYE removed the restored call\'s pinholes');
    await masq.stop();
  });
});
