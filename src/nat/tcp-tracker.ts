/**
 * TCP connection state as a NAT needs it (RFC 5382): which SYNs and FINs each
 * side has sent, and whether a RST ended it. The state picks the idle timeout:
 * established connections get the long one (REQ-5: at least 2 h 4 min),
 * partially open or closing ones the transitory one (at least 4 min).
 */
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../wire/tcp.js';
import { FLOW_INBOUND, type FlowTable, TIMEOUT_TCP_ESTABLISHED, TIMEOUT_TCP_TRANSITORY } from './flow-table.js';

export const SYN_OUT = 1;
export const SYN_IN = 2;
const FIN_OUT = 4;
const FIN_IN = 8;
const RST_SEEN = 16;

export const enum TcpPhase {
  Opening,
  Established,
  Closing,
  Closed,
}

export function tcpPhase(state: number): TcpPhase {
  if (state & RST_SEEN) return TcpPhase.Closed;
  if (state & (FIN_OUT | FIN_IN)) return TcpPhase.Closing;
  if ((state & (SYN_OUT | SYN_IN)) === (SYN_OUT | SYN_IN)) return TcpPhase.Established;
  return TcpPhase.Opening;
}

/** The state after a segment with `flags` passes in the given direction. */
export function nextTcpState(state: number, flags: number, outbound: boolean): number {
  // A fresh SYN on a finished connection starts a new one on the same tuple
  // (a client reusing its port after TIME_WAIT).
  if ((flags & (TCP_SYN | TCP_ACK)) === TCP_SYN && state & (FIN_OUT | FIN_IN | RST_SEEN)) {
    return outbound ? SYN_OUT : SYN_IN;
  }
  let s = state;
  if (flags & TCP_SYN) s |= outbound ? SYN_OUT : SYN_IN;
  if (flags & TCP_FIN) s |= outbound ? FIN_OUT : FIN_IN;
  if (flags & TCP_RST) s |= RST_SEEN;
  return s;
}

export function describeTcpState(state: number): string {
  switch (tcpPhase(state)) {
    case TcpPhase.Closed:
      return 'CLOSE';
    case TcpPhase.Closing:
      return (state & (FIN_OUT | FIN_IN)) === (FIN_OUT | FIN_IN) ? 'TIME_WAIT' : 'FIN_WAIT';
    case TcpPhase.Established:
      return 'ESTABLISHED';
    case TcpPhase.Opening:
      return state & SYN_OUT ? 'SYN_SENT' : state & SYN_IN ? 'SYN_RECV' : 'NONE';
  }
}

/**
 * Follows a segment on a flow of the table: the flow's state, and its timeout
 * class when the phase changes (established connections get the long timeout).
 * Returns whether the state changed (an event for `conntrack -E`).
 */
export function trackTcpSegment(flows: FlowTable, id: number, flags: number, outbound: boolean, now: number): boolean {
  const old = flows.state[id];
  let next = nextTcpState(old, flags, outbound);
  // A flow picked up mid-stream (no SYN seen: masq restarted, or the route
  // changed) becomes established once the far side answers with an ACK.
  if (!outbound && (old & (SYN_OUT | SYN_IN)) === 0 && (flows.flags[id] & FLOW_INBOUND) === 0 && flags & TCP_ACK) {
    next |= SYN_OUT | SYN_IN;
  }
  if (next === old) return false;
  flows.state[id] = next;
  const cls = tcpPhase(next) === TcpPhase.Established ? TIMEOUT_TCP_ESTABLISHED : TIMEOUT_TCP_TRANSITORY;
  if (cls !== flows.tclass[id]) flows.setClass(id, cls, now);
  return true;
}
