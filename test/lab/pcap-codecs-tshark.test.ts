/**
 * The capture codecs against real files recorded by other people, with tshark as
 * the independent decoder: same record count, timestamps, lengths, IP versions,
 * VLAN ids and IP packet lengths; and tshark reads what our writers produce.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { iterateCapture, readCapture, writePcap, writePcapng } from '../../src/wire/capture.js';
import type { CaptureFile, CaptureRecord } from '../../src/wire/capture.js';
import { LinkType, decodeLinkFrame } from '../../src/wire/link-layer.js';

const repoRoot = new URL('../../', import.meta.url);
const capturesDir = fileURLToPath(new URL('../shared/captures/', repoRoot));
const capturesMissing = existsSync(capturesDir) ? false : `no captures at ${capturesDir} (see DESIGN.md: real captures live beside the repo)`;
const captureFiles = capturesMissing ? [] : readdirSync(capturesDir).filter((f) => /\.pcap(ng)?$/.test(f)).sort();

const tsharkPresent = spawnSync('tshark', ['-v'], { stdio: 'ignore' }).status === 0;
const tsharkSkip = tsharkPresent ? false : 'tshark not installed';
const inCi = process.env.CI === 'true';

interface TsharkFrame {
  time: string;
  capLen: number;
  len: number;
  kind: 'ipv4' | 'ipv6' | 'other';
  vlanId: number | undefined;
  ipLength: number | undefined;
}

const LINK_PROTOCOLS = new Set(['eth', 'ethertype', 'vlan', 'sll', 'null', 'loop', 'raw']);

function kindOfProtocols(protocols: string): TsharkFrame['kind'] {
  const network = protocols.split(':').find((p) => !LINK_PROTOCOLS.has(p));
  return network === 'ip' ? 'ipv4' : network === 'ipv6' ? 'ipv6' : 'other';
}

function tshark(path: string): Promise<TsharkFrame[]> {
  const fields = ['frame.number', 'frame.time_epoch', 'frame.cap_len', 'frame.len', 'frame.protocols', 'vlan.id', 'ip.len', 'ipv6.plen'];
  const args = ['-r', path, '-T', 'fields', '-E', 'occurrence=f', ...fields.flatMap((f) => ['-e', f])];
  return new Promise((resolve, reject) => {
    execFile('tshark', args, { maxBuffer: 64 * 1024 * 1024, timeout: 60_000 }, (error, stdout) => {
      if (error) return reject(error);
      const lines = stdout.split('\n').filter((l) => l.length > 0);
      resolve(
        lines.map((line) => {
          const [, time, capLen, len, protocols, vlan, ipLen, ipv6Plen] = line.split('\t');
          const kind = kindOfProtocols(protocols);
          // Lengths the IP header cannot vouch for (TSO's 0, jumbograms) are left out.
          const ipLength =
            kind === 'ipv4' && Number(ipLen) >= 20 ? Number(ipLen) : kind === 'ipv6' && Number(ipv6Plen) > 0 ? 40 + Number(ipv6Plen) : undefined;
          return { time, capLen: Number(capLen), len: Number(len), kind, vlanId: vlan ? Number(vlan) : undefined, ipLength };
        }),
      );
    });
  });
}

/** At most `limit` tshark processes at once: each costs a few hundred milliseconds of CPU. */
async function mapLimited<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  });
  await Promise.all(workers);
  return results;
}

function epoch(record: CaptureRecord): string {
  return `${record.tsSec}.${String(record.tsNsec).padStart(9, '0')}`;
}

function compareWithTshark(records: CaptureRecord[], frames: TsharkFrame[], label: string): void {
  assert.equal(records.length, frames.length, `${label}: record count (tshark says ${frames.length})`);
  records.forEach((record, i) => {
    const frame = frames[i];
    const where = `${label} frame ${i + 1}`;
    assert.equal(epoch(record), frame.time, `${where}: timestamp`);
    assert.equal(record.data.length, frame.capLen, `${where}: captured length`);
    assert.equal(record.origLength, frame.len, `${where}: original length`);
    const decoded = decodeLinkFrame(record.linkType, record.data);
    assert.equal(decoded.kind, frame.kind, `${where}: network protocol`);
    assert.equal(decoded.vlanIds?.[0], frame.vlanId, `${where}: VLAN id`);
    if (!decoded.ipTruncated && frame.ipLength !== undefined) {
      assert.equal(decoded.payload.length, frame.ipLength, `${where}: IP length`);
    }
  });
}

