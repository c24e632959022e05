/**
 * The decoder against an independent encoder: for every oracle vector
 * (Erlang/OTP's ASN.1 runtime over the ITU-T modules), the walker reports
 * exactly the (offset, address, port) list the oracle found, in call
 * signalling (with fastStart, tunnelled and parallel H.245), RAS and H.245;
 * IPv6 and source-routed addresses are not reported. For the oracle's random
 * values of each root type, the walker reads every bit and finds the same
 * addresses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { walkH323UserInformation, walkRasMessage } from '../../../src/alg/h323/per-h225.gen.js';
import { walkMultimediaSystemControlMessage, walkOpenLogicalChannel } from '../../../src/alg/h323/per-h245.gen.js';
import { EV } from '../../../src/alg/h323/per-events.js';
import { PER_FAIL, PerReader, type WalkFn } from '../../../src/alg/h323/per-reader.js';
import { walkH245Messages, walkRas, walkUserInformation } from '../../../src/alg/h323/per-walk.js';
import { parseQ931 } from '../../../src/alg/h323/q931.js';
import { frameTpkt } from '../../../src/alg/h323/tpkt.js';
import { ipv4ToString } from '../../../src/wire/address.js';
import { oracle, type OracleAddress, type OracleVector } from './oracle-vectors.js';

const r = new PerReader();

function addresses(nestedToo: boolean): OracleAddress[] {
  const out: OracleAddress[] = [];
  const ev = r.ev;
  for (let i = 0; i < ev.count; i++) {
    if (ev.kind[i] !== EV.ADDRESS || (!nestedToo && ev.nest[i] >= 0)) continue;
    out.push({ offset: ev.offset[i], addr: ipv4ToString(ev.a[i]), port: ev.b[i] });
  }
  return out;
}

/** What masq's decoder finds in a vector, the way the ALG reads it. */
export function decoderAddresses(v: Pick<OracleVector, 'kind' | 'bytes' | 'name'>): OracleAddress[] {
  const b = v.bytes;
  if (v.kind === 'ras') {
    assert.ok(walkRas(r, b, 0, b.length), `${v.name}: ${r.reason}`);
    return addresses(true);
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
    out.push(...addresses(true));
    at = end;
  }
  return out;
}

test('oracle vectors: every kind the issue lists is there', () => {
  const names = oracle().vectors.map((v) => v.name);
  assert.ok(names.length >= 30);
  for (const want of ['setup-v4-faststart-tunnelled', 'setup-v2-netmeeting-no-extensions', 'setup-parallel-h245', 'setup-ipv6-and-source-route-skipped', 'connect-h245-faststart-tunnelled-ack', 'facility-call-forwarded', 'alerting-faststart-accepted', 'ras-rrq-h460-18', 'ras-rcf', 'ras-acf', 'ras-lcf', 'ras-irr', 'h245-olc-t120-separate-stack', 'h245-olc-ack-separate-stack']) {
    assert.ok(names.includes(want), want);
  }
});

for (const v of oracle().vectors) {
  if (v.name.endsWith('-too-deep')) {
    test(`oracle vector ${v.name}: nested deeper than the decoder goes: refused, not recursed into`, () => {
      const q = parseQ931(v.bytes, 4, v.bytes.length) as Exclude<ReturnType<typeof parseQ931>, string>;
      assert.equal(walkUserInformation(r, v.bytes, q.userInfoStart, q.userInfoEnd), false);
      assert.equal(r.reason, 'nested too deeply');
      assert.ok(v.addresses.length > 0, 'the oracle decodes it');
    });
    continue;
  }
  test(`oracle vector ${v.name}: the decoder reports the oracle's (offset, address, port) list`, () => {
    const byOffset = (a: OracleAddress, b: OracleAddress) => a.offset - b.offset;
    assert.deepEqual(decoderAddresses(v).sort(byOffset), [...v.addresses].sort(byOffset));
  });
}

const ROOTS: Record<string, WalkFn> = {
  'H323-UserInformation': walkH323UserInformation,
  RasMessage: walkRasMessage,
  OpenLogicalChannel: walkOpenLogicalChannel,
  MultimediaSystemControlMessage: walkMultimediaSystemControlMessage,
};

/** Root alternatives of the top-level CHOICEs (X.680 extension alternatives are numbered on from these). */
const ROOT_ALTERNATIVES: Record<number, number> = { [EV.RAS]: 25, [EV.H245_REQUEST]: 11, [EV.H245_RESPONSE]: 19, [EV.H245_COMMAND]: 7, [EV.H245_INDICATION]: 14 };

function skippedAlternative(): boolean {
  for (let i = 0; i < r.ev.count; i++) {
    const roots = ROOT_ALTERNATIVES[r.ev.kind[i]];
    if (roots !== undefined && r.ev.nest[i] < 0) return r.ev.a[i] >= roots;
  }
  return false;
}

test('oracle random values: every one is read to its last bit, with the oracle\'s addresses', () => {
  const { random } = oracle();
  assert.ok(random.length >= 40, `${random.length} random values`);
  const perType = new Map<string, number>();
  for (const [i, v] of random.entries()) {
    perType.set(v.type, (perType.get(v.type) ?? 0) + 1);
    // The whole walk, no early stop: every alternative is read through.
    r.reset(v.bytes, 0, v.bytes.length, false);
    try {
      ROOTS[v.type](r, 0);
    } catch (e) {
      if (e !== PER_FAIL) throw e;
      assert.fail(`${v.type} #${i}: ${r.reason}`);
    }
    assert.equal(Math.ceil(r.pos / 8), v.bytes.length, `${v.type} #${i}: read ${r.pos} bits of ${v.bytes.length * 8}`);
    const found = addresses(false).map((a) => [a.addr, a.port]);
    // An extension alternative of a top-level CHOICE the ALG has no use for is stepped over by its length.
    if (skippedAlternative()) assert.deepEqual(found, [], `${v.type} #${i}`);
    else assert.deepEqual(found, v.addresses.map((a) => [a.addr, a.port]), `${v.type} #${i}`);
  }
  for (const t of Object.keys(ROOTS)) assert.ok((perType.get(t) ?? 0) >= 5, `${t}: ${perType.get(t) ?? 0}`);
});
