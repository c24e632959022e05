/**
 * The kernel fast path's table text and its bookkeeping (offload-table.ts,
 * kernel-offload.ts), against a stand-in nft that keeps the maps' elements
 * and counters the way the kernel would. test/lab/gateway-offload.test.ts
 * runs it against the real kernel.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { KernelOffload, listingIntervalMs } from '../../../src/dataplane/tun/kernel-offload.js';
import { installCommands, offloadTableScript, parseMapCounters, queueMarkBase, removeCommands } from '../../../src/dataplane/tun/offload-table.js';
import { Side } from '../../../src/nat/engine.js';
import { FLOW_OFFLOADED } from '../../../src/nat/offload.js';
import { describe as describePacket, makeEngine, udpPkt } from '../../nat/packets.js';

const TABLE = 'masq_offload';
const BIT = 0x40000000;

/** A stand-in nft: `add/delete element` lines applied to maps of key -> mark; counters set by the test. */
class FakeNft {
  readonly lines: string[] = [];
  readonly maps = { out: new Map<string, number>(), in: new Map<string, number>(), addr: new Map<string, string>(), port: new Map<string, string>() };
  readonly counts = new Map<number, { packets: number; bytes: number }>();
  refuse = false;

  async run(commands: readonly string[]): Promise<void> {
    for (const line of commands) {
      this.lines.push(line);
      if (this.refuse) continue;
      const m = /^(add|delete) element ip \S+ (out|in|addr|port) \{ (.*) \}$/.exec(line);
      assert.ok(m, line);
      const map = this.maps[m[2] as keyof FakeNft['maps']] as Map<string, unknown>;
      for (const item of m[3].split(', ')) {
        const [key, value] = item.split(' : ');
        if (m[1] === 'add') map.set(key, m[2] === 'out' || m[2] === 'in' ? Number(value) : value);
        else map.delete(key);
      }
    }
  }

  list(map: 'out' | 'in'): string {
    const elem = [...this.maps[map].entries()].map(([key, mark]) => [
      { elem: { val: { concat: key.split(' . ') }, counter: this.counts.get(mark) ?? { packets: 0, bytes: 0 } } },
      mark,
    ]);
    return JSON.stringify({ nftables: [{ metainfo: {} }, { map: { family: 'ip', name: map, table: TABLE, elem } }] });
  }
}

function setUp(options: { afterPackets?: number; maxFlows?: number } = {}) {
  const a = makeEngine();
  const nft = new FakeNft();
  const offload = new KernelOffload(a.engine, {
    table: TABLE,
    markBase: queueMarkBase(BIT, 0),
    afterPackets: options.afterPackets ?? 4,
    maxFlows: options.maxFlows ?? 100,
    nft,
    listMap: async (map) => nft.list(map),
    log: () => {},
    batchMs: 0,
  });
  /** Packets through the engine as the loop would pass them, consider() included. */
  const exchange = (inside: string, remote: string, n: number): number => {
    let pub = '';
    for (let i = 0; i < n; i++) {
      const p = udpPkt(inside, remote);
      a.engine.process(p, Side.Inside);
      pub = describePacket(p).split(' ')[0];
      if ((a.engine.flows.flags[a.engine.lastFlow] & FLOW_OFFLOADED) === 0) offload.consider(a.engine.lastFlow);
      a.engine.process(udpPkt(remote, pub), Side.Outside);
      if ((a.engine.flows.flags[a.engine.lastFlow] & FLOW_OFFLOADED) === 0) offload.consider(a.engine.lastFlow);
    }
    return a.engine.lastFlow;
  };
  return { ...a, nft, offload, exchange };
}

/** Long enough for a flush with batchMs 0 to have run. */
const turn = () => new Promise((r) => setTimeout(r, 5));

