// The native TUN device (src/dataplane/tun) against the real kernel.
//
// Each device scenario runs in a child process started with
// `ip netns exec NS node --import tsx fixtures/tun-device-probe.ts <scenario>`.
// Why a child rather than creating the tun here and `ip link set DEV netns NS`:
// the scenarios need more than the device inside the namespace (UDP sockets
// that send into it and receive what JS writes, ping), and a Node process
// cannot enter a namespace itself. Running the whole scenario in the
// namespace keeps every packet, socket and interface out of the host's.
//
// The error-mapping tests at the top need no privileges and always run.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openTun, TunError } from '../../src/dataplane/tun/device.js';
import {
  assertTunPlatform,
  defaultAddonPaths,
  loadTunAddon,
  tunErrorFromIo,
  tunErrorFromOpen,
} from '../../src/dataplane/tun/native.js';
import { fromHex, ipv4HeaderChecksumOk, parseUdp4, udpChecksumOk } from './fixtures/tun-packets.js';

const IFF_VNET_HDR = 0x4000;

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..');
const probe = join(here, 'fixtures', 'tun-device-probe.ts');
const namespace = `masq-tun-${process.pid}`;
const inCi = process.env.CI === 'true';

/** USO (UDP segmentation offload on TUN) came with Linux 6.2. */
function kernelAtLeast(major: number, minor: number): boolean {
  const [a, b] = release().split('.').map((x) => parseInt(x, 10));
  return a > major || (a === major && b >= minor);
}

function hasCommand(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

function missingPrerequisite(): string | undefined {
  if (process.platform !== 'linux') return `TUN devices need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'needs root to create network namespaces and TUN devices';
  if (!hasCommand('ip')) return 'needs the ip command (iproute2)';
  if (!existsSync('/dev/net/tun')) return '/dev/net/tun is missing (modprobe tun)';
  if (!defaultAddonPaths().some((p) => existsSync(p))) return 'native addon not built: run npm ci or npm run build:native';
  return undefined;
}

function isTunError(code: string) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof TunError, `expected a TunError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  };
}

