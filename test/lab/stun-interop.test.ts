/**
 * masq's STUN server and probe against third-party STUN software, in a network
 * namespace with two RFC 5737 addresses (198.51.100.10 and .11 on a veth):
 * coturn's turnutils_stunclient and turnutils_natdiscovery against
 * `masq stun serve`; `masq stun probe` against coturn's turnserver; and an
 * aioice ICE agent gathering its server-reflexive candidate from masq.
 * Everything runs in one namespace, so there is no NAT: the expected answers
 * are "mapped address = local address", endpoint-independent everything.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Daemon, DEBIAN_PYTHON, deleteNamespaces, masqArgs, missingPrereqs, run, uniqueNs } from '../stun/fixtures/lab-env.js';

const skip = missingPrereqs(['root', 'netns', 'turnserver', 'turnutils_stunclient', 'turnutils_natdiscovery', 'aioice']);
const NS = uniqueNs('stun');
const A = '198.51.100.10';
const B = '198.51.100.11';

describe('STUN interop in a namespace', { skip }, () => {
  before(() => {
    deleteNamespaces([NS]);
    run('ip', ['netns', 'add', NS]);
    run('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);
    // A veth pair with both ends inside the namespace (the dummy module may be absent).
    run('ip', ['link', 'add', 'name', 'v0', 'netns', NS, 'type', 'veth', 'peer', 'name', 'v1', 'netns', NS]);
    run('ip', ['-n', NS, 'addr', 'add', `${A}/24`, 'dev', 'v0']);
    run('ip', ['-n', NS, 'addr', 'add', `${B}/24`, 'dev', 'v0']);
    run('ip', ['-n', NS, 'link', 'set', 'v0', 'up']);
    run('ip', ['-n', NS, 'link', 'set', 'v1', 'up']);
  });
  after(() => deleteNamespaces([NS]));

  describe('third-party clients against masq stun serve', () => {
    let server: Daemon;
    before(async () => {
      // Two worker processes whatever the CPU count: the third-party clients must see one server.
      const [cmd, args] = masqArgs('serve', '--listen', `${A}:3478`, '--alternate', `${B}:3479`, '--json-log', '--stats-interval', '0', '--workers', '2');
      server = new Daemon(cmd, args, NS);
      await server.waitFor(/"event":"listening".*"workers":2/);
    });
    after(async () => {
      await server.stop();
    });

    test('turnutils_stunclient prints its reflexive address and the RFC 5780 attributes', () => {
      const out = run('turnutils_stunclient', ['-p', '3478', A], { ns: NS, timeoutMs: 20_000 });
      assert.match(out, new RegExp(`UDP reflexive addr: ${A.replace(/\./g, '\\.')}:\\d+`));
      assert.match(out, new RegExp(`Other addr: : ${B.replace(/\./g, '\\.')}:3479`));
      assert.match(out, new RegExp(`Response origin: : ${B.replace(/\./g, '\\.')}:3479`), 'answered a CHANGE-REQUEST from the alternate');
      assert.doesNotMatch(out, /error|Cannot|Wrong/i);
    });

    test('turnutils_natdiscovery -m -f classifies "no NAT" as endpoint-independent mapping and filtering', () => {
      const out = run('turnutils_natdiscovery', ['-m', '-f', '-p', '3478', A], { ns: NS, timeoutMs: 60_000 });
      assert.match(out, /NAT with Endpoint Independent Mapping!/);
      assert.match(out, /NAT with Endpoint Independent Filtering!/);
      assert.doesNotMatch(out, /The response is an error|Cannot read the response|Wrong type of response/);
    });

    test('turnutils_natdiscovery -H (hairpinning) and -P (1500-byte PADDING) run clean', () => {
      const out = run('turnutils_natdiscovery', ['-m', '-f', '-H', '-P', '-p', '3478', A], { ns: NS, timeoutMs: 60_000 });
      assert.match(out, /NAT with Endpoint Independent Mapping!/);
      assert.match(out, /NAT with Endpoint Independent Filtering!/);
      assert.doesNotMatch(out, /The response is an error|Cannot read the response|Wrong type of response/);
    });

    test('aioice gathers a server-reflexive candidate from masq', () => {
      const script = [
        'import asyncio, aioice',
        'async def main():',
        `    c = aioice.Connection(ice_controlling=True, stun_server=("${A}", 3478))`,
        '    await c.gather_candidates()',
        '    for cand in c.local_candidates: print(cand.to_sdp())',
        '    await c.close()',
        'asyncio.run(main())',
      ].join('\n');
      const out = run(DEBIAN_PYTHON, ['-c', script], { ns: NS, timeoutMs: 30_000 });
      const srflx = out.split('\n').filter((l) => / typ srflx /.test(l));
      assert.ok(srflx.length >= 1, out);
      // Without a NAT the reflexive address is the host candidate's own: raddr/rport equal it.
      for (const line of srflx) {
        const m = / (\S+) (\d+) typ srflx raddr (\S+) rport (\d+)/.exec(line);
        assert.ok(m, line);
        assert.equal(`${m[1]}:${m[2]}`, `${m[3]}:${m[4]}`);
      }
    });

    test('the server counted the requests and answered them all', async () => {
      await server.stop();
      const stopped = server.output.split('\n').find((l) => l.includes('"event":"stopped"'));
      assert.ok(stopped, server.output);
      const c = JSON.parse(stopped) as Record<string, number>;
      assert.ok(c.success > 10, stopped);
      assert.equal(c['error-400'], 0);
      assert.equal(c['error-420'], 0);
    });
  });

  describe('masq stun probe against coturn', () => {
    let coturn: Daemon;
    before(async () => {
      coturn = new Daemon(
        'turnserver',
        ['-n', '--stun-only', '--no-cli', '--no-tls', '--no-dtls', '--no-tcp', '-L', A, '-L', B, '--listening-port', '3478', '--alt-listening-port', '3479', '--log-file', 'stdout'],
        NS,
      );
      await coturn.waitFor(/IPv4\. UDP listener opened on : 198\.51\.100\.11:3479|Total (UDP|General) servers/);
    });
    after(async () => {
      await coturn.stop();
    });

    test('probe: no NAT, endpoint-independent mapping and filtering, hairpinning, port preserved', () => {
      const [cmd, args] = masqArgs('probe', `${A}:3478`, '--json', '--quiet', '--rto', '200');
      let out = '';
      // coturn opens its sockets a moment after it logs: retry a little (bounded).
      for (let i = 0; i < 5; i++) {
        out = run(cmd, args, { ns: NS, allowFail: true, timeoutMs: 60_000 });
        if (!/"udpBlocked": true/.test(out)) break;
      }
      const r = JSON.parse(out);
      assert.equal(r.udpBlocked, false);
      assert.deepEqual(r.otherAddress, { address: B, port: 3479 });
      assert.equal(r.natDetected, false);
      assert.deepEqual(r.mapping, { value: 'endpoint-independent' });
      assert.deepEqual(r.filtering, { value: 'endpoint-independent' });
      assert.deepEqual(r.hairpinning, { value: true });
      assert.deepEqual(r.portPreservation, { value: true });
    });

    test('probe prints a readable table', () => {
      const [cmd, args] = masqArgs('probe', `${A}:3478`, '--rto', '200');
      const out = run(cmd, args, { ns: NS, timeoutMs: 60_000 });
      assert.match(out, /Mapping\s+endpoint-independent/);
      assert.match(out, /Filtering\s+endpoint-independent/);
      assert.match(out, /Other address\s+198\.51\.100\.11:3479 \(RFC 5780\)/);
      assert.match(out, /Classic name\s+open internet/);
    });
  });
});
