/**
 * rtpengine ng seeds: `<cookie> <bencoded dictionary>` datagrams as a SIP
 * proxy's rtpengine module sends them (ping, offer, answer, query, delete,
 * list), the bencode of the unit tests, hostile shapes (deep nesting, long
 * lengths, unsorted and repeated keys), the protocol's tokens, and a
 * fast-check generator of bencoded values.
 */
import fc from 'fast-check';
import { bencode, type BInput } from '../../../src/sipproxy/ng/bencode.js';
import { latin1 } from '../target.js';

export const NG_SDP =
  'v=0\r\no=- 1 1 IN IP4 10.0.1.2\r\ns=-\r\nc=IN IP4 10.0.1.2\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n' +
  'a=candidate:1 1 UDP 1 10.0.1.2 6000 typ host\r\nm=video 6002 RTP/AVP 96\r\na=sendrecv\r\n';

function ng(cookie: string, body: BInput): Uint8Array {
  const payload = bencode(body);
  const out = new Uint8Array(cookie.length + 1 + payload.length);
  out.set(latin1(`${cookie} `));
  out.set(payload, cookie.length + 1);
  return out;
}

export function ngSeeds(): Uint8Array[] {
  const offer = { command: 'offer', 'call-id': 'c1', 'from-tag': 'ft', sdp: NG_SDP, 'received-from': ['IP4', '203.0.113.1'], flags: ['trust-address'], replace: ['origin', 'session-connection'], ICE: 'remove' };
  const answer = { command: 'answer', 'call-id': 'c1', 'from-tag': 'ft', 'to-tag': 'tt', sdp: NG_SDP.replaceAll('10.0.1.2', '10.0.2.2') };
  return [
    ng('1_2_3', { command: 'ping' }),
    ng('c1', offer),
    ng('c2', answer),
    ng('c3', { command: 'query', 'call-id': 'c1' }),
    ng('c4', { command: 'delete', 'call-id': 'c1', 'from-tag': 'ft' }),
    ng('c5', { command: 'list' }),
    ng('c6', { command: 'statistics' }),
    ng('c7', { command: 'offer', 'call-id': 'c1', 'from-tag': 'ft' }),
    ng('c8', { command: 'answer', 'call-id': 'nope', 'from-tag': 'ft', 'to-tag': 'x', sdp: 'v=0\r\n' }),
    ng('c9', { command: 'offer', 'call-id': 'c9', 'from-tag': 'a', sdp: 'garbage' }),
    ng('x', { command: 'bogus', n: -42, l: [1, 'two', ['three']], d: { k: { k: 'v' } } }),
    latin1('c10 d7:command4:pinge'),
    latin1('d7:command4:pinge'),
    latin1('c11 le'),
    latin1('c12 d1:bi1e1:ai2ee'),
    latin1('c13 d1:ai1e1:ai2ee'),
    latin1('c14 d3:\xe9t\xe94:pinge'),
    latin1(`c15 ${'l'.repeat(40)}${'e'.repeat(40)}`),
    latin1(`c16 ${'d1:a'.repeat(30)}i0e${'e'.repeat(30)}`),
    latin1('c17 d3:sdp99999999:xe'),
    latin1('c18 di1ei2ee'),
    latin1('c19 d1:ai-0ee'),
    latin1('c20 d1:ai007ee'),
    latin1('c21 d1:a03:abce'),
    latin1('c22 d1:ai99999999999999999999ee'),
    latin1('c23 d7:command4:pinge trailing'),
    // Nesting as deep as a datagram allows: refused by depth, never by a blown stack, whatever the limits.
    latin1(`c24 ${'l'.repeat(4000)}${'e'.repeat(4000)}`),
  ];
}

export const NG_DICTIONARY = [
  'd', 'l', 'e', 'i', ':', ' ', '0:', 'i0e', 'i-1e', '1:a',
  '7:command', '4:ping', '5:offer', '6:answer', '6:delete', '5:query', '4:list', '10:statistics',
  '7:call-id', '8:from-tag', '6:to-tag', '3:sdp', '13:received-from', '5:flags', '7:replace', '3:ICE', '6:remove',
  '3:IP4', '11:203.0.113.1', '13:trust-address', '6:result', '12:error-reason',
  'v=0\r\n', 'c=IN IP4 10.0.1.2\r\n', 'm=audio 6000 RTP/AVP 0\r\n',
];

const key = fc.oneof(fc.constantFrom('command', 'call-id', 'from-tag', 'to-tag', 'sdp', 'received-from', 'flags', 'ICE'), fc.string({ maxLength: 6 }));
const value = fc.letrec<{ v: BInput }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.integer({ min: -1_000_000, max: 1_000_000 }),
    fc.constantFrom('ping', 'offer', 'answer', 'delete', 'query', 'list', 'c1', 'ft', 'tt', NG_SDP),
    fc.uint8Array({ maxLength: 24 }),
    fc.array(tie('v'), { maxLength: 4 }),
    fc.dictionary(key, tie('v'), { maxKeys: 5 }),
  ),
})).v;

/** `<cookie> <dictionary>` datagrams whose dictionary is a well-formed bencoded value of the protocol's keys. */
export const ngGenerator: fc.Arbitrary<Uint8Array> = fc
  .tuple(fc.stringMatching(/^[A-Za-z0-9_]{1,12}$/), fc.dictionary(key, value, { maxKeys: 6 }), fc.constantFrom('ping', 'offer', 'answer', 'delete', 'query', 'list'))
  .map(([cookie, body, command]) => ng(cookie, { ...body, command }));
