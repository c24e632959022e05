import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  LinkType,
  decodeLinkFrame,
  ipPacketLength,
  isSupportedLinkType,
  reframe,
  wrapIpPacket,
} from '../../src/wire/link-layer.js';

/** An IPv4 packet of `length` bytes whose total-length field says so (or `claimed`). */
function ipv4(length: number, claimed = length): Uint8Array {
  const p = new Uint8Array(length);
  p[0] = 0x45;
  p[2] = claimed >> 8;
  p[3] = claimed & 0xff;
  for (let i = 20; i < length; i++) p[i] = i & 0xff;
  return p;
}

function ipv6(payloadLength: number, claimed = payloadLength): Uint8Array {
  const p = new Uint8Array(40 + payloadLength);
  p[0] = 0x60;
  p[4] = claimed >> 8;
  p[5] = claimed & 0xff;
  for (let i = 40; i < p.length; i++) p[i] = i & 0xff;
  return p;
}

const DST = [0x02, 0, 0, 0, 0, 0x0d];
const SRC = [0x02, 0, 0, 0, 0, 0x05];

function ethernet(etherTypes: number[], tags: number[][], payload: Uint8Array, padTo = 0): Uint8Array {
  const header = [...DST, ...SRC];
  // etherTypes[i] is followed by tags[i] (a TCI) when it is a tag protocol.
  etherTypes.forEach((type, i) => {
    header.push(type >> 8, type & 0xff);
    if (tags[i]) header.push(...tags[i]);
  });
  const frame = new Uint8Array(Math.max(header.length + payload.length, padTo));
  frame.set(header, 0);
  frame.set(payload, header.length);
  return frame;
}

describe('Ethernet', () => {
  it('finds IPv4 and IPv6 after a plain header', () => {
    const v4 = ipv4(28);
    const d4 = decodeLinkFrame(LinkType.ETHERNET, ethernet([0x0800], [], v4));
    assert.equal(d4.kind, 'ipv4');
    assert.equal(d4.headerLength, 14);
    assert.equal(d4.etherType, 0x0800);
    assert.deepEqual(d4.payload, v4);
    assert.equal(d4.vlanIds, undefined);

    const v6 = ipv6(8);
    const d6 = decodeLinkFrame(LinkType.ETHERNET, ethernet([0x86dd], [], v6));
    assert.equal(d6.kind, 'ipv6');
    assert.deepEqual(d6.payload, v6);
  });

  it('leaves padding out of the payload: the IP length comes from the IP header', () => {
    const ack = ipv4(40);
    const frame = ethernet([0x0800], [], ack, 60);
    const d = decodeLinkFrame(LinkType.ETHERNET, frame);
    assert.equal(d.payload.length, 40);
    assert.equal(d.trailerLength, 6);
    assert.equal(d.ipTruncated, false);
    assert.equal(d.payload.buffer, frame.buffer, 'a view, not a copy');

    const small6 = ipv6(0 + 4);
    const d6 = decodeLinkFrame(LinkType.ETHERNET, ethernet([0x86dd], [], small6, 64));
    assert.equal(d6.payload.length, 44);
    assert.equal(d6.trailerLength, 64 - 14 - 44);
  });

  it('follows one or more 802.1Q / 802.1ad tags', () => {
    const v4 = ipv4(20);
    const one = decodeLinkFrame(LinkType.ETHERNET, ethernet([0x8100, 0x0800], [[0x20, 0x64]], v4));
    assert.equal(one.kind, 'ipv4');
    assert.equal(one.headerLength, 18);
    assert.deepEqual(one.vlanIds, [100]);
    assert.equal(one.etherType, 0x0800);

    const qinq = decodeLinkFrame(LinkType.ETHERNET, ethernet([0x88a8, 0x8100, 0x86dd], [[0x00, 0x0a], [0xef, 0xff]], ipv6(0)));
    assert.equal(qinq.kind, 'ipv6');
    assert.equal(qinq.headerLength, 22);
    assert.deepEqual(qinq.vlanIds, [10, 0xfff]);

    const legacy = decodeLinkFrame(LinkType.ETHERNET, ethernet([0x9100, 0x0800], [[0, 7]], v4));
    assert.deepEqual(legacy.vlanIds, [7]);
  });

  it('says what is wrong with truncated or absurd headers, without throwing', () => {
    const short = decodeLinkFrame(LinkType.ETHERNET, new Uint8Array(13));
    assert.equal(short.kind, 'other');
    assert.match(short.problem ?? '', /Ethernet header truncated: 14 bytes needed, 13 present/);
    const cutTag = decodeLinkFrame(LinkType.ETHERNET, ethernet([0x8100], [[0, 1]], new Uint8Array(0)));
    assert.match(cutTag.problem ?? '', /VLAN tag truncated/);
    const manyTags = ethernet(new Array<number>(9).fill(0x8100).concat(0x0800), new Array<number[]>(9).fill([0, 1]), ipv4(20));
    assert.match(decodeLinkFrame(LinkType.ETHERNET, manyTags).problem ?? '', /more than 8 VLAN tags/);
  });

  it('reports ARP and 802.3 frames as other, with no problem', () => {
    const arp = decodeLinkFrame(LinkType.ETHERNET, ethernet([0x0806], [], new Uint8Array(28)));
    assert.equal(arp.kind, 'other');
    assert.equal(arp.headerLength, 14);
    assert.equal(arp.payload.length, 28);
    assert.equal(arp.problem, undefined);
    const llc = decodeLinkFrame(LinkType.ETHERNET, ethernet([0x0800 - 0x0300], [], new Uint8Array(46)));
    assert.equal(llc.kind, 'other');
  });
});

