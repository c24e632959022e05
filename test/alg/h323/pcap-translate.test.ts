/**
 * The offline dataplane with the H.323 ALG on the real captures
 * (../shared/captures): h323.pcap (an OpenH323 call with separate H.245,
 * NetMeeting's split TPKT header, gatekeeper RAS, a Tandberg registration
 * offering H.460.18 that the gatekeeper does not grant) and
 * h323-overflow.pcap (one malformed TPKT segment). Each connection's stream
 * and each datagram differ from the input only inside 6-byte address fields
 * (found by walking the input), every field that changed named an inside
 * host and now names the public address, and the fields the issue lists are
 * among them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { attachAlg, findAlg } from '../../../src/alg/registry.js';
import type { AttachedAlg } from '../../../src/alg/attach.js';
import { translateCapture } from '../../../src/dataplane/pcap/translate.js';
import { EV } from '../../../src/alg/h323/per-events.js';
import { FIELD_NAMES } from '../../../src/alg/h323/per-fields.gen.js';
import { PerReader } from '../../../src/alg/h323/per-reader.js';
import { walkH245Messages, walkRas, walkUserInformation } from '../../../src/alg/h323/per-walk.js';
import { parseQ931 } from '../../../src/alg/h323/q931.js';
import { frameTpkt } from '../../../src/alg/h323/tpkt.js';
import { ipv4ToString, parseIpv4 } from '../../../src/wire/address.js';
import { readCapture } from '../../../src/wire/capture.js';
import { ipv4, PROTO_TCP, PROTO_UDP } from '../../../src/wire/ipv4.js';
import { decodeLinkFrame } from '../../../src/wire/link-layer.js';
import { tcp } from '../../../src/wire/tcp.js';
import { udp } from '../../../src/wire/udp.js';
import { capturesDir } from '../../lab/prereq.js';

const INSIDE = ['10.1.3.0/24', '192.168.0.208/32', '17.2.0.124/32', '10.47.208.204/32'];
const PUBLIC = '203.0.113.1';
const insideHosts = ['10.1.3.143', '192.168.0.208', '17.2.0.124', '10.47.208.204'].map(parseIpv4);
const skip = existsSync(join(capturesDir, 'h323.pcap')) ? false : `the shared captures are not at ${capturesDir}`;

function translate(file: string, inside = INSIDE) {
  let alg: AttachedAlg | undefined;
  const def = findAlg('h323')!;
  const input = new Uint8Array(readFileSync(join(capturesDir, file)));
  const r = translateCapture(input, { config: { inside, public: [PUBLIC] }, helpers: [(e) => void (alg = attachAlg(e, def))] });
  return { input, ...r, alg: alg! };
}

interface Unit {
  kind: 'q931' | 'h245' | 'ras';
  label: string;
  input: Uint8Array;
  output: Uint8Array;
}

/** Each UDP datagram, and each TCP direction's stream, of the input with what was written for it (records pair one to one here). */
function units(input: Uint8Array, output: Uint8Array): Unit[] {
  const a = readCapture(input).records;
  const b = readCapture(output).records;
  assert.equal(a.length, b.length);
  const streams = new Map<string, { kind: Unit['kind']; input: number[]; output: number[] }>();
  const out: Unit[] = [];
  for (let i = 0; i < a.length; i++) {
    const pa = decodeLinkFrame(a[i].linkType, a[i].data).payload;
    const pb = decodeLinkFrame(b[i].linkType, b[i].data).payload;
    const hl = ipv4.headerLength(pa, 0);
    const proto = ipv4.protocol(pa, 0);
    const key = `${ipv4ToString(ipv4.src(pa, 0))}>${ipv4ToString(ipv4.dst(pa, 0))}`;
    if (proto === PROTO_UDP) {
      const da = pa.subarray(hl + 8, hl + udp.length(pa, hl));
      const hb = ipv4.headerLength(pb, 0);
      const db = pb.subarray(hb + 8, hb + udp.length(pb, hb));
      if (da.length) out.push({ kind: 'ras', label: `frame ${i + 1}`, input: da, output: db });
    } else if (proto === PROTO_TCP) {
      const sp = tcp.srcPort(pa, hl);
      const dp = tcp.dstPort(pa, hl);
      const k = `${key}:${sp}>${dp}`;
      let s = streams.get(k);
      if (!s) streams.set(k, (s = { kind: sp === 1720 || dp === 1720 ? 'q931' : 'h245', input: [], output: [] }));
      const ta = pa.subarray(hl + tcp.headerLength(pa, hl), ipv4.totalLength(pa, 0));
      const hb = ipv4.headerLength(pb, 0);
      const tb = pb.subarray(hb + tcp.headerLength(pb, hb), ipv4.totalLength(pb, 0));
      // Keep-alive probes and retransmissions repeat bytes already in the stream: the stream is what is new.
      if (!(tcp.flags(pa, hl) & 0x02) && ta.length > 1 && !(i > 0 && sameAsPrevious(a, i))) {
        s.input.push(...ta);
        s.output.push(...tb);
      }
    }
  }
  for (const [k, s] of streams) if (s.input.length) out.push({ kind: s.kind, label: k, input: Uint8Array.from(s.input), output: Uint8Array.from(s.output) });
  return out;
}