describe('the table', () => {
  test('inbound rewritten before routing, outbound after it; control segments, fragments and leaks kept from the kernel', () => {
    const text = offloadTableScript({ table: TABLE, insideInterfaces: ['lan0', 'lan1'], outsideInterface: 'wan0', publicAddrs: ['203.0.113.1'], markBit: BIT });
    const chain = (name: string) => {
      const at = text.indexOf(`chain ${name} {`);
      assert.ok(at >= 0, `no chain ${name}`);
      return text.slice(at, text.indexOf('\n  }', at));
    };
    const pre = chain('prerouting');
    const post = chain('postrouting');
    assert.match(pre, /priority raw/);
    assert.match(pre, /tcp flags & \(fin \| syn \| rst\) != 0 return/);
    assert.match(pre, /ip frag-off & 0x3fff != 0 return/);
    // Both checks come before any packet is marked.
    assert.ok(pre.indexOf('return') < pre.indexOf('vmap'));
    assert.match(pre, /iifname vmap \{ "lan0" : jump mark_outbound, "lan1" : jump mark_outbound, "wan0" : jump rewrite_inbound \}/);
    assert.match(chain('mark_outbound'), /meta mark set .* map @out notrack$/);
    const inbound = chain('rewrite_inbound');
    assert.match(inbound, /meta l4proto udp meta mark set .* map @in notrack ip daddr set meta mark map @addr udp dport set meta mark map @port/);
    assert.match(inbound, /meta l4proto tcp meta mark set .* map @in notrack ip daddr set meta mark map @addr tcp dport set meta mark map @port/);
    assert.ok(!/saddr set/.test(pre + inbound + chain('mark_outbound')), 'the source is rewritten after routing');
    // Unmarked packets leave postrouting at its first rule.
    assert.match(post, /policy accept;\n    meta mark & 0x40000000 != 0x40000000 return\n    iifname vmap \{ "lan0" : jump rewrite_outbound, "lan1" : jump rewrite_outbound \}$/);
    const outbound = chain('rewrite_outbound');
    assert.match(outbound, /ip saddr set meta mark map @addr tcp sport set meta mark map @port/);
    assert.match(outbound, /ip saddr set meta mark map @addr udp sport set meta mark map @port/);
    assert.match(outbound, /ip saddr != \{ 203\.0\.113\.1 \} counter drop$/, 'the leak check comes after the rewrites');
    assert.match(text, /set sync \{ type mark; flags timeout; \}/, 'the nft session confirms its batches through it');
  });

  test('a mark bit below the queues\' room, or not one bit, is refused', () => {
    for (const markBit of [0x100, 0x3000000, 0x60000000]) {
      assert.throws(() => offloadTableScript({ table: TABLE, insideInterfaces: ['lan0'], outsideInterface: 'wan0', publicAddrs: ['203.0.113.1'], markBit }), /one bit/);
    }
  });

  test('elements: what a mark rewrites to comes first on install and last on removal', () => {
    const f = { proto: 17, inAddr: 0x0a000002, inPort: 30000, pubAddr: 0xcb007101, pubPort: 1024, remAddr: 0xc6336414, remPort: 40000, markOut: BIT + 1, markIn: BIT + 2 };
    assert.deepEqual(installCommands(TABLE, [f]), [
      'add element ip masq_offload addr { 0x40000001 : 203.0.113.1, 0x40000002 : 10.0.0.2 }',
      'add element ip masq_offload port { 0x40000001 : 1024, 0x40000002 : 30000 }',
      'add element ip masq_offload out { 10.0.0.2 . udp . 30000 . 198.51.100.20 . 40000 : 0x40000001 }',
      'add element ip masq_offload in { 198.51.100.20 . udp . 40000 . 203.0.113.1 . 1024 : 0x40000002 }',
    ]);
    assert.deepEqual(
      removeCommands(TABLE, [f]).map((l) => l.split(' ')[4]),
      ['out', 'in', 'addr', 'port'],
    );
  });

  test("nft's JSON counters by mark; anything else is an error", () => {
    const nft = new FakeNft();
    nft.maps.out.set('10.0.0.2 . udp . 1 . 198.51.100.1 . 2', BIT + 1);
    nft.counts.set(BIT + 1, { packets: 7, bytes: 700 });
    assert.deepEqual([...parseMapCounters(nft.list('out'))], [[BIT + 1, { packets: 7, bytes: 700 }]]);
    assert.throws(() => parseMapCounters('{"x":1}'), /not nft JSON/);
    assert.throws(() => parseMapCounters('Error: No such file'), SyntaxError);
  });
});

