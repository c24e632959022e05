import { test } from 'node:test';
import assert from 'node:assert/strict';
import { repairOffloadedChecksums, type OffloadRepairs } from '../../../src/dataplane/pcap/offload.js';
import { translateCapture } from '../../../src/dataplane/pcap/translate.js';
import { readCapture, writePcap } from '../../../src/wire/capture.js';
import { fillIpv4HeaderChecksum, read16, write16 } from '../../../src/wire/ipv4.js';
import { decodeLinkFrame, LinkType } from '../../../src/wire/link-layer.js';
import { udpChecksumValid } from '../../../src/wire/udp.js';
import { udpPkt } from '../../nat/packets.js';

/** A valid UDP datagram followed, inside its IP packet, by bytes that are not part of it. */
function withTrailer(trailer: number[]): Uint8Array {
  const pkt = udpPkt('192.168.1.2:5000', '198.51.100.10:53', 'query');
  const out = new Uint8Array(pkt.length + trailer.length);
  out.set(pkt);
  out.set(trailer, pkt.length);
  write16(out, 2, out.length);
  fillIpv4HeaderChecksum(out, 0);
  return out;
}

/** True when the UDP checksum is right over the datagram alone (cut at its length field). */
function datagramChecksumValid(ip: Uint8Array): boolean {
  const hl = (ip[0] & 0x0f) * 4;
  const cut = ip.slice(0, hl + read16(ip, hl + 4));
  write16(cut, 2, cut.length);
  return udpChecksumValid(cut, 0);
}

test('a valid UDP datagram with trailing bytes is valid: nothing to repair', () => {
  const pkt = withTrailer([0xde, 0xad, 0xbe, 0xef, 0x01]);
  assert.ok(datagramChecksumValid(pkt));
  const repairs: OffloadRepairs = { ipHeader: 0, transport: 0 };
  const before = pkt.slice();
  repairOffloadedChecksums(pkt, repairs);
  assert.deepEqual(repairs, { ipHeader: 0, transport: 0 });
  assert.deepEqual(pkt, before);
});

test('a partial checksum on a datagram with trailing bytes is repaired over the datagram alone', () => {
  const pkt = withTrailer([1, 2, 3]);
  write16(pkt, 26, 0x1234);
  const repairs: OffloadRepairs = { ipHeader: 0, transport: 0 };
  repairOffloadedChecksums(pkt, repairs);
  assert.equal(repairs.transport, 1);
  assert.ok(datagramChecksumValid(pkt));
});

test('a UDP length that does not fit the IP payload is left for the engine', () => {
  for (const length of [7, 100]) {
    const pkt = withTrailer([1, 2, 3]);
    write16(pkt, 24, length);
    const before = pkt.slice();
    const repairs: OffloadRepairs = { ipHeader: 0, transport: 0 };
    repairOffloadedChecksums(pkt, repairs);
    assert.deepEqual([repairs.transport, pkt], [0, before], `length ${length}`);
  }
});

test('pcap translate: a valid datagram with trailing bytes leaves with a valid checksum', () => {
  const ip = withTrailer([0xde, 0xad, 0xbe, 0xef]);
  const frame = new Uint8Array([0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0, ...ip]);
  const input = writePcap([{ linkType: LinkType.ETHERNET, tsSec: 1, tsNsec: 0, data: frame, origLength: frame.length, interfaceIndex: 0 }]);
  const { output, summary } = translateCapture(input, { config: { inside: ['192.168.1.0/24'], public: ['203.0.113.1'] } });
  assert.equal(summary.checksumsRepaired.transport, 0);
  const [out] = readCapture(output).records;
  const translated = decodeLinkFrame(out.linkType, out.data).payload;
  assert.deepEqual([...translated.subarray(12, 16)], [203, 0, 113, 1]);
  assert.ok(datagramChecksumValid(translated), 'the UDP checksum over the datagram is valid');
});
