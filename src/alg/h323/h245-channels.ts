/**
 * Logical channels in H.245 as they pass: an OpenLogicalChannel (on the
 * H.245 connection, tunnelled in h245Control, or proposed in fastStart) and
 * an OpenLogicalChannelAck name where their sender receives RTP
 * (mediaChannel) and RTCP (mediaControlChannel), forward and reverse, and a
 * T.120 address (separateStack). What the inside endpoint names about itself
 * gets public ports and pinholes from the call's peer; the rest is left.
 *
 * The events of one PDU arrive in encoding order: the message type, the
 * channel number, the data type (audio, video, data) of each direction, then
 * the addresses. The traffic class of a pinhole is its channel's data type;
 * for an acknowledgement, the data type of the peer's OpenLogicalChannel
 * with the same number.
 */
import type { ExpectationClass } from '../../nat/expectations.js';
import type { AlgFlow, AlgServices } from '../helper.js';
import type { AddressEdits } from './address-edits.js';
import type { CallState } from './call.js';
import { mediaPair, t120Pinhole } from './call-pinholes.js';
import type { H323Context } from './context.js';
import { FIELD } from './per-fields.gen.js';
import { CTX, EV, type PerEvents } from './per-events.js';

const PDU_NONE = 0;
const PDU_OLC = 1;
const PDU_OLC_ACK = 2;

/** RequestMessage's openLogicalChannel, ResponseMessage's openLogicalChannelAck (X.691 alternative indexes). */
const REQUEST_OLC = 3;
const RESPONSE_OLC_ACK = 5;

const { H245_KIND, H245_REQUEST, H245_RESPONSE, DATA_TYPE, LCN, ADDRESS, NEST } = EV;
const { REVERSE, SEPARATE_STACK, FAST_START, FORWARD } = CTX;
const { mediaChannel, mediaControlChannel, localAreaAddress } = FIELD;

/** A DataType alternative as a traffic class; null for nullData (no channel in that direction). */
function dataTypeClass(alternative: number): ExpectationClass | null {
  switch (alternative) {
    case 1:
      return null;
    case 2:
      return 'video';
    case 4:
      return 'data';
    default:
      return 'audio'; // audioData, and what wraps a medium (encryption, redundancy, FEC)
  }
}

export class H245Channels {
  private pdu = PDU_NONE;
  private forwardClass: ExpectationClass | null | undefined = undefined;
  private reverseClass: ExpectationClass | null | undefined = undefined;
  private channel = 0;

  /** A new PDU (or a fastStart proposal, which is a bare OpenLogicalChannel). */
  reset(fastStart: boolean): void {
    this.pdu = fastStart ? PDU_OLC : PDU_NONE;
    this.forwardClass = undefined;
    this.reverseClass = undefined;
    this.channel = 0;
  }

  /**
   * Event `i` of an H.245 PDU. Addresses the inside endpoint wrote about
   * itself go into `edits` with their public endpoints.
   */
  event(cx: H323Context, ev: PerEvents, i: number, flow: AlgFlow, call: CallState, services: AlgServices, edits: AddressEdits): void {
    switch (ev.kind[i]) {
      case NEST:
        this.reset((ev.ctx[i] & FAST_START) !== 0);
        return;
      case H245_KIND:
        this.reset(false);
        return;
      case H245_REQUEST:
        this.pdu = ev.a[i] === REQUEST_OLC ? PDU_OLC : PDU_NONE;
        return;
      case H245_RESPONSE:
        this.pdu = ev.a[i] === RESPONSE_OLC_ACK ? PDU_OLC_ACK : PDU_NONE;
        return;
      case LCN:
        this.channel = ev.a[i];
        return;
      case DATA_TYPE: {
        if (this.pdu !== PDU_OLC) return;
        const cls = dataTypeClass(ev.a[i]);
        // The first data type of each direction is the channel's (redundancy encodings nest more).
        if (ev.ctx[i] & REVERSE) {
          if (this.reverseClass === undefined) this.reverseClass = cls;
        } else if (this.forwardClass === undefined) {
          this.forwardClass = cls;
          // The peer's channel toward the inside endpoint: its acknowledgement will name where the media goes.
          if (!flow.outbound && ev.ctx[i] & FORWARD && cls && this.channel) rememberClass(call, this.channel, cls);
        }
        return;
      }
      case ADDRESS:
        if (flow.outbound && ev.a[i] === call.insideAddr) this.address(cx, ev, i, flow, call, services, edits);
        return;
    }
  }

  private address(cx: H323Context, ev: PerEvents, i: number, flow: AlgFlow, call: CallState, services: AlgServices, edits: AddressEdits): void {
    const field = ev.field[i];
    const port = ev.b[i];
    const ctx = ev.ctx[i];
    if (port === 0 || this.pdu === PDU_NONE) {
      cx.stats.addressesLeft++;
      return;
    }
    if (field === localAreaAddress && ctx & SEPARATE_STACK) {
      const pub = port < 1024 ? -1 : t120Pinhole(cx, services, call, port);
      if (pub < 0 || !edits.add(ev.offset[i], flow.publicAddr, pub)) cx.stats.addressesLeft++;
      else cx.stats.addressesRewritten++;
      return;
    }
    if (field !== mediaChannel && field !== mediaControlChannel) {
      cx.stats.addressesLeft++;
      return;
    }
    let cls: ExpectationClass;
    if (this.pdu === PDU_OLC) cls = (ctx & REVERSE ? this.reverseClass : this.forwardClass) ?? 'audio';
    else cls = call.channelClass.get(this.channel) ?? 'audio';
    const pair = mediaPair(cx, services, call, flow, port & ~1, cls);
    if (!pair || !edits.add(ev.offset[i], pair.publicAddr, port & 1 ? pair.rtcp : pair.rtp)) {
      cx.stats.addressesLeft++;
      return;
    }
    cx.stats.addressesRewritten++;
  }
}

/** Channel classes kept per call: bounded (a peer opening channels without end forgets the oldest). */
function rememberClass(call: CallState, channel: number, cls: ExpectationClass): void {
  if (call.channelClass.size >= 64 && !call.channelClass.has(channel)) call.channelClass.delete(call.channelClass.keys().next().value!);
  call.channelClass.set(channel, cls);
}
