/**
 * Failover to a standby gateway mid-call (docs/state.md): two `masq gateway`s
 * share the state through Redis, keepalived (VRRP) moves the virtual
 * addresses the phone and the router route through. A sipp call with RTP
 * both ways runs through the active one; it dies (processes killed, links
 * down). Asserted: media resumes through the standby within 3 s in both
 * directions; every mapping the dead gateway had keeps its public port on
 * the standby; the call's pinholes are there with the same ids and ports;
 * and the call's BYE, sent on the test's cue once the standby holds the
 * addresses, gets its 200 through the standby and closes them (the SIP ALG's
 * call state was replicated too).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { prerequisites } from './prereq.js';
import { sleep, type LabProcess } from './topology.js';
import { tunMissing } from './fixtures/gateway-probes.js';
import { FAILOVER, FailoverLab, type GatewayName } from './fixtures/failover-lab.js';
import { fixture, SIP_ALG_CONFIG } from './fixtures/sip-lab.js';
import { firstAfter, logTime, PYTHON, statusJson, type Pinhole, type RtpRecord } from './fixtures/state-lab.js';
import { readFileSync } from 'node:fs';

const pre = prerequisites({ root: true, tools: ['ip', 'sipp', 'keepalived', 'redis-server', '/usr/bin/python3'] });
const tun = tunMissing();
const skip = pre.skip || (tun !== undefined && process.env.CI !== 'true' ? tun : false);

/** The call's Call-ID (sipp's -cid_str; the first call is number 1), so the test can address the call. */
const CALL_ID = 'failover-%u@lab';
/** An INFO in the call, from beside the phone to the phone: `python3 -c CUE <phone address> <Call-ID>`. */
const CUE = [
  'import socket,sys',
  'p,c=sys.argv[1],sys.argv[2]',
  "m='\\r\\n'.join(['INFO sip:sipp@%s:5060 SIP/2.0'%p,'Via: SIP/2.0/UDP %s:5070;branch=z9hG4bKcue'%p,'From: <sip:test@%s>;tag=cue'%p,'To: <sip:sipp@%s>'%p,'Call-ID: '+c,'CSeq: 1 INFO','Content-Length: 0','',''])",
  's=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)',
  "s.bind((p,5070))",
  "s.sendto(m.encode(),(p,5060))",
].join('\n');

interface FlowJson {
  proto: string;
  inside: { address: string; port: number };
  public: { address: string; port: number };
  remote: { address: string; port: number };
}

