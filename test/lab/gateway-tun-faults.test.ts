/**
 * masq gateway with its TUN devices deleted under it (ip link del, as an
 * operator's slip or a network manager's cleanup would): the gateway keeps
 * running, logs the loss, recreates the device with its routes, and the
 * flows it held carry on with the same public mapping. Stopping it afterwards
 * still leaves the namespace as it was before the start.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { prerequisites } from './prereq.js';
import { LAB, LabTopology, type LabProcess } from './topology.js';
import { DEBIAN_PYTHON, PROBE, probe, routingState, statusJson, tunMissing } from './fixtures/gateway-probes.js';

const pre = prerequisites({ root: true, tools: ['ip', 'nft', DEBIAN_PYTHON] });
const tun = tunMissing();
const skip = pre.skip || (tun !== undefined && process.env.CI !== 'true' ? tun : false);
const SPORT = 40123;

describe('masq gateway: a TUN device deleted under it', { skip }, () => {
  let lab: LabTopology;
  let masq: LabProcess | undefined;
  let clean: string;

  before(async () => {
    pre.assert();
    if (tun) assert.fail(`TUN gateway prerequisite: ${tun}`);
    lab = LabTopology.create('tunf');
    await lab.spawn('srv', [DEBIAN_PYTHON, PROBE, 'udp-echo', '--port', '7'], 'udp echo').waitFor(/ready/);
    await lab.spawn('srv', [DEBIAN_PYTHON, PROBE, 'tcp-serve', '--port', '8000'], 'tcp serve').waitFor(/ready/);
    lab.useMasqAddressing('gw1');
    clean = routingState(lab, 'gw1');
    masq = await lab.startMasq('gw1', lab.masqConfig('gw1').replace('level: debug', 'level: info'));
  });

  after(async () => {
    await masq?.stop();
    await lab?.destroy();
  });

  /** The public endpoint the server saw for h1's fixed source port. */
  const askFromH1 = (): string => {
    const r = probe(lab, 'h1', ['udp-ask', '--to', `${LAB.servers.a}:7`, '--sport', String(SPORT), '--timeout', '6', '--tries', '6']);
    assert.ok(r.ok, `h1's UDP question went unanswered: ${JSON.stringify(r)}`);
    const seen = /from (\S+)$/.exec(String(r.reply))?.[1];
    assert.ok(seen?.startsWith(`${LAB.gw1.public}:`), `the server saw ${seen}`);
    return seen!;
  };

  test('each device is recreated with its routes; the gateway runs on and the flow keeps its mapping', async () => {
    const mapped = askFromH1();
    const flowsBefore = statusJson(lab, 'gw1', '/status').flows as number;

    for (const dev of ['masq-in', 'masq-out']) {
      lab.exec('gw1', ['ip', 'link', 'del', dev]);
      await masq!.waitFor(new RegExp(`"event":"tun-recovered"[^\\n]*"device":"${dev}"`), 20_000);
      assert.equal(askFromH1(), mapped, `after ${dev} was recreated, h1's flow keeps its public endpoint`);
    }

    assert.ok(masq!.running, `the gateway exited:\n${masq!.output.slice(-2000)}`);
    assert.match(masq!.output, /"event":"tun-lost"[^\n]*"device":"masq-in"/, 'the loss of masq-in was logged');
    assert.match(masq!.output, /"event":"tun-lost"[^\n]*"device":"masq-out"/, 'the loss of masq-out was logged');
    const status = statusJson(lab, 'gw1', '/status');
    assert.deepEqual(status.tun.lost, [], 'no device is still missing');
    assert.equal(status.tun.recreated, 2);
    assert.ok(status.flows >= flowsBefore, `the engine kept its flows (${flowsBefore} before, ${status.flows} after)`);
    const tcp = probe(lab, 'h2', ['tcp-ask', '--to', `${LAB.servers.a}:8000`, '--timeout', '6']);
    assert.ok(tcp.ok && String(tcp.line).includes(LAB.gw1.public), `a new TCP connection through the recreated devices: ${JSON.stringify(tcp)}`);
    const routes = lab.exec('gw1', ['ip', 'route', 'show', 'table', 'all']).stdout;
    assert.match(routes, /default dev masq-in table/, 'the inside table routes into the recreated masq-in');
    assert.match(routes, /default dev masq-out table/, 'the outside table routes into the recreated masq-out');
    assert.equal(routes.match(/blackhole default table \d+ metric 4294967295/g)?.length, 2, 'both tables keep their fail-closed fallback');
  });

  test('stopping after a recovery leaves the namespace as it was before the start', async () => {
    await masq!.stop();
    masq = undefined;
    assert.equal(routingState(lab, 'gw1'), clean);
  });
});
