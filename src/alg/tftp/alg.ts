/**
 * The TFTP ALG. A client sends its read or write request to the server's
 * port 69; the server answers from a port of its own (RFC 1350: a new
 * transfer identifier), to the client's port. Behind a NAT that filters by
 * address and port, that answer is unsolicited. A request from inside opens
 * one pinhole: from any port of the server the request went to, to the
 * public endpoint the request left from (so the answer reaches the client's
 * own port), once, for a bounded time. Nothing is rewritten: a request
 * carries no address.
 *
 * A repeated request (the client's retransmission) replaces the pinhole the
 * first one opened. Requests from outside (a server behind a forward) need
 * nothing: the server's answer leaves as a new outbound flow. A datagram that
 * is not a well-formed request opens nothing and is counted.
 */
import { ipv4ToString } from '../../wire/address.js';
import type { AlgFlow, AlgHandler, AlgServices, FrameOutcome, HandleResult } from '../helper.js';
import { parseTftpRequest, TFTP_RRQ } from './request.js';

export interface TftpAlgOptions {
  /** How long a request's pinhole waits for the server's answer (default 30 s). */
  replySeconds?: number;
}

const UDP = 17;

export class TftpAlg implements AlgHandler {
  readonly name = 'tftp';
  /** The pinhole of each request flow's latest request, by flow. */
  private readonly pending = new Map<number, number>();
  private nextGroup = 1;
  private readonly replyMs: number;
  private readonly stats = {
    readRequests: 0,
    writeRequests: 0,
    pinholes: 0,
    /** Pinholes of earlier requests on the same flow, replaced. */
    replaced: 0,
    refused: 0,
    /** Datagrams to the TFTP port that are not a well-formed request: nothing opened. */
    notRequests: 0,
  };

  constructor(options: TftpAlgOptions = {}) {
    this.replyMs = (options.replySeconds ?? 30) * 1000;
  }

  frame(): FrameOutcome {
    // TFTP runs over UDP only; a TCP flow on its port is not TFTP.
    return { kind: 'error', reason: 'TFTP runs over UDP' };
  }

  counters(): Record<string, number> {
    return { ...this.stats };
  }

  flowGone(flow: number): void {
    // The pinhole outlives nothing: its time to live is far below the flow's.
    this.pending.delete(flow);
  }

  handle(flow: AlgFlow, message: Uint8Array, services: AlgServices): HandleResult {
    if (!flow.outbound || flow.proto !== UDP) return { kind: 'pass' };
    const r = parseTftpRequest(message);
    if (r.kind !== 'request') {
      this.stats.notRequests++;
      return { kind: 'pass' };
    }
    const read = r.request.opcode === TFTP_RRQ;
    if (read) this.stats.readRequests++;
    else this.stats.writeRequests++;
    const previous = this.pending.get(flow.id);
    if (previous !== undefined && services.removeExpectation(previous)) this.stats.replaced++;
    this.pending.delete(flow.id);
    const e = services.expect({
      proto: UDP,
      insideAddr: flow.insideAddr,
      insidePort: flow.insidePort,
      publicAddr: flow.publicAddr,
      publicPort: flow.publicPort,
      remoteAddr: flow.remoteAddr,
      remotePort: 0,
      singleUse: true,
      ttlMs: this.replyMs,
      group: `request ${this.nextGroup++}`,
      cls: 'data',
      reason: `TFTP ${read ? 'read' : 'write'} request from ${ipv4ToString(flow.insideAddr)}:${flow.insidePort}: the answer from any port of ${ipv4ToString(flow.remoteAddr)}`,
    });
    if (typeof e !== 'object') {
      this.stats.refused++;
      return { kind: 'pass' };
    }
    this.stats.pinholes++;
    this.pending.set(flow.id, e.id);
    return { kind: 'pass' };
  }
}
