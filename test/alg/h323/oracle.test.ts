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
import { walkUserInformation } from '../../../src/alg/h323/per-walk.js';
import { parseQ931 } from '../../../src/alg/h323/q931.js';
import { ipv4ToString } from '../../../src/wire/address.js';
import { decoderAddresses } from './decoder-addresses.js';
import { oracle, type OracleAddress } from './oracle-vectors.js';

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
