/**
 * A reload of a running `masq gateway` in the lab, with a live call through
 * it: a sipp call from h1 with the SIP ALG, RTP flowing both ways
 * (rtp-stream.py on the phone and on the media server) while the
 * configuration changes twice:
 *
 *   SIGHUP          a new forward (udp 7100 -> h2) and an ALG option
 *                   (sip rewriteFromTo); both take effect at once: the forward
 *                   admits traffic it refused before, an OPTIONS from h2 leaves
 *                   with its From rewritten where before it kept it;
 *   --reload        a limit (flowsPerHost) and the log level (info -> debug):
 *                   h2's new flows are refused past the new limit, debug
 *                   lines appear where there were none;
 *   invalid files   on SIGHUP the gateway logs the file, line and field and
 *                   keeps running as it was; `--reload` refuses with the same.
 *
 * Asserted throughout: the call's media goes on each way after every reload
 * and never stops for long (longest silence), nothing is lost, its flows keep
 * their public ports, and the BYE still closes its pinholes.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { prerequisites } from './prereq.js';
import { LAB, LabTopology, sleep, type LabProcess } from './topology.js';
import { probe, probeServer, tunMissing } from './fixtures/gateway-probes.js';
import { fixture, sipp, waitListening } from './fixtures/sip-lab.js';
import { firstAfter, longestGap, PYTHON, rtpStream, statusJson, type Pinhole } from './fixtures/state-lab.js';

const pre = prerequisites({ root: true, tools: ['ip', 'sipp', 'ss', 'env', PYTHON] });
const tun = tunMissing();
const skip = pre.skip || (tun !== undefined && process.env.CI !== 'true' ? tun : false);

const SRV = LAB.servers.a;
const SRV_B = LAB.servers.b;
const H1 = LAB.lan1.h1;
const H2 = LAB.lan1.h2;
const PUB = LAB.gw1.public;
/** A status port of this file's own: the control token file is named by it. */
const STATUS_PORT = 8841;
/** The call lasts this long (ms), the RTP streams a little less: every reload happens inside it. */
const CALL_MS = 30_000;
const RTP_SECONDS = 24;
/**
 * 50 packets/s, 20 ms apart. A flow a reload dropped would leave silence to
 * the end of the stream (and the counts short). The bounds leave room for a
 * busy 2-CPU machine descheduling the gateway: stalls of over a second were
 * seen there, at moments unrelated to any reload.
 */
const MAX_SILENCE_MS = 3000;
/** After each reload, media must be seen again each way within this. */
const RESUME_MS = 2000;

interface Version {
  forward7100?: boolean;
  rewriteFromTo?: boolean;
  flowsPerHost?: number;
  level?: string;
  broken?: string;
}

function gatewayConfig(lab: LabTopology, v: Version): string {
  const base = lab.masqConfig('gw1', '', STATUS_PORT).replace('  level: debug', `  level: ${v.level ?? 'info'}`);
  return [
    base,
    'algs:',
    '  - name: sip',
    '    ports: [udp/5060]',
    `    options: { rewriteFromTo: ${v.rewriteFromTo ?? false} }`,
    'forwards:',
    `  - { protocol: udp, port: 7000, to: ${H2} }`,
    ...(v.forward7100 ? [`  - { protocol: udp, port: 7100, to: ${H2} }`] : []),
    'limits:',
    `  flowsPerHost: ${v.flowsPerHost ?? 64}`,
    ...(v.broken ? [v.broken] : []),
    '',
  ].join('\n');
}

/** A SIP OPTIONS from h2:5062 to srv's second address; returns the From the server got. */
const SIP_SINK = [
  'import socket,sys',
  's=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)',
  `s.bind(('${SRV_B}',5060))`,
  "print('ready',flush=True)",
  'while True:',
  '  d,p=s.recvfrom(65535)',
  "  f=[l for l in d.decode(errors='replace').split('\\r\\n') if l.lower().startswith('from:')]",
  "  print('FROM',(f or ['none'])[0],flush=True)",
].join('\n');

