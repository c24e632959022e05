/**
 * What masq does to one CU-SeeMe packet, in each direction. The principle: the
 * workstation sees every LAN participant under its inside endpoint, the
 * outside sees every one under its public endpoint, and nothing else changes.
 *
 * Outbound: the sender's own address (and its port, when it is the port the
 * packet leaves from) becomes the flow's public endpoint; an OpenContinue
 * entry naming a LAN participant by its inside endpoint (as the workstation
 * was told it) becomes that participant's public endpoint.
 *
 * Inbound: the addressee (`dest_addr`, `dest_port`) becomes the inside
 * workstation the packet reached; a sender (`addr`, `port`) that is a LAN
 * participant's public endpoint (a reflector relaying one LAN user to
 * another) becomes its inside endpoint; an OpenContinue entry naming one of
 * our public addresses becomes the participant whose public port it names,
 * or, when only one participant is behind that address (the 1999 case), that
 * one by address alone.
 *
 * Every read is bounded by the datagram; `client_count` is read in network
 * byte order and must fit in the datagram, or the packet is malformed and
 * passes unchanged (docs/cuseeme.md says why).
 */
import { read16, read32, write16, write32 } from '../../wire/ipv4.js';
import type { AlgFlow, HandleResult } from '../helper.js';
import { CLIENT_INFO, CU, CU_HEADER, DATA_TYPE_OPEN_CONTINUE, ENTRY_ADDR, ENTRY_PORT, entriesThatFit, OC, OC_ENTRIES } from './layout.js';
import type { InsideParticipants } from './participants.js';

export interface RewriteCounters {
  openContinue: number;
  /** Inbound entries taken back to a LAN participant. */
  entriesRestored: number;
  /** Outbound entries naming a LAN participant, put under its public endpoint. */
  entriesPublished: number;
  /** Inbound entries naming our public address whose port names no participant, with several behind it: left as they were. */
  entriesAmbiguous: number;
  /** Inbound headers whose sender was a LAN participant (relayed by a reflector): taken back to it. */
  sendersRestored: number;
  /**
   * Outbound headers naming a sender that is neither the sending workstation nor a LAN participant masq has a
   * public endpoint for (a LAN reflector relaying someone): left as they were.
   */
  otherSenders: number;
}

export function newRewriteCounters(): RewriteCounters {
  return { openContinue: 0, entriesRestored: 0, entriesPublished: 0, entriesAmbiguous: 0, sendersRestored: 0, otherSenders: 0 };
}

/** Why a packet is not a CU-SeeMe packet masq can read, or null; `count` is the OpenContinue entries to scan. */
function check(msg: Uint8Array): { error: string } | { count: number } {
  if (msg.length < CU_HEADER) return { error: `${msg.length} bytes, shorter than the ${CU_HEADER}-byte CU-SeeMe header` };
  if (read16(msg, CU.DATA_TYPE) !== DATA_TYPE_OPEN_CONTINUE) return { count: 0 };
  if (msg.length < OC_ENTRIES) return { error: `OpenContinue of ${msg.length} bytes, shorter than its ${OC_ENTRIES}-byte headers` };
  const count = read16(msg, OC.CLIENT_COUNT);
  const fit = entriesThatFit(msg.length);
  if (count > fit) return { error: `OpenContinue client_count ${count}, but ${fit} entries fit in the datagram` };
  return { count };
}

export function rewritePacket(flow: AlgFlow, msg: Uint8Array, participants: InsideParticipants, c: RewriteCounters): HandleResult {
  const ok = check(msg);
  if ('error' in ok) return { kind: 'error', reason: ok.error };
  const out = new Uint8Array(msg); // a copy: msg may be a Buffer, whose slice() is a view
  if (flow.outbound) outbound(flow, out, ok.count, participants, c);
  else inbound(flow, out, ok.count, participants, c);
  if (read16(msg, CU.DATA_TYPE) === DATA_TYPE_OPEN_CONTINUE) c.openContinue++;
  return rewriteIfChanged(msg, out);
}

/** The edited copy when it differs from the original, else pass (the framework then keeps the packet as it came). */
export function rewriteIfChanged(msg: Uint8Array, out: Uint8Array): HandleResult {
  for (let i = 0; i < out.length; i++) if (out[i] !== msg[i]) return { kind: 'rewrite', bytes: out };
  return { kind: 'pass' };
}

function outbound(flow: AlgFlow, out: Uint8Array, count: number, participants: InsideParticipants, c: RewriteCounters): void {
  const addr = read32(out, CU.ADDR);
  const port = read16(out, CU.PORT);
  if (addr === flow.insideAddr) {
    write32(out, CU.ADDR, flow.publicAddr);
    // Another port than the one it sends from: the workstation receives elsewhere, which masq has no public port for.
    if (port === flow.insidePort) write16(out, CU.PORT, flow.publicPort);
  } else if (addr !== 0) {
    const pub = participants.publicOf(addr, port, flow.remoteAddr);
    if (pub) writeEndpoint(out, CU.ADDR, CU.PORT, pub.addr, pub.port);
    else c.otherSenders++;
  }
  for (let i = 0, e = OC_ENTRIES; i < count; i++, e += CLIENT_INFO) {
    const a = read32(out, e + ENTRY_ADDR);
    if (a === 0) continue;
    const pub = participants.publicOf(a, read16(out, e + ENTRY_PORT), flow.remoteAddr);
    if (!pub) continue;
    writeEndpoint(out, e + ENTRY_ADDR, e + ENTRY_PORT, pub.addr, pub.port);
    c.entriesPublished++;
  }
}

function inbound(flow: AlgFlow, out: Uint8Array, count: number, participants: InsideParticipants, c: RewriteCounters): void {
  // The packet reached this workstation: whatever address the sender wrote for it, it is this one.
  if (read32(out, CU.DEST_ADDR) !== 0) {
    write32(out, CU.DEST_ADDR, flow.insideAddr);
    if (read16(out, CU.DEST_PORT) !== 0) write16(out, CU.DEST_PORT, flow.insidePort);
  }
  const sender = participants.insideOf(read32(out, CU.ADDR), read16(out, CU.PORT));
  if (sender) {
    writeEndpoint(out, CU.ADDR, CU.PORT, sender.addr, sender.port);
    c.sendersRestored++;
  }
  for (let i = 0, e = OC_ENTRIES; i < count; i++, e += CLIENT_INFO) {
    const a = read32(out, e + ENTRY_ADDR);
    if (!participants.isPublicAddress(a)) continue;
    const inside = participants.insideOf(a, read16(out, e + ENTRY_PORT));
    if (inside) {
      writeEndpoint(out, e + ENTRY_ADDR, e + ENTRY_PORT, inside.addr, inside.port);
      c.entriesRestored++;
      continue;
    }
    // No participant has this public port. With one workstation behind the address, the entry can only mean it
    // (what the 1999 modules assumed); the two bytes after the address are then left alone, whatever they are.
    const sole = participants.soleInsideBehind(a);
    if (sole) {
      write32(out, e + ENTRY_ADDR, sole.addr);
      c.entriesRestored++;
    } else {
      c.entriesAmbiguous++;
    }
  }
}

function writeEndpoint(out: Uint8Array, addrAt: number, portAt: number, addr: number, port: number): void {
  write32(out, addrAt, addr);
  write16(out, portAt, port);
}
