/** What masq's decoder finds in an oracle vector, the way the ALG reads it: (offset, address, port) in encoding order. */
import assert from 'node:assert/strict';
import { EV } from '../../../src/alg/h323/per-events.js';
import { PerReader } from '../../../src/alg/h323/per-reader.js';
import { walkH245Messages, walkRas, walkUserInformation } from '../../../src/alg/h323/per-walk.js';
import { parseQ931 } from '../../../src/alg/h323/q931.js';
import { frameTpkt } from '../../../src/alg/h323/tpkt.js';
import { ipv4ToString } from '../../../src/wire/address.js';
import type { OracleAddress, OracleVector } from './oracle-vectors.js';

const r = new PerReader();

function addresses(): OracleAddress[] {
  const out: OracleAddress[] = [];
  const ev = r.ev;
  for (let i = 0; i < ev.count; i++) if (ev.kind[i] === EV.ADDRESS) out.push({ offset: ev.offset[i], addr: ipv4ToString(ev.a[i]), port: ev.b[i] });
  return out;
}

export function decoderAddresses(v: Pick<OracleVector, 'kind' | 'bytes' | 'name'>): OracleAddress[] {
  const b = v.bytes;
  if (v.kind === 'ras') {
    assert.ok(walkRas(r, b, 0, b.length), `${v.name}: ${r.reason}`);
    return addresses();
  }
  const out: OracleAddress[] = [];
  for (let at = 0; at < b.length; ) {
    const f = frameTpkt(b, at, b.length);
    assert.equal(f.kind, 'message', `${v.name}: TPKT at ${at}`);
    const end = at + (f as { length: number }).length;
    if (v.kind === 'h245') assert.ok(walkH245Messages(r, b, at + 4, end), `${v.name}: ${r.reason}`);
    else {
      const q = parseQ931(b, at + 4, end);
      assert.equal(typeof q, 'object', `${v.name}: ${String(q)}`);
      const m = q as Exclude<typeof q, string>;
      assert.ok(walkUserInformation(r, b, m.userInfoStart, m.userInfoEnd), `${v.name}: ${r.reason}`);
      for (let i = 0; i < r.ev.count; i++) assert.ok(!(r.ev.kind[i] === EV.NEST && r.ev.a[i] === 1), `${v.name}: a nested item did not decode`);
    }
    out.push(...addresses());
    at = end;
  }
  return out;
}
