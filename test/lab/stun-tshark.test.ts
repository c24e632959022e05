/**
 * tshark as an independent STUN decoder, both ways:
 * - on the shared captures, tshark and masq agree on every STUN message's type,
 *   its XOR-MAPPED-ADDRESS and whether its FINGERPRINT is good;
 * - on what masq's server and client encode (written to a pcap), tshark reads
 *   the intended types and attributes, finds every FINGERPRINT good and
 *   nothing malformed.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { missingPrereqs, run } from '../stun/fixtures/lab-env.js';
import { captureFiles, capturesPresent, CAPTURES_DIR, stunInCapture } from '../stun/fixtures/capture-stun.js';
import { writePcap, type Datagram } from '../stun/fixtures/pcap-writer.js';
import { decodeStunMessage, encodeStunMessage, getAttribute } from '../../src/stun/message.js';
import { checkFingerprint } from '../../src/stun/integrity.js';
import { encodeMessageType, StunMethod } from '../../src/stun/constants.js';
import { canonicalIp } from '../../src/stun/ip-address.js';
import { handleStunPacket, type BindingHandlerConfig } from '../../src/stun/server/binding-handler.js';
import type { StunAttribute } from '../../src/stun/attributes.js';

const skip = missingPrereqs(['tshark']) || (capturesPresent() ? false : 'no ../shared/captures directory');
const tmp = mkdtempSync(join(tmpdir(), 'masq-stun-tshark-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** One row per frame; multi-valued fields come comma-separated. */
function tsharkFields(file: string, filter: string, fields: string[]): Array<Record<string, string[]>> {
  const out = run('tshark', ['-r', file, '-Y', filter, '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=,', ...fields.flatMap((f) => ['-e', f])], {
    timeoutMs: 60_000,
  });
  return out
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('Running as user'))
    .map((line) => {
      const cols = line.split('\t');
      return Object.fromEntries(fields.map((f, i) => [f, cols[i] ? cols[i].split(',') : []]));
    });
}

test('captures: tshark and masq agree on type, XOR-MAPPED-ADDRESS and FINGERPRINT of every UDP STUN message', { skip }, () => {
  let compared = 0;
  let fingerprints = 0;
  for (const file of captureFiles().filter((f) => f.startsWith('stun'))) {
    const ours = new Map<string, ReturnType<typeof decodeStunMessage>>();
    for (const m of stunInCapture(file)) {
      const frame = /^frame (\d+)/.exec(m.where)?.[1];
      if (m.transport === 'udp' && frame) ours.set(frame, decodeStunMessage(m.bytes));
    }
    const rows = tsharkFields(join(CAPTURES_DIR, file), 'stun.type && udp && !icmp && !icmpv6', [
      'frame.number',
      'stun.type',
      'stun.att.crc32.status',
      'stun.att.ipv4',
      'stun.att.ipv6',
      'stun.att.port',
    ]);
    for (const row of rows) {
      const n = row['frame.number'][0];
      const msg = ours.get(n);
      assert.ok(msg, `${file} frame ${n}: tshark sees STUN, masq found none`);
      assert.equal(encodeMessageType(msg.method, msg.cls), parseInt(row['stun.type'].at(-1)!, 16), `${file} frame ${n} type`);
      const status = row['stun.att.crc32.status'].at(-1);
      if (status !== undefined) {
        fingerprints++;
        assert.equal(checkFingerprint(msg) === 'ok', status === '1', `${file} frame ${n} fingerprint`);
      }
      const xma = getAttribute(msg, 'XOR-MAPPED-ADDRESS')?.address;
      if (xma) {
        const theirs = [...row['stun.att.ipv4'], ...row['stun.att.ipv6']].map(canonicalIp);
        assert.ok(theirs.includes(canonicalIp(xma.address)), `${file} frame ${n}: ${xma.address} not in ${theirs.join(' ')}`);
        assert.ok(row['stun.att.port'].includes(String(xma.port)), `${file} frame ${n} port`);
      }
      compared++;
    }
  }
  assert.ok(compared > 500, `compared ${compared}`);
  assert.ok(fingerprints > 200, `fingerprints ${fingerprints}`);
});