describe('real captures', { skip: capturesMissing }, () => {
  const files = new Map<string, { bytes: Uint8Array; capture: CaptureFile }>();
  const tsharkFrames = new Map<string, TsharkFrame[]>();
  let workDir = '';

  before(async () => {
    for (const name of captureFiles) {
      const bytes = new Uint8Array(readFileSync(join(capturesDir, name)));
      files.set(name, { bytes, capture: readCapture(bytes) });
    }
    if (tsharkPresent) {
      const all = await mapLimited(captureFiles, 4, (name) => tshark(join(capturesDir, name)));
      captureFiles.forEach((name, i) => tsharkFrames.set(name, all[i]));
    }
    workDir = mkdtempSync(join(tmpdir(), `masq-captures-${process.pid}-`));
  });

  after(() => {
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it('tshark is available (required in CI)', { skip: tsharkPresent || inCi ? false : 'tshark not installed: comparisons skipped' }, () => {
    assert.ok(tsharkPresent, 'tshark is required when CI=true');
  });

  for (const name of captureFiles) {
    describe(name, () => {
      it('reads cleanly, finds IP in it, and the lazy reader agrees', () => {
        const { bytes, capture } = files.get(name)!;
        assert.deepEqual(capture.issues, []);
        assert.ok(capture.records.length > 0);
        const kinds = capture.records.map((r) => decodeLinkFrame(r.linkType, r.data).kind);
        assert.ok(kinds.some((k) => k === 'ipv4' || k === 'ipv6'), 'some IPv4 or IPv6 packet');
        assert.equal([...iterateCapture(bytes)].length, capture.records.length);
      });

      it('matches tshark record by record', { skip: tsharkSkip }, () => {
        compareWithTshark(files.get(name)!.capture.records, tsharkFrames.get(name)!, name);
      });

      it('survives a rewrite', () => {
        const { bytes, capture } = files.get(name)!;
        if (capture.format === 'pcap') {
          // Unmodified classic files come back byte for byte.
          assert.deepEqual(writePcap(capture.records, capture.pcapHeader), bytes);
        }
        const linkOrder = [...new Set(capture.records.map((r) => r.linkType))];
        const again = readCapture(writePcapng(capture.records, { resolution: 'nano' }));
        assert.deepEqual(
          again.records,
          capture.records.map((r) => ({ ...r, interfaceIndex: linkOrder.indexOf(r.linkType) })),
        );
      });
    });
  }

  it('tshark reads what our writers produce, with the same times and lengths', { skip: tsharkSkip }, async () => {
    const records: CaptureRecord[] = [];
    const frames: TsharkFrame[] = [];
    for (const name of captureFiles) {
      records.push(...files.get(name)!.capture.records);
      frames.push(...tsharkFrames.get(name)!);
    }
    // pcapng with several link types (Ethernet and Linux cooked are both present).
    assert.ok(new Set(records.map((r) => r.linkType)).size > 1);
    const pcapngPath = join(workDir, 'all.pcapng');
    writeFileSync(pcapngPath, writePcapng(records));
    compareWithTshark(records, await tshark(pcapngPath), 'written pcapng');

    // Classic pcap: one link type per file, nanosecond and microsecond magic.
    const ethernet = records.filter((r) => r.linkType === LinkType.ETHERNET);
    const ethernetFrames = frames.filter((_, i) => records[i].linkType === LinkType.ETHERNET);
    const nanoPath = join(workDir, 'ethernet-nano.pcap');
    writeFileSync(nanoPath, writePcap(ethernet, { resolution: 'nano' }));
    compareWithTshark(ethernet, await tshark(nanoPath), 'written nanosecond pcap');
    const microPath = join(workDir, 'ethernet-micro.pcap');
    const microRecords = ethernet.filter((r) => r.tsNsec % 1000 === 0);
    assert.ok(microRecords.length > 0);
    writeFileSync(microPath, writePcap(microRecords, { resolution: 'micro', byteOrder: 'big' }));
    compareWithTshark(microRecords, await tshark(microPath), 'written big-endian microsecond pcap');
    assert.equal(ethernetFrames.length, ethernet.length);
  });
});
