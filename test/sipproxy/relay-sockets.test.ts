/**
 * The media relay on real loopback sockets, on each socket backend
 * (node:dgram, a batched socket per port, one socket set): calls set up by
 * offer and answer, RTP played both ways on every call, everything arrives
 * at the other leg from the relay port its SDP named, strictly latched.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { test } from 'node:test';
import { applyEdits } from '../../src/alg/text/apply-edits.js';
import { systemScheduler } from '../../src/util/clock.js';
import { netRelayBinder, type RelaySockets } from '../../src/sipproxy/media/net-binder.js';
import { MediaRelay } from '../../src/sipproxy/media/relay.js';
import type { UdpIo } from '../../src/net/udp-io.js';
import { batchedSkip } from '../net/udp-implementations.js';

const HOST = '127.0.0.1';
const CALLS = 40;
const PACKETS = 5;

function sdp(port: number): Uint8Array {
  return new Uint8Array(Buffer.from(`v=0\r\no=- 1 1 IN IP4 ${HOST}\r\ns=-\r\nc=IN IP4 ${HOST}\r\nt=0 0\r\nm=audio ${port} RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n`, 'latin1'));
}

function relayPort(body: Uint8Array, edits: Parameters<typeof applyEdits>[1]): number {
  const r = applyEdits(body, edits);
  assert.ok(r.ok);
  return Number(/m=audio (\d+)/.exec(Buffer.from(r.bytes).toString('latin1'))![1]);
}

interface Phone {
  sock: dgram.Socket;
  to: number;
  got: Array<{ seq: number; from: number }>;
}

async function phone(): Promise<Phone> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, HOST, () => r()));
  const p: Phone = { sock, to: 0, got: [] };
  sock.on('message', (m, rinfo) => p.got.push({ seq: m.readUInt16BE(2), from: rinfo.port }));
  return p;
}

const backends: Array<{ name: string; io: UdpIo; sockets: RelaySockets; skip: string | false }> = [
  { name: 'node:dgram', io: 'dgram', sockets: 'per-port', skip: false },
  { name: 'a batched socket per port', io: 'batched', sockets: 'per-port', skip: batchedSkip },
  { name: 'one socket set', io: 'batched', sockets: 'set', skip: batchedSkip },
];

for (const b of backends) {
  test(`relay over ${b.name}: ${CALLS} calls, RTP both ways, all of it relayed from the announced ports`, { skip: b.skip }, async () => {
    let seed = 7;
    const relay = new MediaRelay({
      address: HOST,
      ports: { min: 47000, max: 47999 },
      latch: 'signalling-address',
      removeIce: true,
      timeouts: { mediaMs: 60_000, heldMs: 600_000, offerMs: 30_000, maxCallMs: 3600_000 },
      binder: netRelayBinder(HOST, b.io, 256 * 1024, b.sockets),
      scheduler: systemScheduler,
      random: () => ((seed = (seed * 16807) % 2147483647) / 2147483647),
    });
    const phones: Array<[Phone, Phone]> = [];
    try {
      for (let c = 0; c < CALLS; c++) {
        const a = await phone();
        const bb = await phone();
        const offer = sdp(a.sock.address().port);
        const o = await relay.offer(`call-${c}`, 'ta', HOST, { bytes: offer, start: 0, end: offer.length });
        assert.ok(o.ok);
        const answer = sdp(bb.sock.address().port);
        const an = await relay.answer(`call-${c}`, 'tb', HOST, { bytes: answer, start: 0, end: answer.length }, true);
        assert.ok(an.ok);
        bb.to = relayPort(offer, o.edits);
        a.to = relayPort(answer, an.edits);
        phones.push([a, bb]);
      }
      const pkt = Buffer.alloc(172);
      pkt[0] = 0x80;
      pkt[1] = 8;
      for (let seq = 0; seq < PACKETS; seq++) {
        pkt.writeUInt16BE(seq, 2);
        for (const [a, bb] of phones) {
          a.sock.send(pkt, a.to, HOST);
          bb.sock.send(pkt, bb.to, HOST);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      const deadline = Date.now() + 5000;
      while (phones.some(([a, bb]) => a.got.length < PACKETS || bb.got.length < PACKETS) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      for (const [a, bb] of phones) {
        // A hears B through the port A's SDP was answered with, and the other way round.
        assert.deepEqual(a.got, Array.from({ length: PACKETS }, (_, seq) => ({ seq, from: a.to })));
        assert.deepEqual(bb.got, Array.from({ length: PACKETS }, (_, seq) => ({ seq, from: bb.to })));
      }
      assert.equal(relay.counters.packets, 2 * CALLS * PACKETS);
      assert.equal(relay.counters.refusedSource, 0);
    } finally {
      for (const [a, bb] of phones) {
        a.sock.close();
        bb.sock.close();
      }
      await relay.close();
    }
  });
}
