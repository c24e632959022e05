/**
 * masq gateway under a LAN host that sends malformed frames as fast as it
 * can (test/lab/fixtures/flood.py junk: valid UDP, TCP and ICMP packets with
 * random damage, written straight onto the link so the sender's kernel
 * repairs nothing) while another inside host keeps asking UDP and TCP
 * questions of a server outside. The gateway keeps running and answering its
 * status endpoint, the other host keeps being served, what reached the
 * engine is counted as drops, and no exception escaped the engine.
 *
 * Then its configuration file is broken (a YAML syntax error, a value out of
 * range) and the gateway told to reload with SIGHUP: it refuses, logs why,
 * counts it, keeps running on the old configuration and keeps the flows; a
 * valid file afterwards reloads.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { prerequisites, repoRoot } from './prereq.js';
import { LAB, LabTopology, type LabProcess } from './topology.js';
import { DEBIAN_PYTHON, PROBE, probe, statusJson, tunMissing } from './fixtures/gateway-probes.js';

const pre = prerequisites({ root: true, tools: ['ip', 'nft', DEBIAN_PYTHON] });
const tun = tunMissing();
const skip = pre.skip || (tun !== undefined && process.env.CI !== 'true' ? tun : false);
const FLOOD = join(repoRoot, 'test/lab/fixtures/flood.py');
const SECONDS = 8;

/** Every numeric leaf of the counters, by path. */
function leaves(v: unknown, path = '', out = new Map<string, number>()): Map<string, number> {
  if (typeof v === 'number') out.set(path, v);
  else if (Array.isArray(v)) v.forEach((x, i) => leaves(x, `${path}[${(x as { name?: string })?.name ?? i}]`, out));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) leaves(x, path ? `${path}.${k}` : k, out);
  return out;
}

describe('masq gateway: a LAN host sending malformed frames at line rate', { skip }, () => {
  let lab: LabTopology;
  let masq: LabProcess | undefined;

  before(async () => {
    pre.assert();
    if (tun) assert.fail(`TUN gateway prerequisite: ${tun}`);
    lab = LabTopology.create('fault');
    await lab.spawn('srv', [DEBIAN_PYTHON, PROBE, 'udp-echo', '--port', '7'], 'udp echo').waitFor(/ready/);
    await lab.spawn('srv', [DEBIAN_PYTHON, PROBE, 'tcp-serve', '--port', '8000'], 'tcp serve').waitFor(/ready/);
    lab.useMasqAddressing('gw1');
    masq = await lab.startMasq('gw1', lab.masqConfig('gw1').replace('level: debug', 'level: info'));
  });

  after(async () => {
    await masq?.stop();
    await lab?.destroy();
  });

  test('the gateway keeps running and serving the other host; the damage is counted, nothing escapes the engine', async (t) => {
    const mac = lab.exec('gw1', ['cat', '/sys/class/net/lan0/address']).stdout.trim();
    const before = leaves(statusJson(lab, 'gw1', '/counters'));
    const junk = lab.spawn('h1', [DEBIAN_PYTHON, FLOOD, 'junk', '--dev', 'eth0', '--mac', mac, '--src', LAB.lan1.h1, '--to', LAB.servers.a, '--seconds', String(SECONDS)], 'junk h1');
    const user = lab.spawn('h2', [DEBIAN_PYTHON, FLOOD, 'user', '--udp', `${LAB.servers.a}:7`, '--tcp', `${LAB.servers.a}:8000`, '--seconds', String(SECONDS)], 'user h2');
    await junk.exited((SECONDS + 30) * 1000);
    await user.exited((SECONDS + 30) * 1000);
    const sent = JSON.parse(junk.output.trim().split('\n').pop()!);
    const got = JSON.parse(user.output.trim().split('\n').pop()!);
    const afterCounters = leaves(statusJson(lab, 'gw1', '/counters'));
    const moved = [...afterCounters].map(([k, v]) => [k, v - (before.get(k) ?? 0)] as const).filter(([k, d]) => d !== 0 && /drop|error/i.test(k));
    t.diagnostic(`junk sent ${sent.sent} frames in ${sent.seconds} s; the other host: UDP ${got.udpAnswered}/${got.udpAsked}, TCP ${got.tcpOk}/${got.tcpTried}; counters moved: ${moved.map(([k, d]) => `${k} ${d}`).join(', ')}`);

    assert.ok(masq!.running, `the gateway exited:\n${masq!.output.slice(-2000)}`);
    assert.ok(sent.sent > 1000, `the junk sender sent ${sent.sent} frames`);
    assert.ok(got.udpAnswered >= got.udpAsked / 2 && got.udpAnswered > 0, `UDP answered ${got.udpAnswered}/${got.udpAsked}`);
    assert.ok(got.tcpOk >= got.tcpTried / 2 && got.tcpOk > 0, `TCP ${got.tcpOk}/${got.tcpTried}`);
    assert.equal((afterCounters.get('loop.engineErrors') ?? 0) - (before.get('loop.engineErrors') ?? 0), 0, 'no exception escaped the engine');
    const drops = moved.filter(([k]) => /^engine\.drops\./.test(k)).reduce((a, [, d]) => a + d, 0);
    assert.ok(drops > 0, 'the damaged packets that reached the engine were counted as drops');
    assert.doesNotMatch(masq!.output, /"level":(50|60)/, 'no error or fatal logged');
  });

  test('an invalid configuration on reload is refused and logged; the gateway runs on with its flows, and a valid one then reloads', async () => {
    const file = join(lab.dir, readdirSync(lab.dir).find((f) => f.startsWith('gw1-') && f.endsWith('.yaml'))!);
    const good = readFileSync(file, 'utf8');
    const ask = () => probe(lab, 'h1', ['udp-ask', '--to', `${LAB.servers.a}:7`, '--sport', '40222', '--timeout', '6', '--tries', '6']);
    const first = ask();
    assert.ok(first.ok, JSON.stringify(first));
    const flows = statusJson(lab, 'gw1', '/status').flows as number;
    const broken = [`${good}\nlimits: [unclosed\n`, `${good}\nlimits:\n  flows: -5\n`];
    for (const [i, text] of broken.entries()) {
      writeFileSync(file, text);
      masq!.proc.kill('SIGHUP');
      await sleepUntil(() => (masq!.output.match(/"msg":"reload refused/g)?.length ?? 0) === i + 1, 20_000);
    }
    assert.ok(masq!.running, 'the gateway runs on');
    const st = statusJson(lab, 'gw1', '/status');
    assert.equal(st.reloads.failed, 2, 'both refusals counted');
    assert.ok(st.flows >= flows, `the flows stay (${flows} before, ${st.flows} after)`);
    const again = ask();
    assert.ok(again.ok && again.reply === first.reply, `the flow carries on with its mapping: ${JSON.stringify(again)} vs ${JSON.stringify(first)}`);

    writeFileSync(file, good.replace('level: info', 'level: warn'));
    masq!.proc.kill('SIGHUP');
    await sleepUntil(() => statusJson(lab, 'gw1', '/status').reloads.ok === 1, 20_000);
    assert.equal(statusJson(lab, 'gw1', '/status').reloads.failed, 2);
  });
});

async function sleepUntil(ok: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) assert.fail('timed out');
    await new Promise((r) => setTimeout(r, 250));
  }
}