describe('handing flows over and taking them back', () => {
  test('a flow goes after enough packets both ways; the flows of one batchMs go in one batch', async () => {
    const s = setUp({ afterPackets: 4 });
    const a = s.exchange('10.0.0.2:30000', '198.51.100.20:40000', 1);
    assert.equal(s.engine.flows.flags[a] & FLOW_OFFLOADED, 0, 'two packets: not yet');
    s.exchange('10.0.0.2:30000', '198.51.100.20:40000', 1);
    const b = s.exchange('10.0.0.3:30000', '198.51.100.20:40000', 2);
    assert.ok(s.engine.flows.flags[a] & FLOW_OFFLOADED);
    assert.ok(s.engine.flows.flags[b] & FLOW_OFFLOADED);
    assert.equal(s.nft.lines.length, 0, 'sent after batchMs');
    await turn();
    assert.equal(s.nft.lines.length, 4);
    assert.equal(s.nft.maps.out.size, 2);
    assert.equal(s.offload.counters.offloaded, 2);
  });

  test("the kernel's counters are credited to the flow, once each", async () => {
    const s = setUp();
    const id = s.exchange('10.0.0.2:30000', '198.51.100.20:40000', 2);
    await turn();
    const [markOut] = s.nft.maps.out.values();
    const [markIn] = s.nft.maps.in.values();
    s.nft.counts.set(markOut, { packets: 100, bytes: 10_000 });
    s.nft.counts.set(markIn, { packets: 90, bytes: 9_000 });
    s.clock.advance(60_000);
    await s.offload.reconcile(s.clock.now());
    assert.equal(s.engine.flows.packetsOut[id], 102);
    assert.equal(s.engine.flows.packetsIn[id], 92);
    assert.equal(s.engine.flows.lastSeen[id], 60_000, 'refreshed');
    s.clock.advance(1000);
    await s.offload.reconcile(s.clock.now());
    assert.equal(s.engine.flows.packetsOut[id], 102, 'the same counters are not credited twice');
    assert.equal(s.offload.counters.reconciles, 2);
    assert.equal(s.offload.counters.kernelPackets, 190);
  });

  test('a flow the engine let go leaves the kernel at the next reconcile', async () => {
    const s = setUp();
    const id = s.exchange('10.0.0.2:30000', '198.51.100.20:40000', 2);
    await turn();
    s.engine.deleteFlow(id);
    await s.offload.reconcile(s.clock.now());
    await turn();
    assert.equal(s.nft.maps.out.size, 0);
    assert.equal(s.nft.maps.in.size, 0);
    assert.equal(s.nft.maps.addr.size, 0);
    assert.equal(s.offload.counters.returned, 1);
    assert.equal(s.offload.size, 0);
  });

  test('a slot reused by a new flow is not mistaken for the old one', async () => {
    const s = setUp();
    const id = s.exchange('10.0.0.2:30000', '198.51.100.20:40000', 2);
    await turn();
    s.engine.deleteFlow(id);
    const again = s.exchange('10.0.0.4:30000', '198.51.100.21:40000', 1);
    assert.equal(again, id, 'the engine reuses the slot');
    await s.offload.reconcile(s.clock.now());
    await turn();
    assert.equal(s.offload.counters.returned, 1);
    assert.ok(![...s.nft.maps.out.keys()].some((k) => k.startsWith('10.0.0.2 ')));
  });

  test('a flow made again on the same 5-tuple before the reconcile replaces its old elements first', async () => {
    const s = setUp();
    const id = s.exchange('10.0.0.2:30000', '198.51.100.20:40000', 2);
    await turn();
    s.engine.deleteFlow(id);
    s.exchange('10.0.0.2:30000', '198.51.100.20:40000', 2);
    await turn();
    assert.equal(s.nft.maps.out.size, 1);
    assert.equal(s.nft.maps.in.size, 1);
    assert.equal(s.offload.size, 1);
    const deletes = s.nft.lines.findIndex((l) => l.startsWith('delete'));
    const lastAdd = s.nft.lines.findLastIndex((l) => l.startsWith('add element ip masq_offload out'));
    assert.ok(deletes >= 0 && deletes < lastAdd, 'the old elements go before the new ones come');
  });

  test('flows the kernel did not take (nft refused them) go back to masq after two listings', async () => {
    const s = setUp();
    s.nft.refuse = true;
    const id = s.exchange('10.0.0.2:30000', '198.51.100.20:40000', 2);
    await turn();
    await s.offload.reconcile(s.clock.now());
    assert.ok(s.engine.flows.flags[id] & FLOW_OFFLOADED, 'one listing may race the install');
    s.clock.advance(1000);
    await s.offload.reconcile(s.clock.now());
    assert.equal(s.engine.flows.flags[id] & FLOW_OFFLOADED, 0);
    assert.equal(s.offload.size, 0);
  });

  test('a listing that fails credits nothing and returns nothing, but ended flows still leave', async () => {
    const s = setUp();
    const a = s.exchange('10.0.0.2:30000', '198.51.100.20:40000', 2);
    const b = s.exchange('10.0.0.3:30000', '198.51.100.20:40000', 2);
    await turn();
    const broken = new KernelOffload(s.engine, {
      table: TABLE,
      markBase: queueMarkBase(BIT, 1),
      afterPackets: 1,
      maxFlows: 10,
      nft: s.nft,
      listMap: async () => null,
      log: () => {},
    batchMs: 0,
    });
    s.engine.flows.flags[a] &= ~FLOW_OFFLOADED;
    s.engine.flows.flags[b] &= ~FLOW_OFFLOADED;
    broken.consider(a);
    broken.consider(b);
    await turn();
    s.engine.deleteFlow(b);
    for (let i = 0; i < 3; i++) {
      s.clock.advance(1000);
      await broken.reconcile(s.clock.now());
    }
    assert.equal(broken.counters.listFailures, 3);
    assert.ok(s.engine.flows.flags[a] & FLOW_OFFLOADED, 'kept: nothing says the kernel lost it');
    assert.equal(broken.size, 1, 'the ended flow left');
  });

  test('flows handed over while the maps are listed wait for the listing (a commit would restart its dump)', async () => {
    const a = makeEngine();
    const nft = new FakeNft();
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const offload = new KernelOffload(a.engine, {
      table: TABLE,
      markBase: queueMarkBase(BIT, 0),
      afterPackets: 1,
      maxFlows: 10,
      nft,
      listMap: async (map) => {
        await gate;
        return nft.list(map);
      },
      log: () => {},
    batchMs: 0,
    });
    const first = udpPkt('10.0.0.2:30000', '198.51.100.20:40000');
    a.engine.process(first, Side.Inside);
    a.engine.process(udpPkt('198.51.100.20:40000', describePacket(first).split(' ')[0]), Side.Outside);
    offload.consider(a.engine.lastFlow);
    await turn();
    assert.equal(nft.maps.out.size, 1);
    const reconciled = offload.reconcile(a.clock.now());
    const second = udpPkt('10.0.0.3:30000', '198.51.100.20:40000');
    a.engine.process(second, Side.Inside);
    a.engine.process(udpPkt('198.51.100.20:40000', describePacket(second).split(' ')[0]), Side.Outside);
    offload.consider(a.engine.lastFlow);
    await turn();
    assert.equal(nft.maps.out.size, 1, 'held while listing');
    release();
    await reconciled;
    await turn();
    assert.equal(nft.maps.out.size, 2, 'sent once the listing is done');
  });

  test('the counters are read at most every 2 ms per flow in the kernel (capped at a minute); ended flows leave in between', async () => {
    assert.equal(listingIntervalMs(10, 2000), 2000);
    assert.equal(listingIntervalMs(5000, 2000), 10_000);
    assert.equal(listingIntervalMs(100_000, 2000), 60_000);
    const s = setUp();
    const ids = [2, 3, 4].map((h) => s.exchange(`10.0.0.${h}:30000`, '198.51.100.20:40000', 2));
    await turn();
    await s.offload.reconcile(s.clock.now());
    assert.equal(s.offload.counters.reconciles, 1);
    s.engine.deleteFlow(ids[0]);
    await s.offload.reconcile(s.clock.now() + 1);
    assert.equal(s.offload.counters.reconciles, 1, 'not read again within 3 flows x 2 ms');
    assert.equal(s.offload.size, 2, 'the ended flow left all the same');
  });

  test('batchMs spaces batches: the first flow goes at once, the next ones wait for the spacing and go together', async () => {
    const a = makeEngine();
    const nft = new FakeNft();
    const offload = new KernelOffload(a.engine, { table: TABLE, markBase: queueMarkBase(BIT, 0), afterPackets: 1, maxFlows: 10, nft, listMap: async (m) => nft.list(m), log: () => {}, batchMs: 200 });
    const handOver = (host: number) => {
      const p = udpPkt(`10.0.0.${host}:30000`, '198.51.100.20:40000');
      a.engine.process(p, Side.Inside);
      a.engine.process(udpPkt('198.51.100.20:40000', describePacket(p).split(' ')[0]), Side.Outside);
      offload.consider(a.engine.lastFlow);
    };
    handOver(2);
    await turn();
    assert.equal(nft.maps.out.size, 1, 'no batch before: at once');
    handOver(3);
    handOver(4);
    await turn();
    assert.equal(nft.maps.out.size, 1, 'within 200 ms of the last batch: waiting');
    await new Promise((r) => setTimeout(r, 250));
    assert.equal(nft.maps.out.size, 3);
    assert.equal(offload.counters.batches, 2, 'the two waiting flows in one batch');
    offload.close();
  });

  test('at maxFlows a flow stays with masq, counted', async () => {
    const s = setUp({ maxFlows: 1 });
    s.exchange('10.0.0.2:30000', '198.51.100.20:40000', 2);
    const b = s.exchange('10.0.0.3:30000', '198.51.100.20:40000', 2);
    assert.equal(s.engine.flows.flags[b] & FLOW_OFFLOADED, 0);
    assert.ok(s.offload.counters.refusedFull >= 1);
  });

  test('close takes every flow back into masq', async () => {
    const s = setUp();
    const id = s.exchange('10.0.0.2:30000', '198.51.100.20:40000', 2);
    await turn();
    s.offload.close();
    assert.equal(s.engine.flows.flags[id] & FLOW_OFFLOADED, 0);
    assert.equal(s.offload.size, 0);
  });
});
