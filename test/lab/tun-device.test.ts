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
import { tmpdir } from 'node:os';
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

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..');
const probe = join(here, 'fixtures', 'tun-device-probe.ts');
const namespace = `masq-tun-${process.pid}`;
const inCi = process.env.CI === 'true';

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
    ];
    for (const options of bad) assert.throws(() => openTun(options), isTunError('TUN_INVALID_OPTIONS'), JSON.stringify(options));
  });
});

const missing = missingPrerequisite();

function runProbe(scenario: string, wrap: string[] = []): Record<string, any> {
  const command = [...wrap, process.execPath, '--import', 'tsx', probe, scenario];
  const r = spawnSync('ip', ['netns', 'exec', namespace, ...command], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 30_000,
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
