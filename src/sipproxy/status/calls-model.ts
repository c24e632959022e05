/**
 * Live calls as the status endpoint serves them and `masq sip-proxy calls`
 * prints them: per call its legs (tag, where its signalling comes from),
 * and per stream the relay ports each leg sends to, the source each port
 * latched, packets each way, and whether user space or the kernel forwards.
 */
import type { MediaCall } from '../media/call.js';

export interface StreamLegView {
  /** Relay RTP port this leg sends to (RTCP is the next one). */
  relayPort: number;
  /** The latched source of this leg's RTP ("address:port"), or null while learning. */
  latched: string | null;
  /** The same for RTCP. */
  latchedRtcp: string | null;
  /** Still learning (an offer or answer re-opened the window). */
  learning: boolean;
  /** Packets from this leg, accepted and forwarded (user space + kernel), RTP and RTCP. */
  packets: number;
  /** Refused: not the learned source, or not RTP. */
  dropped: number;
}

export interface StreamView {
  index: number;
  media: string;
  legs: [StreamLegView, StreamLegView];
  /** Who forwards the RTP now. */
  forwarding: 'user' | 'kernel';
}

export interface CallView {
  callId: string;
  state: string;
  ageSeconds: number;
  held: boolean;
  legs: Array<{ tag: string | null; signalling: string }>;
  streams: StreamView[];
}

export interface CallsResponse {
  proxy: string;
  calls: CallView[];
}

export function callView(call: MediaCall, now: number): CallView {
  const streams: StreamView[] = [];
  for (const s of call.streams.values()) {
    const leg = (i: number): StreamLegView => {
      const [rtp, rtcp] = s.endpoints[i];
      return {
        relayPort: rtp.port,
        latched: rtp.latch.address !== null ? `${rtp.latch.address}:${rtp.latch.port}` : null,
        latchedRtcp: rtcp.latch.address !== null ? `${rtcp.latch.address}:${rtcp.latch.port}` : null,
        learning: rtp.latch.windowOpen,
        packets: rtp.packetsIn + rtp.kernelPacketsIn + rtcp.packetsIn + rtcp.kernelPacketsIn,
        dropped: rtp.dropped + rtcp.dropped,
      };
    };
    streams.push({ index: s.index, media: s.media, legs: [leg(0), leg(1)], forwarding: s.endpoints[0][0].inKernel ? 'kernel' : 'user' });
  }
  return {
    callId: call.callId,
    state: call.state,
    ageSeconds: Math.round((now - call.createdAt) / 1000),
    held: call.held(),
    legs: call.legs.map((l) => ({ tag: l.tag, signalling: l.signallingAddress })),
    streams,
  };
}

/** The table `masq sip-proxy calls` prints. */
export function formatCalls(r: CallsResponse): string {
  if (r.calls.length === 0) return `${r.proxy}: no live calls\n`;
  const lines: string[] = [];
  for (const c of r.calls) {
    lines.push(`${c.callId}  ${c.state}${c.held ? ' (held)' : ''}  ${c.ageSeconds}s  legs: ${c.legs.map((l) => `${l.tag ?? '?'}@${l.signalling || '?'}`).join(' <-> ')}`);
    for (const s of c.streams) {
      const side = (l: StreamLegView) => `:${l.relayPort} <- ${l.latched ?? (l.learning ? 'learning' : '-')} ${l.packets} pkts${l.dropped ? ` (${l.dropped} dropped)` : ''}`;
      lines.push(`  ${s.index} ${s.media.padEnd(6)} ${s.forwarding.padEnd(6)} A ${side(s.legs[0])} | B ${side(s.legs[1])}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
