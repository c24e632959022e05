import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { clearVnetHeader, gsoKind, readVnetHeader, VNET_GSO_ECN, VNET_GSO_TCPV4, VnetHeaderError, writeVnetHeader } from '../../../src/dataplane/tun/vnet-header.js';

describe('virtio-net header', () => {
  test('fields are little-endian, in struct virtio_net_hdr order', () => {
    const b = new Uint8Array([0xee, 1, 0x81, 52, 0, 0xb4, 0x05, 20, 0, 16, 0, 0xee]);
    assert.deepEqual(readVnetHeader(b, 1), { flags: 1, gsoType: 0x81, hdrLen: 52, gsoSize: 1460, csumStart: 20, csumOffset: 16 });
  });

  test('property: write then read gives the same header; nothing outside its 10 bytes changes', () => {
    const u16 = fc.integer({ min: 0, max: 0xffff });
    const u8 = fc.integer({ min: 0, max: 0xff });
    fc.assert(
      fc.property(fc.record({ flags: u8, gsoType: u8, hdrLen: u16, gsoSize: u16, csumStart: u16, csumOffset: u16 }), fc.integer({ min: 0, max: 6 }), (h, at) => {
        const b = new Uint8Array(16).fill(0xa5);
        writeVnetHeader(b, at, h);
        assert.deepEqual(readVnetHeader(b, at), { ...h });
        assert.ok(b.subarray(0, at).every((x) => x === 0xa5) && b.subarray(at + 10).every((x) => x === 0xa5));
        clearVnetHeader(b, at);
        assert.ok(b.subarray(at, at + 10).every((x) => x === 0));
      }),
    );
  });

  test('out of the buffer or out of range is a VnetHeaderError', () => {
    assert.throws(() => readVnetHeader(new Uint8Array(9), 0), VnetHeaderError);
    assert.throws(() => readVnetHeader(new Uint8Array(20), 11), VnetHeaderError);
    assert.throws(() => readVnetHeader(new Uint8Array(20), -1), VnetHeaderError);
    const ok = { flags: 0, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0 };
    assert.throws(() => writeVnetHeader(new Uint8Array(10), 1, ok), VnetHeaderError);
    assert.throws(() => writeVnetHeader(new Uint8Array(10), 0, { ...ok, gsoSize: 0x10000 }), VnetHeaderError);
    assert.throws(() => writeVnetHeader(new Uint8Array(10), 0, { ...ok, flags: 256 }), VnetHeaderError);
  });

  test('gsoKind drops the ECN bit', () => {
    assert.equal(gsoKind(VNET_GSO_TCPV4 | VNET_GSO_ECN), VNET_GSO_TCPV4);
  });
});