function sendOptions(lab: LabTopology, n: number): void {
  const msg = [
    `OPTIONS sip:probe@${SRV_B} SIP/2.0`,
    `Via: SIP/2.0/UDP ${H2}:5062;branch=z9hG4bKreload${n};rport`,
    `From: <sip:alice@${H2}:5062>;tag=r${n}`,
    `To: <sip:probe@${SRV_B}>`,
    `Call-ID: reload-options-${n}`,
    'CSeq: 1 OPTIONS',
    `Contact: <sip:alice@${H2}:5062>`,
    'Max-Forwards: 70',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
  const script = `import socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('${H2}',5062))\ns.sendto(sys.argv[1].encode(),('${SRV_B}',5060))`;
  lab.exec('h2', [PYTHON, '-c', script, msg]);
}

async function fromHeaderAt(sink: LabProcess, n: number): Promise<string> {
  const all = await sink.waitFor(new RegExp(`(?:FROM .*\\n[^]*){${n}}`), 5000);
  const lines = all[0].split('\n').filter((l) => l.startsWith('FROM '));
  return lines[n - 1];
}

/** JSON log lines of the gateway's output. */
function logLines(output: string): Array<Record<string, unknown>> {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
}

describe('gateway reload in the lab, a call live through it', { skip }, () => {
  let lab: LabTopology;

  before(() => {
    pre.assert();
    if (tun) assert.fail(`TUN gateway prerequisite: ${tun}`);
    lab = LabTopology.create('rld');
  });
  after(async () => {
    await lab?.destroy();
  });

  test('SIGHUP and --reload change a forward, an ALG option, a limit and the log level; media keeps flowing; invalid files change nothing', async (t) => {
    const file = join(lab.dir, 'gw1-reload.yaml');
    const write = (v: Version) => writeFileSync(file, gatewayConfig(lab, v));
    write({});
    const masq = lab.spawn('gw1', lab.masqArgv('gateway', '--config', file), 'masq gateway (gw1)');
    await masq.waitFor(/"msg":"gateway started"/, 30_000);
    const flowsOf = () => statusJson<{ flows: Array<{ inside: { address: string; port: number }; public: { port: number } }> }>(lab, 'gw1', '/flows', STATUS_PORT).flows;
    const pinholes = () => statusJson<{ expectations: Pinhole[] }>(lab, 'gw1', '/expectations', STATUS_PORT).expectations;
    const cliReload = () => lab.exec('gw1', lab.masqArgv('gateway', '--reload', '--config', file), { timeoutMs: 60_000, allowFail: true });

    // The long call: sip-uac-long.xml with a pause of CALL_MS.
    const scenario = join(lab.dir, 'sip-uac-reload.xml');
    writeFileSync(scenario, readFileSync(fixture('sip-uac-long.xml'), 'utf8').replace('<pause milliseconds="20000"/>', `<pause milliseconds="${CALL_MS}"/>`));
    const uas = sipp(lab, 'srv', ['-sn', 'uas', '-i', SRV, '-p', '5060', '-mp', '7000', '-m', '1', '-timeout', '90s'], 'UAS');
    await waitListening(lab, 'srv', 'udp', SRV, 5060);
    const server = rtpStream(lab, 'srv', `${SRV}:6500`, 'latch', RTP_SECONDS + 4, 'server');
    const uac = sipp(lab, 'h1', [`${SRV}:5060`, '-sf', scenario, '-key', 'rtpport', '6000', '-s', 'uas', '-i', H1, '-p', '5060', '-mp', '16000', '-m', '1', '-timeout', '90s', '-timeout_error'], 'UAC');
    let callPinholes: Pinhole[] = [];
    for (let i = 0; i < 100 && callPinholes.length === 0; i++) {
      await sleep(100);
      callPinholes = pinholes().filter((p) => p.inside.port === 6000);
    }
    assert.equal(callPinholes.length, 1, 'the call\'s RTP pinhole');
    const phone = rtpStream(lab, 'h1', `${H1}:6000`, { to: `${SRV}:6500` }, RTP_SECONDS, 'phone');
    await sleep(1000);
    const callFlows = () => flowsOf().filter((f) => f.inside.address === H1).map((f) => `${f.inside.port}>${f.public.port}`).sort();
    const flowsBefore = callFlows();
    assert.ok(flowsBefore.some((f) => f.startsWith('6000>')) && flowsBefore.some((f) => f.startsWith('5060>')), `the call's flows: ${flowsBefore}`);

    // Controls before any reload: 7100 is not forwarded, the ALG keeps From as it is.
    const echo = await probeServer(lab, 'h2', ['udp-echo', '--port', '7100']);
    const echo7 = await probeServer(lab, 'srv', ['udp-echo', '--port', '7']);
    const optionsSink = lab.spawn('srv', [PYTHON, '-c', SIP_SINK], 'SIP sink');
    await optionsSink.waitFor(/^ready$/m, 10_000);
    assert.equal(probe(lab, 'srv', ['udp-ask', '--to', `${PUB}:7100`, '--timeout', '1', '--tries', '1']).ok, false, 'udp 7100 is not forwarded yet');
    sendOptions(lab, 1);
    assert.match(await fromHeaderAt(optionsSink, 1), new RegExp(`^FROM From: <sip:alice@${H2.replace(/\./g, '\\.')}:5062>`), 'From kept before the reload');

    // 1. SIGHUP: a forward and an ALG option.
    write({ forward7100: true, rewriteFromTo: true });
    masq.proc.kill('SIGHUP');
    await masq.waitFor(/"msg":"configuration reloaded: algs, forwards"/, 10_000);
    const forwarded = probe(lab, 'srv', ['udp-ask', '--to', `${PUB}:7100`, '--sport', '5555', '--timeout', '2', '--tries', '2']);
    assert.ok(forwarded.ok, `the new forward admits udp 7100: ${JSON.stringify(forwarded)}`);
    assert.match(String(forwarded.reply), new RegExp(`^echo ping from ${SRV.replace(/\./g, '\\.')}:`));
    sendOptions(lab, 2);
    assert.match(await fromHeaderAt(optionsSink, 2), new RegExp(`^FROM From: <sip:alice@${PUB.replace(/\./g, '\\.')}:\\d+>`), 'From rewritten after the reload');

    // 2. --reload: a limit and the log level.
    const h2Flows = flowsOf().filter((f) => f.inside.address === H2).length;
    const limit = h2Flows + 2;
    write({ forward7100: true, rewriteFromTo: true, flowsPerHost: limit, level: 'debug' });
    const reloadedAt = masq.output.length;
    const r = cliReload();
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.equal(r.stdout.trim(), 'reloaded: limits, log');
    const asks = [4101, 4102, 4103, 4104].map((sport) => probe(lab, 'h2', ['udp-ask', '--to', `${SRV}:7`, '--sport', String(sport), '--timeout', '0.5', '--tries', '1']));
    assert.deepEqual(asks.map((a) => a.ok), [true, true, false, false], `flowsPerHost ${limit} with ${h2Flows} flows: two new ones, then refusals`);
    const h2After = flowsOf().filter((f) => f.inside.address === H2).length;
    assert.equal(h2After, limit, `h2 holds ${h2After} flows under flowsPerHost ${limit} (had ${h2Flows})`);
    await masq.waitFor(/"msg":"limit reached: inside host 10\.0\.1\.3 at \d+ flows"/, 5000);

    // 3. Invalid files: refused with file, line and field; nothing changes.
    write({ forward7100: true, rewriteFromTo: true, flowsPerHost: -1, level: 'debug' });
    const badLine = gatewayConfig(lab, { forward7100: true, flowsPerHost: -1 }).split('\n').findIndex((l) => l.includes('flowsPerHost: -1')) + 1;
    masq.proc.kill('SIGHUP');
    const refused = await masq.waitFor(/\{[^\n]*"msg":"reload refused; the running configuration stays[^\n]*\n/, 10_000);
    const problems = JSON.parse(refused[0]).problems as string[];
    assert.ok(problems.some((p) => p.startsWith(`${file}:${badLine}:`) && /limits\.flowsPerHost/.test(p)), JSON.stringify(problems));
    const bad = cliReload();
    assert.notEqual(bad.status, 0, 'masq gateway --reload of an invalid file fails');
    assert.match(bad.stderr, new RegExp(`${file.replace(/[.]/g, '\\.')}:${badLine}:\\d+.*limits\\.flowsPerHost`));
    const status = statusJson<{ reloads: { ok: number; failed: number }; forwards: unknown[] }>(lab, 'gw1', '/status', STATUS_PORT);
    assert.equal(status.reloads.ok, 2);
    assert.equal(status.reloads.failed, 1, 'the gateway saw one refused reload (the CLI refused the other before asking)');
    assert.equal(status.forwards.length, 2, 'the running forwards stay');
    // h2 is at its flow limit, so the forward's own flow (same remote port) is what still answers.
    assert.equal(probe(lab, 'srv', ['udp-ask', '--to', `${PUB}:7100`, '--sport', '5555', '--timeout', '2', '--tries', '2']).ok, true, 'the forward\'s flow still works');
    assert.equal(masq.running, true);

    // The media: never silent, the same public ports throughout.
    await Promise.all([phone.proc.exited(40_000), server.proc.exited(45_000)]);
    const atPhone = phone.result();
    const atServer = server.result();
    const gapPhone = longestGap(atPhone);
    const gapServer = longestGap(atServer);
    const reloads = logLines(masq.output)
      .filter((l) => l.event === 'reload')
      .map((l) => ({ what: String(l.msg).split('\n')[0], at: Date.parse(String(l.time)) }));
    assert.equal(reloads.length, 3, 'two reloads and one refusal logged');
    t.diagnostic(`longest silences began ${(gapServer.at - reloads[0].at).toFixed(0)} ms (toward the server) and ${(gapPhone.at - reloads[0].at).toFixed(0)} ms (toward the phone) after the first reload`);
    for (const r of reloads) {
      for (const [side, rec] of [['the server', atServer], ['the phone', atPhone]] as const) {
        const next = firstAfter(rec, r.at);
        assert.ok(next !== null && next <= RESUME_MS, `media toward ${side} ${next} ms after "${r.what}"`);
      }
    }
    t.diagnostic(`RTP: phone sent ${atPhone.sent}, server got ${atServer.received.length}, longest silence ${gapServer.ms} ms; server sent ${atServer.sent}, phone got ${atPhone.received.length}, longest silence ${gapPhone.ms} ms`);
    assert.ok(atServer.received.length >= 0.95 * atPhone.sent, `server got ${atServer.received.length} of ${atPhone.sent}`);
    assert.ok(atPhone.received.length >= 0.9 * RTP_SECONDS * 50, `phone got ${atPhone.received.length}`);
    assert.ok(gapServer.ms <= MAX_SILENCE_MS, `silence toward the server: ${gapServer.ms} ms`);
    assert.ok(gapPhone.ms <= MAX_SILENCE_MS, `silence toward the phone: ${gapPhone.ms} ms`);
    const sources = new Set(atServer.received.map(([, addr, port]) => `${addr}:${port}`));
    assert.deepEqual([...sources], [`${PUB}:${callPinholes[0].public.port}`], 'the phone\'s media kept its public port');
    assert.deepEqual(callFlows().filter((f) => flowsBefore.includes(f)), flowsBefore, 'the call\'s flows kept their public ports');

    // The BYE after the reloads still closes the call's pinholes; the debug level shows their removal.
    await Promise.all([uac.exited(60_000), uas.exited(60_000)]);
    assert.equal(uac.exitCode, 0, uac.errors().slice(-2000));
    assert.deepEqual(pinholes().filter((p) => p.group.startsWith('sip:')), [], 'BYE removed the call\'s pinholes');
    const levels = (text: string) => logLines(text).map((l) => l.level);
    assert.equal(levels(masq.output.slice(0, reloadedAt)).filter((l) => l === 20).length, 0, 'no debug line at level info');
    assert.ok(levels(masq.output.slice(reloadedAt)).some((l) => l === 20), 'debug lines after the reload to debug');
    await echo.stop();
    await echo7.stop();
    await optionsSink.stop();
    await masq.stop();
  });
});
