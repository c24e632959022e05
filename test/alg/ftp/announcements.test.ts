/**
 * The data addresses an FTP control connection announces: PORT, EPRT, 227
 * and 229, read in place with their spans; malformed ones reported, never
 * thrown; the six-number text round-trips.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { hostPortText, parseCommandAnnouncement, parseReplyAnnouncement } from '../../../src/alg/ftp/index.js';
import { parseIpv4 } from '../../../src/wire/address.js';

const bytes = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));
const cmd = (s: string) => parseCommandAnnouncement(bytes(s), 0, s.length);
const reply = (s: string) => parseReplyAnnouncement(bytes(s), 0, s.length);
const span = (s: string, start: number, end: number) => s.slice(start, end);

test('PORT: address, port and the span of the six numbers, any case', () => {
  for (const line of ['PORT 10,0,1,2,156,64\r\n', 'port 10,0,1,2,156,64\n', 'Port  10,0,1,2,156,64 \r\n', '\xff\xf4\xff\xf2PORT 10,0,1,2,156,64\r\n']) {
    const r = cmd(line);
    assert.equal(r.kind, 'found', line);
    if (r.kind !== 'found' || r.announcement.kind !== 'port') return;
    assert.equal(r.announcement.addr, parseIpv4('10.0.1.2'));
    assert.equal(r.announcement.port, 156 * 256 + 64);
    assert.equal(span(line, r.announcement.start, r.announcement.end), '10,0,1,2,156,64');
  }
});

test('EPRT |1| and other delimiters; |2| is recognised as IPv6', () => {
  const line = 'EPRT |1|10.0.1.2|40000|\r\n';
  const r = cmd(line);
  assert.ok(r.kind === 'found' && r.announcement.kind === 'eprt');
  if (r.kind !== 'found' || r.announcement.kind !== 'eprt') return;
  assert.equal(r.announcement.family, 1);
  assert.equal(r.announcement.addr, parseIpv4('10.0.1.2'));
  assert.equal(r.announcement.port, 40000);
  assert.equal(span(line, r.announcement.addrStart, r.announcement.addrEnd), '10.0.1.2');
  assert.equal(span(line, r.announcement.portStart, r.announcement.portEnd), '40000');
  const bang = cmd('eprt !1!10.0.1.2!40000!\r\n');
  assert.ok(bang.kind === 'found' && bang.announcement.kind === 'eprt' && bang.announcement.port === 40000);
  const v6 = cmd('EPRT |2|2001:db8::1|40000|\r\n');
  assert.ok(v6.kind === 'found' && v6.announcement.kind === 'eprt' && v6.announcement.family === 2 && v6.announcement.addr === 0);
});

test('227: the numbers wherever the text puts them; 229: the port between the delimiters', () => {
  for (const [line, numbers] of [
    ['227 Entering Passive Mode (198,51,100,10,195,80).\r\n', '198,51,100,10,195,80'],
    ['227 Entering Passive Mode 198,51,100,10,195,80\r\n', '198,51,100,10,195,80'],
    ['227 =198,51,100,10,195,80\r\n', '198,51,100,10,195,80'],
  ] as const) {
    const r = reply(line);
    assert.ok(r.kind === 'found' && r.announcement.kind === 'pasv', line);
    if (r.kind !== 'found' || r.announcement.kind !== 'pasv') return;
    assert.equal(span(line, r.announcement.start, r.announcement.end), numbers);
    assert.equal(r.announcement.port, 195 * 256 + 80);
  }
  const line = '229 Entering Extended Passive Mode (|||6446|)\r\n';
  const r = reply(line);
  assert.ok(r.kind === 'found' && r.announcement.kind === 'epsv');
  if (r.kind !== 'found' || r.announcement.kind !== 'epsv') return;
  assert.equal(r.announcement.port, 6446);
  assert.equal(span(line, r.announcement.portStart, r.announcement.portEnd), '6446');
});

test('other commands and replies announce nothing', () => {
  for (const line of ['PASV\r\n', 'EPSV\r\n', 'RETR PORT 1,2,3,4,5,6\r\n', 'PORTS 1,2,3,4,5,6\r\n', 'SITE PORT\r\n']) assert.equal(cmd(line).kind, 'none', line);
  for (const line of ['200 PORT command successful\r\n', '150 Opening (1,2,3,4,5,6)\r\n', '2270 x\r\n']) assert.equal(reply(line).kind, 'none', line);
});

test('malformed announcements are reported, not thrown', () => {
  for (const line of [
    'PORT\r\n',
    'PORT 10,0,1,2,156\r\n',
    'PORT 10,0,1,256,1,1\r\n',
    'PORT 10,0,1,2,1,1 junk\r\n',
    'PORT 10,0,1,2,1,1000\r\n',
    'PORT -1,0,1,2,1,1\r\n',
    'EPRT 1|10.0.1.2|40000|\r\n',
    'EPRT |1|10.0.1|40000|\r\n',
    'EPRT |1|10.0.1.2|70000|\r\n',
    'EPRT |1|10.0.1.2||\r\n',
    'EPRT |1|10.0.1.2|40000\r\n',
  ]) {
    assert.equal(cmd(line).kind, 'malformed', line);
  }
  for (const line of ['227 Entering Passive Mode\r\n', '227 (1,2,3)\r\n', '229 (|||x|)\r\n', '229 (||6446|)\r\n', '229 Entering\r\n', '227-multi\r\n227 (1,2,3,4,5,6)\r\n']) {
    assert.equal(reply(line).kind, 'malformed', line);
  }
});

test('property: six numbers round-trip through hostPortText', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 65535 }), (addr, port) => {
      const line = `PORT ${hostPortText(addr, port)}\r\n`;
      const r = cmd(line);
      assert.ok(r.kind === 'found' && r.announcement.kind === 'port');
      if (r.kind !== 'found' || r.announcement.kind !== 'port') return;
      assert.equal(r.announcement.addr, addr);
      assert.equal(r.announcement.port, port);
    }),
  );
});

test('property: arbitrary bytes never throw, and spans stay inside the message', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 200 }),
        fc.stringMatching(/^(PORT|EPRT|227|229) [-0-9,|().a-z!]{0,40}(\r\n)?$/).map(bytes),
      ),
      (b) => {
        for (const r of [parseCommandAnnouncement(b, 0, b.length), parseReplyAnnouncement(b, 0, b.length)]) {
          if (r.kind !== 'found') continue;
          const a = r.announcement;
          const spans = a.kind === 'eprt' ? [a.addrStart, a.addrEnd, a.portStart, a.portEnd] : a.kind === 'epsv' ? [a.portStart, a.portEnd] : [a.start, a.end];
          for (const s of spans) assert.ok(s >= 0 && s <= b.length);
          assert.ok(a.port >= 0 && a.port <= 65535);
        }
      },
    ),
    { numRuns: 3000 },
  );
});
