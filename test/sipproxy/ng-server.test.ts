/**
 * The ng server on loopback, driving a relay on fake sockets, as Kamailio's
 * rtpengine module would: ping, offer, answer, query, delete; a
 * retransmission is answered from the cache and not run twice; malformed
 * datagrams are counted and answered with their cookie.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { after, before, test } from 'node:test';
import { bdecode, bencode, text, type BDict } from '../../src/sipproxy/ng/bencode.js';
import { NgServer } from '../../src/sipproxy/ng/server.js';
import { MediaRelay } from '../../src/sipproxy/media/relay.js';
import { FakeRelayNet, ManualScheduler } from './fixtures/fake-relay-net.js';

let relay: MediaRelay;
let server: NgServer;
let client: dgram.Socket;

before(async () => {
  relay = new MediaRelay({
    address: '198.51.100.10',
    ports: { min: 30000, max: 30099 },
    latch: 'signalling-address',
    removeIce: true,
    timeouts: { mediaMs: 60_000, heldMs: 600_000, offerMs: 30_000, maxCallMs: 3600_000 },
    binder: new FakeRelayNet(),
    scheduler: new ManualScheduler(),
    random: Math.random,
  });
  server = await NgServer.start({ address: '127.0.0.1', port: 0, relay, now: () => Date.now(), log: () => {} });
  client = dgram.createSocket('udp4');
  await new Promise<void>((r) => client.bind(0, '127.0.0.1', () => r()));
});

after(async () => {
  client.close();
  server.close();
  await relay.close();
});

/** Sends one datagram and waits (bounded) for the reply with that cookie. */
function exchange(raw: Uint8Array, cookie: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { client.off('message', on); reject(new Error(`no reply for ${cookie}`)); }, 3000);
    const on = (m: Buffer) => {
      const s = m.toString('latin1');
      if (!s.startsWith(`${cookie} `)) return;
      clearTimeout(timer);
      client.off('message', on);
      resolve(s.slice(cookie.length + 1));
    };
    client.on('message', on);
    client.send(raw, server.port, '127.0.0.1');
  });
}

async function command(cookie: string, body: Record<string, unknown>): Promise<BDict> {
  const raw = Buffer.concat([Buffer.from(`${cookie} `), Buffer.from(bencode(body as never))]);
  const reply = await exchange(raw, cookie);
  const r = bdecode(new Uint8Array(Buffer.from(reply, 'latin1')));
  assert.ok(r.ok);
  return r.value as BDict;
}

const SDP = 'v=0\r\no=- 1 1 IN IP4 10.0.1.2\r\ns=-\r\nc=IN IP4 10.0.1.2\r\nt=0 0\r\nm=audio 6000 RTP/AVP 8\r\na=candidate:1 1 UDP 1 10.0.1.2 6000 typ host\r\n';

test('ping, offer, answer, query, delete as the rtpengine module sends them', async () => {
  assert.equal(text((await command('c1', { command: 'ping' })).get('result')), 'pong');
  const offer = await command('c2', { command: 'offer', 'call-id': 'k1', 'from-tag': 'ft', sdp: SDP, 'received-from': ['IP4', '203.0.113.1'], flags: ['trust-address'] });
  assert.equal(text(offer.get('result')), 'ok');
  const sdp = text(offer.get('sdp'))!;
  assert.match(sdp, /c=IN IP4 198\.51\.100\.10\r\n/);
  assert.match(sdp, /m=audio 30\d\d[02468] /);
  assert.doesNotMatch(sdp, /candidate|10\.0\.1\.2/);
  const answer = await command('c3', { command: 'answer', 'call-id': 'k1', 'from-tag': 'ft', 'to-tag': 'tt', sdp: SDP.replaceAll('10.0.1.2', '10.0.2.2') });
  assert.equal(text(answer.get('result')), 'ok');
  const query = await command('c4', { command: 'query', 'call-id': 'k1' });
  assert.equal(text(query.get('result')), 'ok');
  assert.equal(relay.allocator.inUse, 2);
  assert.equal(text((await command('c5', { command: 'delete', 'call-id': 'k1', 'from-tag': 'ft' })).get('result')), 'ok');
  assert.equal(relay.allocator.inUse, 0);
  const gone = await command('c6', { command: 'query', 'call-id': 'k1' });
  assert.equal(text(gone.get('result')), 'error');
});

test('a retransmission (same cookie) gets the same reply and is not run again', async () => {
  const body = { command: 'offer', 'call-id': 'k2', 'from-tag': 'ft', sdp: SDP };
  const first = await command('r1', body);
  const inUse = relay.allocator.inUse;
  const again = await command('r1', body);
  assert.equal(text(again.get('sdp')), text(first.get('sdp')));
  assert.equal(relay.allocator.inUse, inUse);
  assert.ok(server.counters.retransmissions >= 1);
});

test('errors: malformed bencode (cookie echoed), missing fields, unknown commands (not counted by name)', async () => {
  const malformed = await exchange(Buffer.from('m1 d7:command'), 'm1');
  assert.match(malformed, /error-reason.*malformed request/);
  assert.equal(server.counters.malformed, 1);
  const noSdp = await command('m2', { command: 'offer', 'call-id': 'x', 'from-tag': 'y' });
  assert.equal(text(noSdp.get('error-reason')), 'No SDP body');
  for (let i = 0; i < 5; i++) {
    const r = await command(`u${i}`, { command: `invented-${i}` });
    assert.equal(text(r.get('result')), 'error');
  }
  assert.equal(Object.keys(server.counters.byCommand).filter((k) => k.startsWith('invented')).length, 0);
  assert.equal(server.counters.byCommand.other, 5);
});

test('a command that is not a byte string (an integer, a dictionary) is unrecognized, and the server keeps serving', async () => {
  // These once threw in the handler: an unhandled rejection, which ends the process (fuzz target ng-server).
  for (const [cookie, raw] of [['n1', 'n1 d7:commandi1ee'], ['n2', 'n2 d7:commandd1:k1:vee'], ['n3', 'n3 d7:commandlee']]) {
    const r = bdecode(new Uint8Array(Buffer.from(await exchange(Buffer.from(raw), cookie), 'latin1')));
    assert.ok(r.ok);
    assert.equal(text((r.value as BDict).get('error-reason')), 'Unrecognized command');
  }
  const pong = await command('n4', { command: 'ping' });
  assert.equal(text(pong.get('result')), 'pong');
});
