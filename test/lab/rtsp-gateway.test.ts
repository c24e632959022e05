/**
 * RTSP through `masq gateway` with its RTSP ALG, with real peers from Debian:
 * GStreamer's RTSP server (python3-gi, gir1.2-gst-rtsp-server-1.0) on the
 * internet side serving a video and an audio stream over UDP only, and
 * GStreamer's rtspsrc behind the NAT counting the RTP packets of each stream.
 * Side by side, in the same run: the kernel's masquerade (mainline Linux has
 * no RTSP helper) and masq without the ALG.
 *
 *   - one client that sends nothing to the server's media ports
 *     (nat-method=none): only the ALG's pinholes let the media in;
 *   - two clients on one LAN with the same client ports, at once: the second
 *     SETUP gets other public ports; the first client's TEARDOWN ends its own
 *     pinholes and the second keeps playing;
 *   - a client that sends rtspsrc's dummy packets to the server's ports
 *     (nat-method=dummy), which open a NAT by themselves when the public port
 *     is the client's own.
 *
 * masq is asserted; the others are recorded (the table is printed at the end
 * and kept in docs/ftp-rtsp-tftp.md).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { prerequisites, repoRoot } from './prereq.js';
import { LAB, LabTopology, sleep, type LabProcess, type Role } from './topology.js';
import { ComparisonTable, DEBIAN_PYTHON, statusJson, tunMissing } from './fixtures/gateway-probes.js';
import { startMasqWithAlg } from './fixtures/alg-gateway.js';

const pre = prerequisites({ root: true, tools: ['ip', 'nft', 'conntrack', 'ss', DEBIAN_PYTHON], python: ['gi.repository.GstRtspServer'] });
const tun = tunMissing();
const skip = pre.skip || (tun !== undefined && process.env.CI !== 'true' ? tun : false);

const SERVER = join(repoRoot, 'test/lab/fixtures/rtsp-server.py');
const CLIENT = join(repoRoot, 'test/lab/fixtures/rtsp-client.py');
const SRV = LAB.servers.a;
const URL = `rtsp://${SRV}:8554/test`;
const NATS = ['masq', 'kernel (masquerade, no RTSP helper)', 'masq without the RTSP ALG'] as const;
type Nat = (typeof NATS)[number];

const table = new ComparisonTable([...NATS]);

interface Played {
  packets: Record<string, number>;
  perSecond: Record<string, Record<string, number>>;
  error: string | null;
}

const shown = (p: Played) => `video ${p.packets.video ?? 0}, audio ${p.packets.audio ?? 0}${p.error ? ` (${p.error})` : ''}`;

describe('RTSP through masq (RTSP ALG), real GStreamer server and rtspsrc, next to the kernel', { skip }, () => {
  let lab: LabTopology;
  let masq: LabProcess | undefined;

  before(async () => {
    pre.assert();
    if (tun) assert.fail(`TUN gateway prerequisite: ${tun}`);
    lab = LabTopology.create('rtsp');
    const server = lab.spawn('srv', [DEBIAN_PYTHON, SERVER, SRV, '8554', '60'], 'rtsp-server');
    await server.waitFor(/^ready$/m, 20_000);
  });

  after(async () => {
    await masq?.stop();
    await lab?.destroy();
    if (table.size > 0) process.stdout.write(`\n${table.markdown('RTSP through the NAT (same lab, same run)')}\n\n`);
  });

  async function use(nat: Nat): Promise<void> {
    await masq?.stop();
    masq = undefined;
    if (nat === 'kernel (masquerade, no RTSP helper)') {
      lab.useKernelNat('gw1', 'masquerade');
      return;
    }
    masq = await startMasqWithAlg(lab, nat === 'masq' ? 'rtsp' : null);
  }

  function play(role: Role, seconds: number, ports: string, natMethod: 'none' | 'dummy'): LabProcess {
    return lab.spawn(role, [DEBIAN_PYTHON, CLIENT, URL, String(seconds), ports, natMethod], `rtspsrc ${role}`);
  }

  async function result(p: LabProcess): Promise<Played> {
    await p.exited(60_000);
    const line = p.output.trim().split('\n').pop() ?? '';
    try {
      return JSON.parse(line) as Played;
    } catch {
      throw new Error(`${p.label} printed no result:\n${p.output}`);
    }
  }

  function rtspPinholes(): Array<{ inside: { address: string; port: number }; public: { port: number }; remote: { address: string } }> {
    return (statusJson(lab, 'gw1', '/expectations').expectations as Array<{ helper: string }>).filter((e) => e.helper === 'rtsp') as never;
  }

  /** The RTSP pinholes, polled until `ready` holds of them or `ms` pass (clients start at their own pace): the last list read. */
  async function pinholesOnceReady(ready: (list: ReturnType<typeof rtspPinholes>) => boolean, ms: number): Promise<ReturnType<typeof rtspPinholes>> {
    const end = Date.now() + ms;
    let list = rtspPinholes();
    while (!ready(list) && Date.now() < end) {
      await sleep(100);
      list = rtspPinholes();
    }
    return list;
  }

  function counters(): Record<string, number> {
    return statusJson(lab, 'gw1', '/counters').algs.find((a: { name: string }) => a.name === 'rtsp').counters;
  }

  for (const nat of NATS) {
    describe(`through ${nat}`, () => {
      const isMasq = nat === 'masq';
      const record = (row: string, value: string) => table.set(row, nat, value);

      test('one client, no packets of its own to the media ports: video and audio arrive', async () => {
        await use(nat);
        const client = play('h1', 4, '5000-5003', 'none');
        const during = isMasq ? await pinholesOnceReady((list) => list.length >= 4, 3500) : [];
        const r = await result(client);
        record('rtspsrc nat-method=none: RTP packets received', shown(r));
        if (!isMasq) return;
        assert.ok((r.packets.video ?? 0) > 20 && (r.packets.audio ?? 0) > 5, shown(r));
        // Two SETUPs (video, audio): an RTP and an RTCP pinhole each, admitting the server only.
        assert.deepEqual(during.map((e) => e.inside.port).sort(), [5000, 5001, 5002, 5003]);
        for (const e of during) assert.equal(e.remote.address, SRV);
        await sleep(500);
        assert.equal(rtspPinholes().length, 0, 'TEARDOWN closed them');
        const c = counters();
        assert.ok(c.setups >= 2 && c.teardowns >= 1, JSON.stringify(c));
      });

      test('two clients with the same ports at once; the first tears down, the second keeps playing', async () => {
        await use(nat);
        const first = play('h1', 3, '5000-5003', 'none');
        const second = play('h2', 7, '5000-5003', 'none');
        // Both clients' SETUPs answered (the first plays 3 s from its own start).
        const during = isMasq ? await pinholesOnceReady((list) => list.length >= 8, 4000) : [];
        const a = await result(first);
        await sleep(1500);
        const between = isMasq ? rtspPinholes() : [];
        const b = await result(second);
        // The second client's packets after the first one's TEARDOWN (its seconds 4 and on).
        const late = Object.entries(b.perSecond.video ?? {})
          .filter(([second]) => Number(second) >= 4)
          .reduce((n, [, v]) => n + v, 0);
        record('two clients, same ports: first client', shown(a));
        record('two clients, same ports: second client', `${shown(b)}; ${late} video packets after the first one's TEARDOWN`);
        if (!isMasq) return;
        assert.ok((a.packets.video ?? 0) > 10, `first: ${shown(a)}`);
        assert.ok((b.packets.video ?? 0) > 10 && late > 10, `second: ${shown(b)}, late ${late}`);
        assert.equal(during.length, 8, 'four pinholes per client');
        const publicOf = (host: string) => during.filter((e) => e.inside.address === host).map((e) => e.public.port).sort();
        assert.notDeepEqual(publicOf(LAB.lan1.h1), publicOf(LAB.lan1.h2), 'the second client got other public ports');
        for (const host of [LAB.lan1.h1, LAB.lan1.h2]) {
          const ports = publicOf(host);
          assert.equal(ports[0] % 2, 0);
          assert.equal(ports[1], ports[0] + 1, 'an even/odd pair');
        }
        assert.deepEqual([...new Set(between.map((e) => e.inside.address))], [LAB.lan1.h2], 'only the second client\'s pinholes after the first TEARDOWN');
      });

      test('a client that sends dummy packets to the server\'s ports first', async () => {
        await use(nat);
        const r = await result(play('h1', 4, '5000-5003', 'dummy'));
        record('rtspsrc nat-method=dummy: RTP packets received', shown(r));
        if (isMasq) assert.ok((r.packets.video ?? 0) > 20 && (r.packets.audio ?? 0) > 5, shown(r));
      });
    });
  }
});
