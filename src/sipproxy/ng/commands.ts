/**
 * The ng protocol's commands on masq's relay (rtpengine's names and
 * fields, the subset a SIP proxy's rtpengine module uses): ping, offer,
 * answer, delete, query, list. An offer or answer carries the SDP, the
 * Call-ID and the tags; the reply carries the SDP anchored on the relay.
 * The relay's own choices stand where rtpengine has flags for them: the
 * origin and connection are always replaced, ICE follows the relay's
 * configuration (or `ICE: remove` / `ICE: force`... only remove is honoured),
 * learning is always strict.
 */
import { applyEdits } from '../../alg/text/apply-edits.js';
import type { MediaCall } from '../media/call.js';
import type { MediaRelay } from '../media/relay.js';
import { text, textList, type BDict, type BInput } from './bencode.js';

export type NgReply = { [key: string]: BInput | undefined };

function error(reason: string): NgReply {
  return { result: 'error', 'error-reason': reason };
}

/** The signalling source the proxy reports (received-from: [family, address]), else the SDP's own address. */
function signallingAddress(req: BDict, sdpText: string): string {
  const rf = textList(req.get('received-from'));
  if (rf.length === 2 && /^\d+\.\d+\.\d+\.\d+$/.test(rf[1])) return rf[1];
  const c = /^c=IN IP4 ([0-9.]+)/m.exec(sdpText);
  return c ? c[1] : '';
}

export async function runNgCommand(relay: MediaRelay, req: BDict, startedAt: number, now: number): Promise<NgReply> {
  const command = text(req.get('command'));
  switch (command) {
    case 'ping':
      return { result: 'pong' };
    case 'offer':
    case 'answer': {
      const sdpBytes = req.get('sdp');
      const callId = text(req.get('call-id'));
      const fromTag = text(req.get('from-tag')) ?? null;
      const toTag = text(req.get('to-tag')) ?? null;
      if (!(sdpBytes instanceof Uint8Array)) return error('No SDP body');
      if (!callId) return error('No call-id in message');
      if (!fromTag) return error('No from-tag in message');
      if (command === 'answer' && !toTag) return error('No to-tag in message');
      const sdpText = new TextDecoder().decode(sdpBytes);
      const source = signallingAddress(req, sdpText);
      const input = { bytes: sdpBytes, start: 0, end: sdpBytes.length };
      const r = command === 'offer' ? await relay.offer(callId, fromTag, source, input) : await relay.answer(callId, toTag, source, input, true);
      if (!r.ok) {
        if (r.reason === 'ports-exhausted') return error('Ran out of ports');
        if (r.reason === 'no-call') return error('Unknown call-id');
        if (r.reason === 'unknown-tag') return error('Unknown tag');
        return error(`Failed to parse SDP${r.detail ? `: ${r.detail}` : ''}`);
      }
      const out = applyEdits(sdpBytes, r.edits);
      if (!out.ok) return error(`SDP rewrite failed: ${out.reason}`);
      return { result: 'ok', sdp: out.bytes };
    }
    case 'delete': {
      const callId = text(req.get('call-id'));
      if (!callId) return error('No call-id in message');
      const ended = await relay.end(callId, 'deleted');
      return ended ? { result: 'ok' } : error('Call-ID not found or tags didn\'t match');
    }
    case 'query': {
      const callId = text(req.get('call-id'));
      const call = callId ? relay.call(callId) : undefined;
      if (!call) return error('Unknown call-id');
      return { result: 'ok', ...describeCall(call, startedAt, now) };
    }
    case 'list':
      return { result: 'ok', calls: [...relay.allCalls()].map((c) => c.callId) };
    default:
      return error('Unrecognized command');
  }
}

/** A call as `query` reports it: created and last signal (seconds), totals, and per tag its streams. */
export function describeCall(call: MediaCall, startedAt: number, now: number): NgReply {
  let rtp = 0;
  let rtpBytes = 0;
  let rtcp = 0;
  const tags: Record<string, BInput> = {};
  call.legs.forEach((leg, i) => {
    const medias: BInput[] = [];
    for (const s of call.streams.values()) {
      const [e, c] = s.endpoints[i];
      rtp += e.packetsIn + e.kernelPacketsIn;
      rtpBytes += e.bytesIn;
      rtcp += c.packetsIn + c.kernelPacketsIn;
      medias.push({
        index: s.index + 1,
        type: s.media,
        streams: [
          { 'local port': e.port, endpoint: { address: e.latch.address ?? e.expectedAddress ?? '', port: e.latch.port || e.expectedPort }, stats: { packets: e.packetsIn + e.kernelPacketsIn, bytes: e.bytesIn } },
          { 'local port': c.port, endpoint: { address: c.latch.address ?? c.expectedAddress ?? '', port: c.latch.port || c.expectedPort }, stats: { packets: c.packetsIn + c.kernelPacketsIn, bytes: c.bytesIn } },
        ],
      });
    }
    tags[leg.tag ?? `(leg ${i})`] = { tag: leg.tag ?? '', medias };
  });
  const secs = (t: number) => Math.floor((t - startedAt) / 1000);
  return {
    created: secs(call.createdAt),
    'last signal': secs(call.lastSignalAt),
    duration: Math.floor((now - call.createdAt) / 1000),
    totals: { RTP: { packets: rtp, bytes: rtpBytes, errors: 0 }, RTCP: { packets: rtcp, bytes: 0, errors: 0 } },
    tags,
  };
}