describe('IP length from the IP header', () => {
  it('clamps to the bytes present and says when the capture is short', () => {
    assert.deepEqual(ipPacketLength('ipv4', ipv4(100)), { length: 100, truncated: false });
    assert.deepEqual(ipPacketLength('ipv4', ipv4(60, 1500)), { length: 60, truncated: true });
    assert.deepEqual(ipPacketLength('ipv4', ipv4(60, 0)), { length: 60, truncated: false }); // TSO: length 0
    assert.deepEqual(ipPacketLength('ipv4', new Uint8Array([0x45, 0])), { length: 2, truncated: true });
    assert.deepEqual(ipPacketLength('ipv6', ipv6(10, 2000)), { length: 50, truncated: true });
    assert.deepEqual(ipPacketLength('ipv6', ipv6(10, 0)), { length: 50, truncated: false }); // jumbogram
    assert.deepEqual(ipPacketLength('ipv6', new Uint8Array(39)), { length: 39, truncated: true });
  });

  it('marks a snap-length-cut frame as truncated', () => {
    const frame = ethernet([0x0800], [], ipv4(1500)).subarray(0, 96);
    const d = decodeLinkFrame(LinkType.ETHERNET, frame);
    assert.equal(d.kind, 'ipv4');
    assert.equal(d.payload.length, 82);
    assert.equal(d.ipTruncated, true);
    assert.equal(d.trailerLength, 0);
  });
});

describe('Linux cooked captures', () => {
  it('SLL (113): protocol at byte 14, 16-byte header', () => {
    const header = [0, 0, 0, 1, 0, 6, ...SRC, 0, 0, 0x08, 0x00];
    const frame = new Uint8Array([...header, ...ipv4(24)]);
    const d = decodeLinkFrame(LinkType.LINUX_SLL, frame);
    assert.equal(d.kind, 'ipv4');
    assert.equal(d.headerLength, 16);
    assert.equal(d.payload.length, 24);
    assert.match(decodeLinkFrame(LinkType.LINUX_SLL, frame.subarray(0, 15)).problem ?? '', /SLL/);
  });

  it('SLL with a VLAN tag after the header', () => {
    const header = [0, 0, 0, 1, 0, 6, ...SRC, 0, 0, 0x81, 0x00, 0x00, 0x05, 0x86, 0xdd];
    const d = decodeLinkFrame(LinkType.LINUX_SLL, new Uint8Array([...header, ...ipv6(0)]));
    assert.equal(d.kind, 'ipv6');
    assert.equal(d.headerLength, 20);
    assert.deepEqual(d.vlanIds, [5]);
  });

  it('SLL2 (276): protocol at byte 0, 20-byte header', () => {
    const header = [0x86, 0xdd, 0, 0, 0, 0, 0, 3, 0, 1, 0, 6, ...SRC, 0, 0];
    const d = decodeLinkFrame(LinkType.LINUX_SLL2, new Uint8Array([...header, ...ipv6(3)]));
    assert.equal(d.kind, 'ipv6');
    assert.equal(d.headerLength, 20);
    assert.equal(d.payload.length, 43);
  });
});