test('what masq encodes: tshark reads the same types and attributes, good FINGERPRINTs, nothing malformed', { skip }, () => {
  const config: BindingHandlerConfig = {
    addresses: { primary: { address: '198.51.100.10', port: 3478 }, alternate: { address: '198.51.100.11', port: 3479 } },
  };
  const v6config: BindingHandlerConfig = { addresses: { primary: { address: '2001:db8::10', port: 3478 } } };
  const client = { address: '203.0.113.7', port: 40001 };
  const v6client = { address: '2001:db8:1::7', port: 40002 };
  let id = 0;
  const req = (attributes: StunAttribute[]) =>
    encodeStunMessage({ cls: 'request', method: StunMethod.Binding, transactionId: new Uint8Array(12).fill(++id), attributes });
  const datagrams: Datagram[] = [];
  const exchange = (cfg: BindingHandlerConfig, from: typeof client, request: Uint8Array) => {
    datagrams.push({ from, to: cfg.addresses.primary, payload: request });
    for (const r of handleStunPacket(cfg, request, from, 'PP', 'udp').replies) {
      datagrams.push({ from: cfg.addresses.primary, to: r.to, payload: r.data });
    }
  };
  exchange(config, client, req([{ type: 'SOFTWARE', value: 'tshark test' }, { type: 'FINGERPRINT' }]));
  exchange(config, client, req([{ type: 'CHANGE-REQUEST', changeIp: true, changePort: true }, { type: 'FINGERPRINT' }]));
  exchange(v6config, v6client, req([{ type: 'FINGERPRINT' }]));
  exchange(config, client, req([{ type: 'raw', code: 0x7f33, value: new Uint8Array(4) }, { type: 'FINGERPRINT' }]));
  exchange(config, client, req([{ type: 'PADDING', value: new Uint8Array(200) }, { type: 'FINGERPRINT' }]));
  const file = join(tmp, 'masq-stun.pcap');
  writePcap(file, datagrams);
  const rows = tsharkFields(file, 'stun', [
    'frame.number',
    'stun.type',
    'stun.att.crc32.status',
    'stun.att.ipv4',
    'stun.att.ipv6',
    'stun.att.port',
    'stun.att.change-ip',
    'stun.att.change-port',
    'stun.att.error.class',
    'stun.att.error',
    'stun.att.unknown',
    'stun.att.software',
    '_ws.malformed',
    'stun.long_attribute',
    'stun.wrong_msglen',
  ]);
  assert.equal(rows.length, datagrams.length);
  for (const r of rows) {
    assert.deepEqual(r['_ws.malformed'], [], `frame ${r['frame.number']} malformed`);
    assert.deepEqual(r['stun.long_attribute'], []);
    assert.deepEqual(r['stun.wrong_msglen'], []);
    assert.deepEqual(r['stun.att.crc32.status'], ['1'], `frame ${r['frame.number']} fingerprint`);
  }
  const [req1, resp1, req2, resp2, req3, resp3, req4, resp4, , resp5] = rows;
  assert.equal(req1['stun.type'][0], '0x0001');
  assert.equal(resp1['stun.type'][0], '0x0101');
  // XOR-MAPPED-ADDRESS, MAPPED-ADDRESS, RESPONSE-ORIGIN, OTHER-ADDRESS in that order.
  assert.deepEqual(resp1['stun.att.ipv4'], ['203.0.113.7', '203.0.113.7', '198.51.100.10', '198.51.100.11']);
  assert.deepEqual(resp1['stun.att.port'], ['40001', '40001', '3478', '3479']);
  assert.deepEqual(resp1['stun.att.software'], ['masq']);
  assert.deepEqual([req2['stun.att.change-ip'][0], req2['stun.att.change-port'][0]].map((x) => x === '1' || x === 'True'), [true, true]);
  assert.deepEqual(resp2['stun.att.ipv4'].slice(-2), ['198.51.100.11', '198.51.100.10'], 'answered from the alternate: origin .11, other .10');
  assert.equal(req3['stun.att.ipv6'].length, 0);
  assert.deepEqual(resp3['stun.att.ipv6'].map(canonicalIp), ['2001:db8:1::7']);
  assert.equal(req4['stun.type'][0], '0x0001');
  assert.equal(resp4['stun.type'][0], '0x0111');
  assert.deepEqual([resp4['stun.att.error.class'][0], resp4['stun.att.error'][0]], ['4', '20']);
  assert.deepEqual(resp4['stun.att.unknown'].map((x) => parseInt(x, 16)), [0x7f33]);
  assert.equal(resp5['stun.type'][0], '0x0101');
});
