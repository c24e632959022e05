/**
 * The H.245 connection of a call (TPKT on the TCP connection the call
 * signalling negotiated). The framework attaches this handler to the
 * connection a call's pinhole or outbound expectation admitted, so the
 * connection knows its call by the expectation's group. What the inside
 * endpoint announces in OpenLogicalChannel and OpenLogicalChannelAck gets
 * public ports and media pinholes (h245-channels.ts).
 */
import type { AlgFlow, AlgHandler, AlgServices, FrameOutcome, HandleResult } from '../helper.js';
import { h245Gone } from './call-end.js';
import { H245_HANDLER } from './call-pinholes.js';
import type { H323Context } from './context.js';
import { H245Channels } from './h245-channels.js';
import { walkH245Messages } from './per-walk.js';
import { malformed } from './q931-handler.js';
import { frameTpkt, TPKT_HEADER } from './tpkt.js';
import { isTraversalFeature } from './traversal-features.js';

export class H245Handler implements AlgHandler {
  readonly name = H245_HANDLER;
  private readonly channels = new H245Channels();
  /** H.245 flows and their calls' groups, for when a flow goes. */
  private readonly groups = new Map<number, string>();

  constructor(private readonly cx: H323Context) {}

  frame(b: Uint8Array, start: number, end: number): FrameOutcome {
    const f = frameTpkt(b, start, end);
    if (f.kind === 'skip') this.cx.stats.tpktKeepAlives++;
    return f;
  }

  handle(flow: AlgFlow, message: Uint8Array, services: AlgServices): HandleResult {
    const cx = this.cx;
    const call = flow.group === null ? undefined : cx.calls.ofGroup(flow.group);
    if (!call || cx.traversal.isOff(flow.id) || cx.traversal.isEndpoint(flow.insideAddr, services.now)) return { kind: 'pass' };
    if (call.h245Flow !== flow.id) {
      call.h245Flow = flow.id;
      this.groups.set(flow.id, call.group);
    }
    const r = cx.reader;
    if (!walkH245Messages(r, message, TPKT_HEADER, message.length)) return malformed(cx, `H.245: ${r.reason}`);
    const ev = r.ev;
    for (let i = 0; i < ev.count; i++) {
      if (isTraversalFeature(ev, i) && cx.o.h460 === 'detect') {
        cx.traversal.switchOff(flow.id);
        cx.stats.traversalMessages++;
        return { kind: 'pass' };
      }
    }
    const edits = cx.edits;
    edits.clear();
    this.channels.reset(false);
    for (let i = 0; i < ev.count; i++) this.channels.event(cx, ev, i, flow, call, services, edits);
    return edits.result(message);
  }

  closed(flow: AlgFlow, services: AlgServices): void {
    this.gone(flow.id, services);
  }

  flowGone(flow: number, services: AlgServices): void {
    this.gone(flow, services);
    this.cx.traversal.forgetFlow(flow);
  }

  private gone(flow: number, services: AlgServices): void {
    const group = this.groups.get(flow);
    if (group === undefined) return;
    this.groups.delete(flow);
    h245Gone(this.cx, group, flow, services);
  }
}
