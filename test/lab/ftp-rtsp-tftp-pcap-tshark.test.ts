/**
 * `masq pcap translate --alg ftp|rtsp|tftp` on real captures, decoded by
 * tshark: what the inside hosts sent leaves from the public address; the
 * addresses and ports the ALGs rewrite carry the public endpoint; every
 * other byte of each TCP stream (as tshark reassembles it) is the input's;
 * and the pinholes open for exactly what the capture needs:
 *
 * - ftp_ipv4.pcap: two PORTs rewritten, both active data connections admitted
 *   (without the ALG they are held and dropped); passive ones as before;
 * - ftp.pcap: passive only: the stream unchanged, every data connection through;
 * - ftp_ftp-many-port-expected.pcap: 500 PORTs naming a third party: no
 *   pinhole, every PORT as written;
 * - ftp_failed.pcap: FTP over IPv6 passes untranslated, packet for packet;
 * - rtsp.pcap: SETUPs onto public even/odd pairs (random port allocation, so
 *   the text changes), replies given back the client's ports;
 * - rtsp_setup_http.pcapng: one SETUP in the middle of a connection (no
 *   verified boundary): passed, nothing opened;
 * - tftp.pcap: the servers' answers from new ports reach the clients (without
 *   the ALG three transfers' first answers are filtered).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { capturesDir, prerequisites, repoRoot } from './prereq.js';

const pre = prerequisites({ tools: ['tshark'], captures: true });
const PUBLIC = '203.0.113.1';

interface Summary {
  packetsIn: number;
  packetsOut: number;
  dropped: number;
  expectations: number;
  counters: { expectationsOpened: number; drops: Record<string, number>; passes: Record<string, number> };
}

function tshark(file: string, args: string[]): string {
  return execFileSync('tshark', ['-r', file, '-n', ...args], { encoding: 'utf8', maxBuffer: 256 << 20, stdio: ['ignore', 'pipe', 'ignore'] });
}

function fields(file: string, filter: string, names: string[]): string[][] {
  return tshark(file, ['-Y', filter, '-T', 'fields', '-E', 'separator=/t', ...names.flatMap((f) => ['-e', f])])
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('\t'));
}

/**
 * What each endpoint sent to each other over TCP, reassembled from tshark's
 * decode of the payloads by sequence number (repeated segments counted once),
 * keyed "from > to". In a translated capture the two directions of one
 * connection carry different addresses (the inside host's packets leave from
 * the public address; the replies are shown as delivered to the inside
 * host), so each direction is its own key.
 */
function tcpStreams(file: string): Map<string, string> {
  const segments = new Map<string, Array<[number, Buffer]>>();
  for (const [src, sport, dst, dport, seq, payload] of fields(file, 'tcp.len > 0', ['ip.src', 'tcp.srcport', 'ip.dst', 'tcp.dstport', 'tcp.seq_raw', 'tcp.payload'])) {
    const key = `${src}:${sport} > ${dst}:${dport}`;
    if (!segments.has(key)) segments.set(key, []);
    segments.get(key)!.push([Number(seq), Buffer.from(payload.replace(/:/g, ''), 'hex')]);
  }
  const out = new Map<string, string>();
  for (const [key, list] of segments) {
    list.sort((x, y) => x[0] - y[0]);
    const base = list[0][0];
    let text = '';
    for (const [seq, bytes] of list) {
      const at = seq - base;
      if (at + bytes.length > text.length) text += bytes.subarray(text.length - at).toString('latin1');
    }
    out.set(key, text);
  }
  return out;
}

/** The connections opened (SYN without ACK; a repeated SYN counted once), as "client > server", in order. */
function connections(file: string): string[] {
  return [...new Set(fields(file, 'tcp.flags.syn == 1 && tcp.flags.ack == 0', ['ip.src', 'tcp.srcport', 'ip.dst', 'tcp.dstport']).map(([a, ap, b, bp]) => `${a}:${ap} > ${b}:${bp}`))];
}

/**
 * The input's connections from inside hosts (`isInside` tests an address),
 * each with the public endpoint it has in the output: connections to the
 * same server are matched in the order they were opened.
 */
function translatedConnections(input: string, output: string, isInside: (addr: string) => boolean): Array<{ client: string; server: string; publicClient: string }> {
  const outs = connections(output).filter((c) => c.startsWith(`${PUBLIC}:`));
  const used = new Map<string, number>();
  return connections(input)
    .filter((c) => isInside(c.split(':')[0]))
    .map((c) => {
      const [client, server] = c.split(' > ');
      const k = used.get(server) ?? 0;
      used.set(server, k + 1);
      const o = outs.filter((x) => x.endsWith(` > ${server}`))[k];
      assert.ok(o, `the output has ${c} leaving from the public address`);
      return { client, server, publicClient: o.split(' > ')[0] };
    });
}