/** The capture holds each of some segments twice (two capture points): the second adds nothing to the stream. */
function sameAsPrevious(records: ReturnType<typeof readCapture>['records'], i: number): boolean {
  const x = records[i].data;
  const y = records[i - 1].data;
  if (x.length !== y.length) return false;
  const px = decodeLinkFrame(records[i].linkType, x).payload;
  const py = decodeLinkFrame(records[i - 1].linkType, y).payload;
  const hl = ipv4.headerLength(px, 0);
  return tcp.seq(px, hl) === tcp.seq(py, ipv4.headerLength(py, 0)) && ipv4.src(px, 0) === ipv4.src(py, 0);
}

const reader = new PerReader();

/** Address fields of the input (offset, field name), by walking it; messages that do not decode have none. */
function fields(u: Unit): Array<{ offset: number; field: string; addr: number }> {
  const out: Array<{ offset: number; field: string; addr: number }> = [];
  const take = () => {
    for (let i = 0; i < reader.ev.count; i++) if (reader.ev.kind[i] === EV.ADDRESS) out.push({ offset: reader.ev.offset[i], field: FIELD_NAMES[reader.ev.field[i]], addr: reader.ev.a[i] });
  };
  const b = u.input;
  if (u.kind === 'ras') {
    if (walkRas(reader, b, 0, b.length)) take();
    return out;
  }
  for (let at = 0; at < b.length; ) {
    const f = frameTpkt(b, at, b.length);
    if (f.kind !== 'message') break;
    const end = at + f.length;
    if (u.kind === 'h245') {
      if (walkH245Messages(reader, b, at + 4, end)) take();
    } else {
      const q = parseQ931(b, at + 4, end);
      if (typeof q === 'object' && q.userInfoStart >= 0 && walkUserInformation(reader, b, q.userInfoStart, q.userInfoEnd)) take();
    }
    at = end;
  }
  return out;
}

test('h323.pcap through `pcap translate --alg h323`: only address fields change, each from an inside host to the public address', { skip }, () => {
  const { input, output, summary, alg } = translate('h323.pcap');
  assert.equal(summary.packetsOut, summary.packetsIn);
  assert.equal(summary.failed, 0);
  const changed: string[] = [];
  for (const u of units(input, output)) {
    assert.equal(u.output.length, u.input.length, `${u.label}: same length`);
    const fs = fields(u);
    for (let i = 0; i < u.input.length; i++) {
      if (u.input[i] === u.output[i]) continue;
      const f = fs.find((x) => i >= x.offset && i < x.offset + 6);
      assert.ok(f, `${u.label}: byte ${i} changed outside an address field`);
    }
    for (const f of fs) {
      const before = u.input.subarray(f.offset, f.offset + 4);
      const after = u.output.subarray(f.offset, f.offset + 4);
      if (before.every((x, k) => x === after[k])) continue;
      assert.ok(insideHosts.includes(f.addr), `${u.label}: ${f.field} changed from a host that is not inside`);
      assert.equal(after.join('.'), PUBLIC, `${u.label}: ${f.field}`);
      changed.push(`${u.kind} ${f.field}`);
    }
  }
  // The fields the issue names, in the call, the H.245 connection and RAS.
  for (const want of ['q931 sourceCallSignalAddress', 'h245 mediaControlChannel', 'h245 mediaChannel', 'ras callSignalAddress', 'ras rasAddress']) {
    assert.ok(changed.includes(want), `${want} rewritten: ${changed.join(', ')}`);
  }
  const c = alg.counters();
  assert.ok(c.mediaPairs >= 1 && c.dialExpectations >= 1, 'the H.245 connection got its handler through the Connect\'s h245Address');
  assert.equal(c.traversalEndpoints, 0, 'the Tandberg offered H.460.18, the gatekeeper did not grant it');
});

test('h323-overflow.pcap: the malformed TPKT segment (mid-stream, to port 80) passes unmodified and is counted', { skip }, () => {
  const { input, output, summary } = translate('h323-overflow.pcap', ['192.168.1.1/32']);
  assert.equal(summary.packetsIn, 1);
  assert.equal(summary.packetsOut, 1);
  const a = readCapture(input).records[0];
  const b = readCapture(output).records[0];
  const pa = decodeLinkFrame(a.linkType, a.data).payload;
  const pb = decodeLinkFrame(b.linkType, b.data).payload;
  const payload = (p: Uint8Array) => p.subarray(ipv4.headerLength(p, 0) + tcp.headerLength(p, ipv4.headerLength(p, 0)), ipv4.totalLength(p, 0));
  assert.deepEqual(payload(pb), payload(pa));
  assert.equal(summary.fromInside, 1);
});