describe('raw IP and loopback', () => {
  it('raw (101, 12, 14) goes by the version nibble', () => {
    for (const lt of [LinkType.RAW, LinkType.RAW_DLT12, LinkType.RAW_DLT14]) {
      assert.equal(decodeLinkFrame(lt, ipv4(20)).kind, 'ipv4');
      assert.equal(decodeLinkFrame(lt, ipv6(0)).kind, 'ipv6');
      assert.equal(decodeLinkFrame(lt, ipv4(20)).headerLength, 0);
      assert.match(decodeLinkFrame(lt, new Uint8Array([0x50])).problem ?? '', /version 5/);
      assert.match(decodeLinkFrame(lt, new Uint8Array(0)).problem ?? '', /empty/);
    }
  });

  it('IPv4 (228) and IPv6 (229) say the version themselves', () => {
    assert.equal(decodeLinkFrame(LinkType.IPV4, ipv4(20, 20)).kind, 'ipv4');
    assert.equal(decodeLinkFrame(LinkType.IPV6, ipv6(1)).kind, 'ipv6');
  });

  it('NULL (0) reads the family in either host order; LOOP (108) in network order', () => {
    const le4 = decodeLinkFrame(LinkType.NULL, new Uint8Array([2, 0, 0, 0, ...ipv4(20)]));
    assert.equal(le4.kind, 'ipv4');
    assert.equal(le4.headerLength, 4);
    assert.equal(le4.addressFamily, 2);
    assert.equal(decodeLinkFrame(LinkType.NULL, new Uint8Array([0, 0, 0, 30, ...ipv6(0)])).kind, 'ipv6');
    assert.equal(decodeLinkFrame(LinkType.NULL, new Uint8Array([28, 0, 0, 0, ...ipv6(0)])).kind, 'ipv6');
    assert.equal(decodeLinkFrame(LinkType.NULL, new Uint8Array([7, 0, 0, 0, 1])).kind, 'other');
    assert.equal(decodeLinkFrame(LinkType.LOOP, new Uint8Array([0, 0, 0, 24, ...ipv6(0)])).kind, 'ipv6');
    assert.equal(decodeLinkFrame(LinkType.LOOP, new Uint8Array([24, 0, 0, 0, ...ipv6(0)])).kind, 'other');
    assert.match(decodeLinkFrame(LinkType.NULL, new Uint8Array(3)).problem ?? '', /loopback header truncated/);
  });

  it('unknown link types come back as other with a reason', () => {
    const d = decodeLinkFrame(147, ipv4(20));
    assert.equal(d.kind, 'other');
    assert.equal(d.headerLength, 0);
    assert.match(d.problem ?? '', /unsupported link type 147/);
    assert.equal(isSupportedLinkType(147), false);
    assert.equal(isSupportedLinkType(276), true);
  });
});

describe('reframe', () => {
  it('keeps the original link header, VLAN tags included, and drops the old payload', () => {
    const frame = ethernet([0x88a8, 0x8100, 0x0800], [[0, 10], [0, 20]], ipv4(100));
    const d = decodeLinkFrame(LinkType.ETHERNET, frame);
    const translated = ipv4(120);
    const out = reframe(LinkType.ETHERNET, frame, d.headerLength, translated);
    assert.deepEqual(out.subarray(0, 22), frame.subarray(0, 22));
    assert.deepEqual(out.subarray(22), translated);
    const again = decodeLinkFrame(LinkType.ETHERNET, out);
    assert.deepEqual(again.vlanIds, [10, 20]);
    assert.deepEqual(again.payload, translated);
  });

  it('pads again a frame that was padded, and only such a frame', () => {
    const padded = ethernet([0x0800], [], ipv4(40), 60);
    const out = reframe(LinkType.ETHERNET, padded, 14, ipv4(40));
    assert.equal(out.length, 60);
    assert.deepEqual(out.subarray(54), new Uint8Array(6));
    const unpadded = ethernet([0x0800], [], ipv4(40));
    assert.equal(reframe(LinkType.ETHERNET, unpadded, 14, ipv4(40)).length, 54);
    assert.equal(reframe(LinkType.LINUX_SLL, new Uint8Array(16 + 40), 16, ipv4(20)).length, 36);
  });

  it('rejects a header length outside the frame', () => {
    assert.throws(() => reframe(LinkType.ETHERNET, new Uint8Array(14), 15, ipv4(20)), RangeError);
    assert.throws(() => reframe(LinkType.ETHERNET, new Uint8Array(14), -1, ipv4(20)), RangeError);
  });
});