describe('masq pcap translate --alg ftp|rtsp|tftp on real captures, checked by tshark', { skip: pre.skip }, () => {
  let dir = '';
  before(() => {
    pre.assert();
    dir = mkdtempSync(join(tmpdir(), `masq-ftp-pcap-${process.pid}-`));
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function translate(file: string, inside: string, alg: string | null, extra: string[] = []): { out: string; summary: Summary } {
    const out = join(dir, `${alg ?? 'none'}-${extra.join('')}-${file}`);
    const args = ['pcap', 'translate', join(capturesDir, file), out, '--inside', inside, '--public', PUBLIC, '--json', ...extra];
    if (alg) args.push('--alg', alg);
    const summary = JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), ...args], { encoding: 'utf8', cwd: repoRoot })) as Summary;
    return { out, summary };
  }

  test('ftp_ipv4.pcap: PORT rewritten to the public endpoint, active data connections admitted, nothing else changed', () => {
    const input = join(capturesDir, 'ftp_ipv4.pcap');
    const { out, summary } = translate('ftp_ipv4.pcap', '141.142.220.235/32', 'ftp');
    const ports = fields(out, 'ftp.request.command == "PORT"', ['ip.src', 'ftp.active.cip', 'ftp.active.port']);
    assert.equal(ports.length, 2);
    for (const [src, cip] of ports) {
      assert.equal(src, PUBLIC);
      assert.equal(cip, PUBLIC, 'tshark reads the public address in the PORT');
    }
    // The data connections go to the ports the PORTs named, and reach the client.
    const syns = fields(out, 'tcp.flags.syn == 1 && tcp.flags.ack == 0 && ip.src == 199.233.217.249', ['ip.dst', 'tcp.dstport']);
    assert.deepEqual(syns.map(([d, p]) => `${d}:${p}`).sort(), ports.map(([, , p]) => `141.142.220.235:${p}`).sort());
    assert.equal(summary.dropped, 0);
    // The control stream is the input's but for the PORT arguments.
    const [control] = translatedConnections(input, out, (a) => a === '141.142.220.235').filter((c) => c.server.endsWith(':21'));
    const [a, b] = [tcpStreams(input), tcpStreams(out)];
    assert.equal(b.get(`${control.server} > ${control.client}`), a.get(`${control.server} > ${control.client}`), 'server to client unchanged');
    const portArgs = /PORT [0-9,]+\r\n/g;
    const clientSent = b.get(`${control.publicClient} > ${control.server}`)!;
    assert.equal(clientSent.replace(portArgs, 'PORT x\r\n'), a.get(`${control.client} > ${control.server}`)!.replace(portArgs, 'PORT x\r\n'), 'client to server unchanged but for PORT');
    assert.match(clientSent, /PORT 203,0,113,1,\d+,\d+\r\n/);
    // Every connection of the input is in the output, data connections included.
    assert.equal(connections(out).length, connections(input).length);
    // Without the ALG, the active data connections do not get in.
    const without = translate('ftp_ipv4.pcap', '141.142.220.235/32', null);
    assert.equal(fields(without.out, 'tcp.flags.syn == 1 && tcp.flags.ack == 0 && ip.src == 199.233.217.249', ['ip.dst']).length, 0);
    assert.ok(without.summary.dropped >= 2);
  });

  test('ftp.pcap: passive mode passes as it was, every data connection through', () => {
    const input = join(capturesDir, 'ftp.pcap');
    const { out, summary } = translate('ftp.pcap', '192.168.1.0/24', 'ftp');
    assert.equal(summary.dropped, 0);
    assert.equal(connections(out).length, connections(input).length);
    const pasv = fields(out, 'ftp.response.code == 227', ['ftp.passive.ip']);
    assert.ok(pasv.length >= 2);
    for (const [ip] of pasv) assert.equal(ip, '90.130.70.73');
    for (const [src] of fields(out, 'ip.src != 90.130.70.73', ['ip.src'])) assert.equal(src, PUBLIC);
    const [a, b] = [tcpStreams(input), tcpStreams(out)];
    for (const c of translatedConnections(input, out, (x) => x.startsWith('192.168.1.'))) {
      assert.equal(b.get(`${c.publicClient} > ${c.server}`), a.get(`${c.client} > ${c.server}`), `${c.client} > ${c.server}`);
      assert.equal(b.get(`${c.server} > ${c.client}`), a.get(`${c.server} > ${c.client}`), `${c.server} > ${c.client}`);
    }
  });

  test('ftp_ftp-many-port-expected.pcap: 500 third-party PORTs open no pinhole and pass as written', () => {
    const input = join(capturesDir, 'ftp_ftp-many-port-expected.pcap');
    const { out, summary } = translate('ftp_ftp-many-port-expected.pcap', '10.0.0.1/32', 'ftp');
    assert.equal(summary.counters.expectationsOpened, 0);
    assert.equal(summary.expectations, 0);
    const inArgs = fields(input, 'ftp.request.command == "PORT"', ['ftp.request.arg']).map((f) => f[0]);
    const outArgs = fields(out, 'ftp.request.command == "PORT"', ['ftp.request.arg', 'ip.src']);
    assert.equal(inArgs.length, 500);
    assert.deepEqual(outArgs.map((f) => f[0]), inArgs);
    for (const f of outArgs) assert.equal(f[1], PUBLIC);
  });

  test('ftp_failed.pcap (IPv6): passes untranslated, packet for packet', () => {
    const input = join(capturesDir, 'ftp_failed.pcap');
    const { out, summary } = translate('ftp_failed.pcap', '10.0.0.0/8', 'ftp');
    assert.equal(summary.packetsOut, summary.packetsIn);
    const show = (f: string) => fields(f, 'tcp', ['ipv6.src', 'ipv6.dst', 'tcp.srcport', 'tcp.dstport', 'tcp.seq_raw', 'tcp.payload']);
    assert.deepEqual(show(out), show(input));
  });

  test('rtsp.pcap: SETUP client_port on public even/odd pairs, replies given back the client\'s ports', () => {
    const input = join(capturesDir, 'rtsp.pcap');
    const { out, summary } = translate('rtsp.pcap', '10.1.1.0/24', 'rtsp', ['--ports', 'random']);
    assert.equal(summary.dropped, 0);
    const setupsIn = fields(input, 'rtsp.method == "SETUP" && !tcp.analysis.retransmission', ['rtsp.transport']);
    const setupsOut = fields(out, 'rtsp.method == "SETUP"', ['ip.src', 'rtsp.transport']);
    assert.ok(setupsOut.length >= 10);
    const publicPairs = new Set<string>();
    for (const [src, transport] of setupsOut) {
      assert.equal(src, PUBLIC);
      const m = /client_port=(\d+)-(\d+)/.exec(transport);
      assert.ok(m, transport);
      assert.equal(Number(m[1]) % 2, 0, `RTP even in ${transport}`);
      assert.equal(Number(m[2]), Number(m[1]) + 1);
      publicPairs.add(m[1]);
    }
    assert.ok(summary.counters.expectationsOpened >= 2 * setupsIn.length);
    // Each connection: the client's requests unchanged but for client_port; the server's replies exactly as sent.
    const conns = translatedConnections(input, out, (a) => a === '10.1.1.10');
    assert.equal(conns.length, 6);
    const ports = /client_port=\d+-\d+/g;
    const [a, b] = [tcpStreams(input), tcpStreams(out)];
    for (const c of conns) {
      const req = a.get(`${c.client} > ${c.server}`)!;
      assert.match(req, /SETUP/);
      assert.equal(b.get(`${c.publicClient} > ${c.server}`)!.replace(ports, 'client_port=x'), req.replace(ports, 'client_port=x'), `${c.client} requests`);
      assert.equal(b.get(`${c.server} > ${c.client}`), a.get(`${c.server} > ${c.client}`), `${c.client}: replies as sent, client_port given back`);
    }
  });

  test('rtsp_setup_http.pcapng: a SETUP without a verified boundary passes as it was and opens nothing', () => {
    const input = join(capturesDir, 'rtsp_setup_http.pcapng');
    const { out, summary } = translate('rtsp_setup_http.pcapng', '172.28.5.0/24', 'rtsp', ['--ports', 'random']);
    assert.equal(summary.counters.expectationsOpened, 0);
    const show = (f: string) => fields(f, 'tcp', ['tcp.payload']);
    assert.deepEqual(show(out), show(input));
    assert.deepEqual(fields(out, 'tcp', ['ip.src'])[0], [PUBLIC]);
  });

  test('tftp.pcap: the servers\' answers from new ports reach the clients; without the ALG the first ones are filtered', () => {
    const input = join(capturesDir, 'tftp.pcap');
    const inside = '192.168.0.253/32,172.28.4.53/32,172.28.5.91/32,192.168.2.45/32';
    const { out, summary } = translate('tftp.pcap', inside, 'tftp');
    assert.equal(summary.dropped, 0);
    // Not decoded as TFTP in the output (tshark ties the answers to a request from the same address): compared as UDP.
    const answers = (f: string) => fields(f, 'udp && udp.srcport != 69 && (ip.dst == 192.168.0.253 || ip.dst == 172.28.5.91 || ip.dst == 192.168.2.45)', ['ip.dst', 'udp.dstport', 'udp.payload']);
    assert.equal(answers(input).length, 52);
    assert.deepEqual(answers(out), answers(input));
    for (const [src] of fields(out, 'udp.dstport == 69', ['ip.src'])) assert.equal(src, PUBLIC);
    assert.ok(summary.counters.expectationsOpened >= 3);
    const without = translate('tftp.pcap', inside, null);
    assert.equal(without.summary.counters.drops.filtered, 3);
  });
});
