/** UDP checksums cover the datagram's own length: bytes after it in the IP packet are not part of it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fillIpv4HeaderChecksum, write16 } from '../../src/wire/ipv4.js';
import { buildUdpPacket, computeUdpChecksum, udpChecksumOf, udpChecksumValid } from '../../src/wire/udp.js';

/** A valid datagram, then `extra` bytes inside the same IP packet (an IP length longer than UDP's). */
function withTrailingBytes(extra: number): Uint8Array {
  const p = buildUdpPacket({ src: 0x0a000002, dst: 0xc6336401, srcPort: 5060, dstPort: 5060, payload: new TextEncoder().encode('hello') });
  const out = new Uint8Array(p.length + extra);
  out.set(p);
  out.fill(0xab, p.length);
  write16(out, 2, out.length);
  fillIpv4HeaderChecksum(out, 0);
  return out;
}

test('a valid datagram with trailing bytes in its IP packet stays valid', () => {
  const p = withTrailingBytes(7);
  assert.ok(udpChecksumValid(p, 0));
  assert.equal(computeUdpChecksum(p, 0), computeUdpChecksum(withTrailingBytes(0), 0));
});

test('a UDP length that does not fit the IP packet: the checksum is over the IP payload', () => {
  for (const bad of [4000, 3]) {
    const p = withTrailingBytes(6);
    write16(p, 24, bad);
    assert.equal(computeUdpChecksum(p, 0), udpChecksumOf(p, 20, p.length - 20, 0x0a000002, 0xc6336401));
    assert.notEqual(computeUdpChecksum(p, 0), udpChecksumOf(p, 20, 13, 0x0a000002, 0xc6336401));
  }
});