describe('wrapIpPacket', () => {
  it('builds headers from nothing with the right protocol field', () => {
    const eth = wrapIpPacket(LinkType.ETHERNET, ipv6(0));
    assert.deepEqual([...eth.subarray(0, 14)], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x86, 0xdd]);
    for (const lt of [LinkType.ETHERNET, LinkType.LINUX_SLL, LinkType.LINUX_SLL2, LinkType.NULL, LinkType.LOOP, LinkType.RAW, LinkType.IPV4]) {
      const ip = ipv4(24);
      const d = decodeLinkFrame(lt, wrapIpPacket(lt, ip));
      assert.equal(d.kind, 'ipv4', `link type ${lt}`);
      assert.deepEqual(d.payload, ip, `link type ${lt}`);
    }
    for (const lt of [LinkType.LINUX_SLL, LinkType.LINUX_SLL2, LinkType.NULL, LinkType.LOOP, LinkType.IPV6]) {
      assert.equal(decodeLinkFrame(lt, wrapIpPacket(lt, ipv6(4))).kind, 'ipv6', `link type ${lt}`);
    }
  });

  it("reuses a template's header, tags and all, with the protocol set for the new packet", () => {
    const template = ethernet([0x8100, 0x86dd], [[0, 42]], ipv6(16));
    const frame = wrapIpPacket(LinkType.ETHERNET, ipv4(56), template, { reverseDirection: true });
    const d = decodeLinkFrame(LinkType.ETHERNET, frame);
    assert.equal(d.kind, 'ipv4');
    assert.deepEqual(d.vlanIds, [42]);
    assert.deepEqual([...frame.subarray(0, 6)], SRC);
    assert.deepEqual([...frame.subarray(6, 12)], DST);
    assert.deepEqual(template.subarray(0, 6), new Uint8Array(DST), 'template untouched');

    const null6 = wrapIpPacket(LinkType.NULL, ipv6(0), new Uint8Array([0, 0, 0, 30, ...ipv6(0)]));
    assert.deepEqual([...null6.subarray(0, 4)], [0, 0, 0, 30], 'keeps the template family and byte order');
    const null4 = wrapIpPacket(LinkType.NULL, ipv4(20), new Uint8Array([0, 0, 0, 30, ...ipv6(0)]));
    assert.deepEqual([...null4.subarray(0, 4)], [0, 0, 0, 2]);
  });

  it('refuses what it cannot frame', () => {
    assert.throws(() => wrapIpPacket(LinkType.ETHERNET, new Uint8Array([0x50, 0])), /not an IP packet/);
    assert.throws(() => wrapIpPacket(LinkType.IPV4, ipv6(0)), RangeError);
    assert.throws(() => wrapIpPacket(147, ipv4(20)), /unsupported link type/);
    assert.throws(() => wrapIpPacket(LinkType.ETHERNET, ipv4(20), new Uint8Array(10)), /template frame unusable/);
  });
});

describe('link-layer properties', () => {
  const linkTypes = fc.constantFrom(0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 147);

  it('decoding arbitrary bytes never throws and stays inside the frame', () => {
    fc.assert(
      fc.property(linkTypes, fc.uint8Array({ maxLength: 120 }), (linkType, frame) => {
        const d = decodeLinkFrame(linkType, frame);
        assert.ok(d.headerLength >= 0 && d.headerLength <= frame.length);
        assert.equal(d.headerLength + d.payload.length + d.trailerLength, frame.length);
        if (d.kind !== 'other') assert.equal(d.problem, undefined);
      }),
      { numRuns: 3000 },
    );
  });

  it('reframing an unpadded frame with its own payload gives the frame back', () => {
    const frames = fc.oneof(
      fc.record({ tags: fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 3 }), v6: fc.boolean(), size: fc.nat(60) }).map(
        ({ tags, v6, size }) =>
          ethernet(
            [...tags.map(() => 0x8100), v6 ? 0x86dd : 0x0800],
            tags.map((t) => [t >> 8, t & 0xff]),
            v6 ? ipv6(size) : ipv4(20 + size),
          ),
      ),
    );
    fc.assert(
      fc.property(frames, (frame) => {
        const d = decodeLinkFrame(LinkType.ETHERNET, frame);
        assert.notEqual(d.kind, 'other');
        assert.deepEqual(reframe(LinkType.ETHERNET, frame, d.headerLength, d.payload), frame);
      }),
    );
  });
});