describe('failover to a standby gateway mid-call (Redis, keepalived)', { skip }, () => {
  const lab = new FailoverLab('fo');

  before(() => {
    pre.assert();
    if (tun) assert.fail(`TUN gateway prerequisite: ${tun}`);
    lab.build();
  });
  after(async () => {
    await lab.destroy();
  });

  test('the primary dies: media back through the standby within 3 s, every mapping on its public port, BYE closes the pinholes', async (t) => {
    const redis = lab.spawn('rt', ['redis-server', '--bind', FAILOVER.router, '--port', '6379', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], 'redis');
    await redis.waitFor(/Ready to accept connections/, 10_000);
    const redisUrl = `redis://${FAILOVER.router}:6379`;
    const gateways = {} as Record<GatewayName, { masq: LabProcess; keepalived: LabProcess }>;
    for (const [g, priority] of [['ga', 150], ['gb', 100]] as const) {
      const config = lab.writeFile(`${g}.yaml`, lab.masqConfig(g, redisUrl, SIP_ALG_CONFIG));
      const masq = lab.spawn(g, lab.masqArgv('gateway', '--config', config), `masq gateway (${g})`);
      await masq.waitFor(/"msg":"gateway started"/, 30_000);
      const kconf = lab.writeFile(`${g}-keepalived.conf`, lab.keepalivedConfig(g, priority));
      const pid = (n: string) => `${lab.dir}/${g}-${n}.pid`;
      const keepalived = lab.spawn(g, ['keepalived', '-n', '-l', '-P', '-f', kconf, '-p', pid('k'), '-r', pid('v'), '-c', pid('c')], `keepalived (${g})`);
      gateways[g] = { masq, keepalived };
    }
    for (let i = 0; i < 100 && !lab.holdsVip('ga'); i++) await sleep(100);
    assert.ok(lab.holdsVip('ga'), `ga holds the virtual addresses:\n${gateways.ga.keepalived.output.slice(-2000)}`);
    assert.ok(!lab.holdsVip('gb'));

    // The call through ga.
    const sipp = (role: 'ph' | 'sv', args: string[], label: string) => lab.spawn(role, ['env', '-C', lab.dir, 'sipp', ...args, '-nostdin'], `sipp ${label}`);
    const uas = sipp('sv', ['-sn', 'uas', '-i', FAILOVER.server, '-p', '5060', '-mp', '7000', '-m', '1', '-timeout', '90s'], 'UAS');
    await sleep(500);
    const rtp = (role: 'ph' | 'sv', bind: string, target: string[], seconds: number, name: string) => {
      const out = `${lab.dir}/${name}.json`;
      return { proc: lab.spawn(role, [PYTHON, fixture('rtp-stream.py'), '--bind', bind, '--seconds', String(seconds), '--out', out, ...target], name), result: () => JSON.parse(readFileSync(out, 'utf8')) as RtpRecord };
    };
    const server = rtp('sv', `${FAILOVER.server}:6500`, ['--latch'], 40, 'server');
    // The call ends on the test's cue (sip-uac-failover.xml), after the failover: its BYE goes through the standby.
    const uac = sipp('ph', [`${FAILOVER.server}:5060`, '-sf', fixture('sip-uac-failover.xml'), '-cid_str', CALL_ID, '-key', 'rtpport', '6000', '-s', 'uas', '-i', FAILOVER.phone, '-p', '5060', '-mp', '16000', '-m', '1', '-timeout', '90s', '-timeout_error'], 'UAC');
    const pinholesOf = (g: GatewayName) => statusJson<{ expectations: Pinhole[] }, GatewayName>(lab, g, '/expectations').expectations;
    let pinholes: Pinhole[] = [];
    for (let i = 0; i < 100 && pinholes.length === 0; i++) {
      await sleep(100);
      pinholes = pinholesOf('ga').filter((p) => p.inside.port === 6000);
    }
    assert.equal(pinholes.length, 1, 'the call\'s RTP pinhole on ga');
    const phone = rtp('ph', `${FAILOVER.phone}:6000`, ['--to', `${FAILOVER.server}:6500`], 30, 'phone');
    await sleep(3000);

    // The standby already holds the call.
    const flowsOf = (g: GatewayName) => statusJson<{ flows: FlowJson[] }, GatewayName>(lab, g, '/flows').flows;
    const key = (f: FlowJson) => `${f.proto} ${f.inside.address}:${f.inside.port} ${f.remote.address}:${f.remote.port}`;
    const onA = flowsOf('ga');
    const sorted = (ps: Pinhole[]) => ps.map((p) => [p.id, p.public.port, p.inside.port, p.group].join(' ')).sort();
    assert.deepEqual(sorted(pinholesOf('gb')), sorted(pinholesOf('ga')), 'gb holds ga\'s pinholes');

    // A standby that saw traffic before the primary died (keepalived briefly master on both) would have stopped following.
    const gbKeepalivedBefore = gateways.gb.keepalived.output;
    const gbActiveBefore = logTime(gateways.gb.masq.output, /this gateway is active now/);
    await lab.powerOff('ga', [gateways.ga.masq, gateways.ga.keepalived]);
    const killedAt = Date.now();
    t.diagnostic(`before ga died: gb's keepalived became master ${gbKeepalivedBefore.split('Entering MASTER STATE').length - 1} times; gb active: ${gbActiveBefore === null ? 'no' : 'yes'}`);
    for (let i = 0; i < 50 && !lab.holdsVip('gb'); i++) await sleep(100);
    assert.ok(lab.holdsVip('gb'), 'gb took the virtual addresses');
    t.diagnostic(`gb holds the virtual addresses ${Date.now() - killedAt} ms after ga died (polled)`);
    // The cue: the phone sends its BYE now, through gb (a BYE on a timer could meet the kill on a slow machine, its 200 lost with ga).
    lab.exec('ph', [PYTHON, '-c', CUE, FAILOVER.phone, CALL_ID.replace('%u', '1')]);

    await Promise.all([phone.proc.exited(40_000), server.proc.exited(50_000)]);
    const toPhone = firstAfter(phone.result(), killedAt, FAILOVER.server);
    const toServer = firstAfter(server.result(), killedAt, FAILOVER.public);
    t.diagnostic(`first RTP after the primary died: to the phone ${toPhone} ms, to the server ${toServer} ms`);
    assert.ok(toPhone !== null && toPhone <= 3000, `media to the phone resumed after ${toPhone} ms`);
    assert.ok(toServer !== null && toServer <= 3000, `media to the server resumed after ${toServer} ms`);
    // The server saw the phone's media from one public endpoint, before and after: the port its SDP announced.
    const sources = new Set(server.result().received.filter(([, a]) => a === FAILOVER.public).map(([, a, p]) => `${a}:${p}`));
    assert.deepEqual([...sources], [`${FAILOVER.public}:${pinholes[0].public.port}`]);
    // Every mapping ga had is on gb with the same public port.
    const onB = new Map(flowsOf('gb').map((f) => [key(f), f.public.port]));
    for (const f of onA) if (onB.has(key(f))) assert.equal(onB.get(key(f)), f.public.port, key(f));
    assert.ok(onA.every((f) => onB.has(key(f))), `every flow of ga is on gb: ${onA.map(key).filter((k) => !onB.has(k)).join(', ')}`);

    await Promise.all([uac.exited(40_000), uas.exited(40_000)]);
    const signalling = (fs: FlowJson[]) => fs.filter((f) => f.inside.port === 5060).map((f) => `${key(f)} public ${f.public.port}`);
    assert.equal(
      uac.exitCode,
      0,
      `${uac.output.slice(-2000)}\nthe phone's signalling flow on ga before: ${signalling(onA)}; on gb now: ${signalling(flowsOf('gb'))}\n` +
        `gb:\n${gateways.gb.masq.output.slice(-3000)}\nga:\n${gateways.ga.masq.output.slice(-3000)}\n` +
        `keepalived on ga:\n${gateways.ga.keepalived.output.slice(-1500)}\nkeepalived on gb:\n${gateways.gb.keepalived.output.slice(-1500)}\n` +
        `gb's pinholes: ${JSON.stringify(pinholesOf('gb'))}\nUAS:\n${uas.output.slice(-2500)}`,
    );
    assert.deepEqual(pinholesOf('gb').filter((p) => p.group.startsWith('sip:')), [], 'the BYE through gb closed the call\'s pinholes');
    const status = statusJson<{ state: { replication: { role: string } } }, GatewayName>(lab, 'gb', '/status');
    assert.equal(status.state.replication.role, 'active');
  });
});