describe('TUN errors an operator can act on (no privileges needed)', () => {
  test('a missing addon says how to build it', () => {
    assert.throws(
      () => loadTunAddon(['/nonexistent/build/Release/masq_tun.node']),
      (err: unknown) =>
        isTunError('TUN_ADDON_MISSING')(err) && /npm ci/.test((err as Error).message) && /build:native/.test((err as Error).message),
    );
  });

  test('a file that is not a loadable addon is reported as incompatible', () => {
    const dir = mkdtempSync(join(tmpdir(), 'masq-tun-'));
    try {
      const bogus = join(dir, 'masq_tun.node');
      writeFileSync(bogus, 'not an ELF shared object');
      assert.throws(() => loadTunAddon([bogus]), isTunError('TUN_ADDON_INCOMPATIBLE'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('other platforms are refused before anything is loaded', () => {
    for (const platform of ['darwin', 'win32', 'freebsd']) {
      assert.throws(
        () => assertTunPlatform(platform),
        (err: unknown) => isTunError('TUN_UNSUPPORTED_PLATFORM')(err) && (err as Error).message.includes(platform),
      );
    }
    assert.doesNotThrow(() => assertTunPlatform('linux'));
  });

  test('open failures map to codes and advice', () => {
    const ctx = { name: 'masq0', devicePath: '/dev/net/tun', mtu: undefined };
    const sys = (code: string, syscall: string) => Object.assign(new Error(`${syscall}: ${code}`), { code, syscall });
    const cases: [string, string, string, RegExp][] = [
      ['EPERM', 'ioctl(TUNSETIFF)', 'TUN_PERMISSION_DENIED', /CAP_NET_ADMIN/],
      ['EACCES', 'open', 'TUN_PERMISSION_DENIED', /\/dev\/net\/tun/],
      ['ENOENT', 'open', 'TUN_DEVICE_NODE_MISSING', /modprobe tun/],
      ['ENODEV', 'open', 'TUN_DEVICE_NODE_MISSING', /modprobe tun/],
      ['EBUSY', 'ioctl(TUNSETIFF)', 'TUN_NAME_IN_USE', /masq0/],
      ['EINVAL', 'ioctl(TUNSETIFF)', 'TUN_NAME_IN_USE', /not a TUN device of the same kind/],
      ['EMFILE', 'open', 'TUN_IO_ERROR', /EMFILE/],
    ];
    for (const [code, syscall, expected, advice] of cases) {
      const mapped = tunErrorFromOpen(sys(code, syscall), ctx);
      assert.ok(mapped instanceof TunError);
      assert.equal(mapped.code, expected, `${code} from ${syscall}`);
      assert.equal(mapped.errno, code);
      assert.match(mapped.message, advice);
    }
    const mtu = tunErrorFromOpen(sys('EINVAL', 'ioctl(SIOCSIFMTU)'), { ...ctx, mtu: 70000 });
    assert.equal(mtu.code, 'TUN_INVALID_OPTIONS');
    assert.match(mtu.message, /70000/);
  });

  test('read failures map to codes', () => {
    const gone = tunErrorFromIo(-9, 'poll', 'masq0');
    assert.equal(gone.code, 'TUN_INTERFACE_GONE');
    assert.match(gone.message, /ip link del/);
    const other = tunErrorFromIo(-5, 'read', 'masq0');
    assert.equal(other.code, 'TUN_IO_ERROR');
    assert.equal(other.errno, 'EIO');
  });

  test('invalid options are refused before the kernel is asked', { skip: process.platform !== 'linux' && 'Linux only' }, () => {
    const bad = [
      { name: 'masq-name-too-long' },
      { name: '' },
      { name: 'has space' },
      { name: 'a/b' },
      { mtu: 67 },
      { mtu: 65536 },
      { mtu: 1500.5 },
      { batchSize: 0 },
      { batchSize: 1025 },
      { offload: 'yes' as unknown as boolean },
    ];
    for (const options of bad) assert.throws(() => openTun(options), isTunError('TUN_INVALID_OPTIONS'), JSON.stringify(options));
  });
});

const missing = missingPrerequisite();

function runProbe(scenario: string, wrap: string[] = [], args: string[] = []): Record<string, any> {
  const command = [...wrap, process.execPath, '--import', 'tsx', probe, scenario, ...args];
  const r = spawnSync('ip', ['netns', 'exec', namespace, ...command], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 45_000,
  });
  assert.equal(r.status, 0, `probe ${scenario} exited ${r.status} (${r.signal ?? 'no signal'}): ${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}

if (missing !== undefined && inCi) {
  test('TUN lab prerequisites (CI=true)', () => assert.fail(`TUN lab test cannot run: ${missing}`));
}

describe('TUN device in a network namespace', { skip: missing ?? false }, () => {
  before(() => {
    spawnSync('ip', ['netns', 'del', namespace], { stdio: 'ignore' });
    const add = spawnSync('ip', ['netns', 'add', namespace], { encoding: 'utf8' });
    assert.equal(add.status, 0, add.stderr);
    spawnSync('ip', ['-n', namespace, 'link', 'set', 'lo', 'up']);
  });
  after(() => {
    spawnSync('ip', ['netns', 'del', namespace], { stdio: 'ignore' });
  });

  test('a UDP datagram routed into the tun reaches JS byte for byte', () => {
    const r = runProbe('read-udp');
    assert.equal(r.name, 'masqtun0');
    const packet = fromHex(r.packet);
    assert.equal(packet[0], 0x45, 'IPv4 without options');
    assert.equal((packet[2] << 8) | packet[3], packet.length, 'IPv4 total length is the read length');
    assert.ok(ipv4HeaderChecksumOk(packet), 'IPv4 header checksum');
    assert.ok(udpChecksumOk(packet), 'UDP checksum');
    const udp = parseUdp4(packet);
    assert.ok(udp);
    assert.deepEqual(
      { src: udp.src, dst: udp.dst, sport: udp.sport, dport: udp.dport },
      { src: '10.77.0.1', dst: '10.77.0.2', sport: r.sport, dport: 5000 },
    );
    assert.deepEqual(Buffer.from(udp.payload), Buffer.from(r.payload, 'hex'));
  });

  test('readNow takes the packets waiting now, without a wake, and hands them to the handler (busy polling)', () => {
    const r = runProbe('read-now');
    assert.ok(r.first >= 3, `readNow read ${r.first}`);
    assert.equal(r.ours, 3, 'the three datagrams reached the handler');
    assert.equal(r.empty, 0, 'nothing left: the next readNow finds none');
    assert.equal(r.wakes, 0, 'no wake took part');
    assert.equal(r.stats.busyPollHits, 1);
    assert.equal(r.stats.packetsRead, r.first);
    assert.equal(r.closedError, 'TUN_CLOSED');
  });

  test('ICMP echo replies written back in place from the callback answer ping', () => {
    const r = runProbe('ping-reply');
    assert.equal(r.exitCode, 0, r.output);
    assert.match(r.output, /3 packets transmitted, 3 received/);
    assert.equal(r.replies, 3);
    assert.equal(r.stats.packetsWritten, 3);
  });

  test('UDP datagrams written by JS reach a socket; one with a bad checksum does not', () => {
    const r = runProbe('write-udp');
    assert.equal(r.singleWritten, true);
    assert.equal(r.corruptWritten, true, 'the kernel takes the write and drops the datagram later');
    assert.equal(r.batchConsumed, 3);
    assert.deepEqual(
      r.received.map((m: { payload: string }) => m.payload),
      ['single', 'batch-0', 'batch-1', 'batch-2'],
    );
    for (const m of r.received) assert.deepEqual({ address: m.address, port: m.port }, { address: '10.77.0.2', port: 4000 });
    assert.equal(r.outOfBoundsError, 'RangeError');
    assert.equal(r.writtenByOutOfBounds, 0, 'a batch with a packet outside the buffer writes nothing');
    assert.equal(r.nonIpWritten, false);
    assert.equal(r.stats.writeRejected, 1);
    assert.equal(r.stats.lastWriteError, 'EINVAL');
    assert.equal(r.stats.packetsWritten, 5);
  });

  test('a burst is read in batches: more than one packet per wake, never more than batchSize', () => {
    const r = runProbe('batching');
    const total = r.counts.reduce((a: number, b: number) => a + b, 0);
    assert.equal(total, r.burst);
    assert.equal(r.stats.packetsRead, total);
    assert.ok(r.stats.wakes >= r.counts.length, 'the handler runs at most once per wake');
    assert.ok(Math.max(...r.counts) > 1, `counts per wake: ${r.counts}`);
    assert.ok(Math.max(...r.counts) <= r.batchSize, `counts per wake: ${r.counts}`);
  });

  test('mtu sets the interface MTU; a longer packet is dropped whole and counted', () => {
    const r = runProbe('mtu-truncation');
    assert.equal(r.sysMtu, 1280);
    assert.ok(r.maxPacketSize >= 1280);
    assert.ok(r.lengths.includes(38), `lengths read: ${r.lengths}`);
    assert.ok(r.lengths.every((n: number) => n <= r.maxPacketSize), `lengths read: ${r.lengths}`);
    assert.equal(r.stats.readTruncated, 1);
  });

  test('close removes the interface, is idempotent, and later calls fail with TUN_CLOSED', () => {
    const r = runProbe('close');
    assert.match(r.name, /^tun\d+$/, 'kernel-chosen name');
    assert.equal(r.existedWhileOpen, true);
    assert.equal(r.existsAfterClose, false);
    assert.notEqual(r.ipLinkShowStatus, 0);
    assert.equal(r.secondCloseError, '');
    assert.equal(r.closed, true);
    assert.deepEqual(r.codes, { write: 'TUN_CLOSED', writeBatch: 'TUN_CLOSED', onPackets: 'TUN_CLOSED' });
  });

  test('multi-queue: queues share one interface that lives until the last queue closes', () => {
    const r = runProbe('multi-queue');
    assert.deepEqual(r.names, ['masqmq0', 'masqmq0']);
    assert.ok((parseInt(r.tunFlags, 16) & 0x0100) !== 0, `tun_flags ${r.tunFlags} has IFF_MULTI_QUEUE`);
    assert.equal(r.singleQueueOnMulti?.code, 'TUN_NAME_IN_USE');
    assert.equal(r.perQueue[0] + r.perQueue[1], r.sent);
    assert.ok(r.perQueue[0] > 0 && r.perQueue[1] > 0, `16 flows spread over both queues: ${r.perQueue}`);
    assert.equal(r.existsWithOneQueue, true);
    assert.equal(r.existsWithNoQueue, false);
    assert.equal(r.secondOpenOfSingle?.code, 'TUN_NAME_IN_USE');
    assert.equal(r.secondOpenOfSingle?.errno, 'EBUSY');
  });

  test('offload: IFF_VNET_HDR with a 10-byte header, checksum offload, TSO and USO; reads up to 64 KiB', () => {
    const r = runProbe('offload-open');
    assert.equal(r.vnetHeaderSize, 10);
    assert.deepEqual(r.offloads, { checksum: true, tso4: true, tso6: true, tsoEcn: true, uso: kernelAtLeast(6, 2) });
    assert.equal(r.maxPacketSize, 65535, 'GSO packets exceed the MTU');
    assert.ok((r.tunFlags & IFF_VNET_HDR) !== 0, `tun_flags ${r.tunFlags.toString(16)}`);
    assert.deepEqual(r.plain, { vnetHeaderSize: 0, offloads: null, maxPacketSize: 1500, tunFlags: r.plain.tunFlags });
    assert.equal(r.plain.tunFlags & IFF_VNET_HDR, 0);
  });

  test('offload: a UDP datagram arrives with its header: checksum left partial, not GSO', () => {
    const r = runProbe('offload-read-udp');
    assert.deepEqual(r.header, { flags: 1, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 20, csumOffset: 6 });
    const udp = parseUdp4(fromHex(r.packet));
    assert.deepEqual({ sport: udp?.sport, dport: udp?.dport }, { sport: r.sport, dport: 5000 });
    assert.ok(ipv4HeaderChecksumOk(fromHex(r.packet)));
  });

  test('offload: writes carry a header (zero by default, or given; before each offset in a batch)', () => {
    const r = runProbe('offload-write');
    assert.equal(r.zeroHeader, true);
    assert.equal(r.explicitHeader, true);
    assert.equal(r.batchConsumed, 2);
    assert.deepEqual(r.received, ['zero-header', 'explicit-header', 'batch-0', 'batch-1']);
    assert.equal(r.noRoomForHeader, 'RangeError', 'a batch packet with no room for its header before it');
    assert.equal(r.shortHeader, 'RangeError');
    assert.equal(r.bogusWritten, false, 'an unknown GSO type is refused by the kernel');
    assert.equal(r.stats.writeRejected, 1);
    assert.equal(r.stats.lastWriteError, 'EINVAL');
  });

  for (const mode of ['keep', 'complete']) {
    test(`offload: TCP super-packets read, readdressed and written back are cut into valid segments (${mode} checksum)`, () => {
      const r = runProbe('offload-gso-forward', [], [mode]);
      assert.equal(r.mode, mode);
      assert.ok(r.reads.gso > 0, 'the kernel handed over GSO packets');
      assert.ok(r.reads.maxLength > 1500, `largest read ${r.reads.maxLength} bytes, more than the MTU`);
      assert.deepEqual(r.reads.gsoTypes, [1], 'VIRTIO_NET_HDR_GSO_TCPV4');
      for (const h of r.reads.headers) {
        assert.deepEqual({ flags: h.flags, csumStart: h.csumStart, csumOffset: h.csumOffset }, { flags: 1, csumStart: 20, csumOffset: 16 });
        assert.ok(h.gsoSize > 0 && h.gsoSize <= 1460, `gso_size ${h.gsoSize}`);
      }
      assert.equal(r.offloadStats.writeRejected, 0, 'the kernel took every super-packet back');
      assert.ok(r.segments.count > r.reads.gso, 'the plain device got segments');
      assert.ok(r.segments.maxLength <= 1500, `segments of at most the MTU (${r.segments.maxLength})`);
      assert.equal(r.segments.badChecksum, 0, 'every segment has a complete, correct TCP checksum');
      assert.equal(r.serverPeer, '10.77.0.3');
      assert.equal(r.serverBytes, r.sent);
      assert.equal(r.hashMatches, true);
    });
  }

  test('offload: a UDP GSO packet made by coalescing 20 datagrams comes out as those 20, forwarded or delivered', { skip: !kernelAtLeast(6, 2) && 'UDP GSO on TUN needs Linux 6.2' }, () => {
    const r = runProbe('offload-udp-gso-write');
    assert.equal(r.forwardWritten, true);
    assert.equal(r.localWritten, true);
    assert.ok(r.superLength > 1500);
    assert.deepEqual(r.segments, r.originals, 'byte for byte, identification and all, but for the TTL the hop took');
    assert.equal(r.udpChecksumsOk, true);
    assert.deepEqual(r.messages, r.payloads, 'the socket got every datagram, in order');
    assert.equal(r.stats.writeRejected, 0);
  });

  test('deleting the interface under an open device is reported as TUN_INTERFACE_GONE', () => {
    const r = runProbe('interface-deleted');
    assert.equal(r.failure?.isTunError, true);
    assert.equal(r.failure?.code, 'TUN_INTERFACE_GONE');
  });

  test('without CAP_NET_ADMIN, opening fails with TUN_PERMISSION_DENIED', { skip: !hasCommand('setpriv') && 'needs setpriv (util-linux)' }, () => {
    const r = runProbe('open-error', ['setpriv', '--bounding-set', '-net_admin']);
    assert.equal(r.opened, false);
    assert.equal(r.isTunError, true);
    assert.equal(r.code, 'TUN_PERMISSION_DENIED');
    assert.equal(r.errno, 'EPERM');
    assert.match(r.message, /CAP_NET_ADMIN/);
  });

  test('without /dev/net/tun, opening fails with TUN_DEVICE_NODE_MISSING', { skip: !hasCommand('unshare') && 'needs unshare (util-linux)' }, () => {
    // A private mount namespace with an empty tmpfs over /dev/net hides the device node from the probe only.
    const hide = ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs masq-test /dev/net && exec "$0" "$@"'];
    const r = runProbe('open-error', hide);
    assert.equal(r.opened, false);
    assert.equal(r.code, 'TUN_DEVICE_NODE_MISSING');
    assert.equal(r.errno, 'ENOENT');
    assert.match(r.message, /modprobe tun/);
  });
});
