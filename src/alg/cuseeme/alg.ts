/**
 * The CU-SeeMe ALG: several workstations behind one public address in CU-SeeMe
 * conferences at once (the 1999 modules allowed one). Each workstation keeps
 * the public port masq gave its flow, and the ALG writes that port, not only
 * the address, where CU-SeeMe says where a participant receives: peers that
 * answer at the address and port a header names reach the right workstation.
 * Which packet field changes how is in rewrite.ts; the table of participants
 * behind this NAT in participants.ts.
 *
 * CU-SeeMe needs no pinhole: a reflector or a peer answers on the flow the
 * workstation opened; calls to the gateway's own 7648 arrive by a port
 * trigger or a static forward (the `autofw` rules of docs/gateway.md).
 */
import type { AlgFlow, AlgHandler, FrameOutcome, HandleResult } from '../helper.js';
import { rewriteHistorical } from './historical.js';
import { InsideParticipants } from './participants.js';
import { newRewriteCounters, rewritePacket } from './rewrite.js';

export interface CuSeeMeAlgOptions {
  /** `multi-user` (default): what this folder describes. `historical`: as ip_masq_cuseeme did (one user per LAN). */
  mode?: 'multi-user' | 'historical';
  /** A packet masq cannot read: pass it unchanged (default) or drop it; counted either way. */
  malformed?: 'pass' | 'drop';
}

export class CuSeeMeAlg implements AlgHandler {
  readonly name = 'cuseeme';
  private readonly participants = new InsideParticipants();
  private readonly rewrites = newRewriteCounters();
  private readonly historical: boolean;

  constructor(private readonly options: CuSeeMeAlgOptions = {}) {
    this.historical = options.mode === 'historical';
  }

  frame(): FrameOutcome {
    return { kind: 'error', reason: 'CU-SeeMe runs over UDP only' };
  }

  handle(flow: AlgFlow, message: Uint8Array): HandleResult {
    if (flow.proto !== 17) return { kind: 'pass' };
    if (this.historical) return rewriteHistorical(flow, message);
    this.participants.note(flow);
    const r = rewritePacket(flow, message, this.participants, this.rewrites);
    if (r.kind === 'error' && this.options.malformed === 'drop') return { kind: 'drop', reason: r.reason };
    return r;
  }

  flowGone(flow: number): void {
    this.participants.forget(flow);
  }

  counters(): Record<string, number> {
    return { ...this.rewrites, participants: this.participants.size };
  }
}
