/**
 * In-kernel forwarding of latched streams, with nftables NAT and conntrack
 * (MediaProxy's method, with maps instead of one rule per call): once both
 * legs of a stream are latched, the first packet from either leg to its
 * relay port is translated to the other leg's address (DNAT) and sent from
 * the relay's other port (SNAT); conntrack carries the rest of the stream
 * both ways without it reaching user space. The `forwarded` set counts each
 * direction's packets for the statistics and the media timeout.
 *
 * Taking a stream back (a re-INVITE, the end of the call) removes its map
 * elements and then deletes its conntrack entries: otherwise the existing
 * connection would go on being translated until it timed out.
 */
import { spawn } from 'node:child_process';
import type { KernelCounts, KernelForwarding, KernelPair } from '../media/relay.js';
import { nftCommand, type NftSession } from '../../net/nft-session.js';

export interface KernelOptions {
  session: NftSession;
  /** "ip masq_sipproxy" */
  table: string;
  nft?: string;
  conntrack?: string;
  log(event: string, fields: Record<string, unknown>): void;
}

function elements(p: KernelPair): { peer: string; via: string; fwd: string } {
  const { a, b } = p;
  return {
    peer: `${a.address} . ${a.port} . ${a.relayPort} : ${b.address} . ${b.port}, ${b.address} . ${b.port} . ${b.relayPort} : ${a.address} . ${a.port}`,
    via: `${a.relayPort} : ${p.relayAddress} . ${b.relayPort}, ${b.relayPort} : ${p.relayAddress} . ${a.relayPort}`,
    fwd: `${a.address} . ${a.port} . ${b.address} . ${b.port}, ${b.address} . ${b.port} . ${a.address} . ${a.port}`,
  };
}

function run(cmd: string, args: readonly string[]): Promise<number | null> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: 'ignore' });
    p.on('error', () => resolve(null));
    p.on('close', (code) => resolve(code));
  });
}

export class NftKernelForwarding implements KernelForwarding {
  /** forwarded element key "src:sport>dst:dport" -> (a.relayPort, direction) */
  private readonly directions = new Map<string, { port: number; fromA: boolean }>();
  private readonly pending: Array<{ pair: KernelPair; resolve: (ok: boolean) => void }> = [];
  private flushScheduled = false;
  conntrackDeletes = 0;
  /** nft batches that installed pairs (a batch carries every pair that latched in one turn). */
  installBatches = 0;

  constructor(private readonly o: KernelOptions) {}

  /**
   * Queues the pair; the pairs queued in one turn of the event loop go to nft
   * together (three commands for all of them, not three each): when many
   * calls latch at once, the hand-over is one batch, not a queue of
   * transactions their media waits behind.
   */
  install(p: KernelPair): Promise<boolean> {
    return new Promise((resolve) => {
      this.pending.push({ pair: p, resolve });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => void this.installPending());
      }
    });
  }

  private async installPending(): Promise<void> {
    this.flushScheduled = false;
    const batch = this.pending.splice(0);
    if (batch.length === 0) return;
    this.installBatches++;
    if (batch.length === 1 || !(await this.installAll(batch.map((b) => b.pair)))) {
      // One at a time: a pair nft refuses fails alone.
      for (const b of batch) b.resolve(await this.installAll([b.pair]));
      return;
    }
    for (const b of batch) b.resolve(true);
  }

  /** All pairs in one batch of commands; false (and nothing left installed) when nft refused any of it. */
  private async installAll(pairs: readonly KernelPair[]): Promise<boolean> {
    const es = pairs.map(elements);
    const errorsBefore = this.o.session.errors;
    await this.o.session.run([
      `add element ${this.o.table} via { ${es.map((e) => e.via).join(', ')} }`,
      `add element ${this.o.table} forwarded { ${es.map((e) => e.fwd).join(', ')} }`,
      // Last: from here on the streams' packets are tracked and translated.
      `add element ${this.o.table} peer { ${es.map((e) => e.peer).join(', ')} }`,
    ]);
    if (this.o.session.errors !== errorsBefore) {
      for (const p of pairs) await this.remove(p);
      return false;
    }
    for (const p of pairs) {
      this.directions.set(`${p.a.address}:${p.a.port}>${p.b.address}:${p.b.port}`, { port: p.a.relayPort, fromA: true });
      this.directions.set(`${p.b.address}:${p.b.port}>${p.a.address}:${p.a.port}`, { port: p.a.relayPort, fromA: false });
    }
    return true;
  }

  async remove(p: KernelPair): Promise<void> {
    const queued = this.pending.findIndex((x) => x.pair === p);
    if (queued >= 0) {
      // Taken back before its batch went out: nothing of it is in the kernel.
      this.pending.splice(queued, 1)[0].resolve(false);
      return;
    }
    const e = elements(p);
    this.directions.delete(`${p.a.address}:${p.a.port}>${p.b.address}:${p.b.port}`);
    this.directions.delete(`${p.b.address}:${p.b.port}>${p.a.address}:${p.a.port}`);
    await this.o.session.run([
      `delete element ${this.o.table} peer { ${e.peer} }`,
      `delete element ${this.o.table} via { ${e.via} }`,
      `delete element ${this.o.table} forwarded { ${e.fwd} }`,
    ]);
    // The connection made by the first kernel packet (either leg's) would keep translating.
    const ct = this.o.conntrack ?? 'conntrack';
    for (const side of [p.a, p.b]) {
      const code = await run(ct, ['-D', '-p', 'udp', '-s', side.address, '--sport', String(side.port), '-d', p.relayAddress, '--dport', String(side.relayPort)]);
      if (code === 0) this.conntrackDeletes++;
    }
  }

  async counts(): Promise<Map<number, KernelCounts>> {
    const out = new Map<number, KernelCounts>();
    const [family, name] = this.o.table.split(' ');
    const text = await nftCommand(['-j', 'list', 'set', family, name, 'forwarded'], this.o.nft);
    if (text === null) throw new Error('nft list set forwarded failed');
    const json = JSON.parse(text) as { nftables: Array<{ set?: { elem?: Array<{ elem?: { val?: { concat?: Array<string | number> }; counter?: { packets: number; bytes: number } } }> } }> };
    for (const item of json.nftables) {
      for (const el of item.set?.elem ?? []) {
        const v = el.elem?.val?.concat;
        const c = el.elem?.counter;
        if (!v || !c || v.length !== 4) continue;
        const d = this.directions.get(`${v[0]}:${v[1]}>${v[2]}:${v[3]}`);
        if (!d) continue;
        const counts = out.get(d.port) ?? { aPackets: 0, aBytes: 0, bPackets: 0, bBytes: 0 };
        if (d.fromA) {
          counts.aPackets = c.packets;
          counts.aBytes = c.bytes;
        } else {
          counts.bPackets = c.packets;
          counts.bBytes = c.bytes;
        }
        out.set(d.port, counts);
      }
    }
    return out;
  }
}
