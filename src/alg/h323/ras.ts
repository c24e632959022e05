/**
 * RAS (H.225.0 registration, admission and status, UDP 1719) between an
 * inside endpoint and its gatekeeper.
 *
 * From the endpoint: the addresses it gives of itself (rasAddress,
 * replyAddress, callSignalAddress, srcCallSignalAddress in GRQ, RRQ, ARQ,
 * LRQ, IRR) are rewritten to its public side; an RRQ's call signalling ports
 * get public ports, announced at once, opened when the gatekeeper confirms.
 * From the gatekeeper: an RCF answering the RRQ (same requestSeqNum) opens
 * or refreshes the registration pinholes for the granted timeToLive (calls
 * from the gatekeeper only, unless registration: any); an ACF or LCF names
 * where the endpoint will call: an outbound expectation gives that
 * connection the ALG whatever its port. URQ from either side, and UCF,
 * close the registration.
 *
 * An RRQ offering H.460.18 whose RCF grants it makes the endpoint a
 * traversal endpoint: its RAS, calls and media are left alone.
 */
import type { AlgFlow, AlgServices, HandleResult } from '../helper.js';
import { expectDial, H323_ALG } from './call-pinholes.js';
import type { H323Context } from './context.js';
import { FIELD } from './per-fields.gen.js';
import { EV } from './per-events.js';
import { walkRas } from './per-walk.js';
import type { PendingRrq, RegisteredPort } from './registrations.js';
import { isTraversalFeature } from './traversal-features.js';

/** RasMessage alternatives. */
export const RAS = {
  GRQ: 0,
  GCF: 1,
  RRQ: 3,
  RCF: 4,
  RRJ: 5,
  URQ: 6,
  UCF: 7,
  ARQ: 9,
  ACF: 10,
  LRQ: 18,
  LCF: 19,
  IRR: 22,
} as const;

const TCP = 6;
/** How long an ACF's or LCF's call signalling address waits for the endpoint to dial it. */
const DIAL_WAIT_MS = 60_000;

const { ADDRESS, RAS: RAS_EVENT, SEQNUM, TTL, KEEPALIVE } = EV;
const { rasAddress, replyAddress, callSignalAddress, srcCallSignalAddress, destCallSignalAddress } = FIELD;

export function handleRas(cx: H323Context, flow: AlgFlow, message: Uint8Array, services: AlgServices): HandleResult {
  const r = cx.reader;
  if (cx.traversal.isOff(flow.id)) {
    cx.stats.traversalMessages++;
    return { kind: 'pass' };
  }
  if (!walkRas(r, message, 0, message.length)) {
    cx.stats.malformed++;
    return cx.o.malformed === 'drop' ? { kind: 'drop', reason: `RAS: ${r.reason}` } : { kind: 'error', reason: `RAS: ${r.reason}` };
  }
  const ev = r.ev;
  let type = -1;
  let seq = -1;
  let ttl = -1;
  let keepAlive = false;
  let traversal = false;
  for (let i = 0; i < ev.count; i++) {
    const k = ev.kind[i];
    if (k === RAS_EVENT) type = ev.a[i];
    else if (k === SEQNUM && seq < 0) seq = ev.a[i];
    else if (k === TTL && ttl < 0) ttl = ev.a[i];
    else if (k === KEEPALIVE) keepAlive = ev.a[i] === 1;
    else if (isTraversalFeature(ev, i)) traversal = cx.o.h460 === 'detect';
  }
  const x = flow.insideAddr;
  if (cx.traversal.isEndpoint(x, services.now)) {
    // Left alone; its registration ending ends that.
    if (type === RAS.URQ || type === RAS.UCF) cx.traversal.forgetEndpoint(x);
    cx.stats.traversalMessages++;
    return { kind: 'pass' };
  }
  const edits = cx.edits;
  edits.clear();
  if (flow.outbound) {
    const ports: RegisteredPort[] = [];
    for (let i = 0; i < ev.count; i++) if (ev.kind[i] === ADDRESS) ownAddress(cx, i, flow, services, type, ports);
    if (type === RAS.RRQ && seq >= 0) {
      const rrq: PendingRrq = { gatekeeper: flow.remoteAddr, ports, keepAlive, traversalOffered: traversal };
      cx.registrations.expectConfirm(x, seq, rrq);
    } else if (type === RAS.URQ || type === RAS.UCF) closeRegistration(cx, x, services);
  } else {
    if (type === RAS.RCF) confirmed(cx, flow, services, seq, ttl, traversal);
    else if (type === RAS.RRJ) cx.registrations.takePending(x, seq);
    else if (type === RAS.URQ) closeRegistration(cx, x, services);
    if (type === RAS.RCF || type === RAS.GCF || type === RAS.LCF || type === RAS.ACF) restoreOwn(cx, flow);
    if (type === RAS.ACF || type === RAS.LCF) {
      for (let i = 0; i < ev.count; i++) {
        if (ev.kind[i] !== ADDRESS || ev.nest[i] >= 0) continue;
        const field = ev.field[i];
        if ((type === RAS.ACF && field === destCallSignalAddress) || (type === RAS.LCF && field === callSignalAddress)) dialTarget(cx, flow, services, ev.a[i], ev.b[i]);
      }
    }
  }
  return edits.result(message);
}

/** An address in a message from the endpoint: its own RAS and call signalling addresses go public. */
function ownAddress(cx: H323Context, i: number, flow: AlgFlow, services: AlgServices, type: number, ports: RegisteredPort[]): void {
  const ev = cx.reader.ev;
  const field = ev.field[i];
  const port = ev.b[i];
  if (ev.a[i] !== flow.insideAddr) return;
  if (port === 0) {
    cx.stats.addressesLeft++;
    return;
  }
  let pub: { publicAddr: number; publicPort: number } | null = null;
  if (field === rasAddress || field === replyAddress) {
    pub = port === flow.insidePort ? flow : { publicAddr: flow.publicAddr, publicPort: port };
  } else if (field === callSignalAddress && type === RAS.RRQ) {
    pub = registrationPort(cx, flow, services, port, ports);
  } else if (field === callSignalAddress || field === srcCallSignalAddress) {
    pub = cx.registrations.publicPortOf(flow.insideAddr, port) ?? { publicAddr: flow.publicAddr, publicPort: port };
  }
  if (pub && cx.edits.add(ev.offset[i], pub.publicAddr, pub.publicPort)) cx.stats.addressesRewritten++;
  else cx.stats.addressesLeft++;
}

/**
 * The public port an RRQ announces for one of the endpoint's call
 * signalling ports: the one it is registered with, else a free one (planned,
 * not held: the pinhole opens with the confirmation).
 */
function registrationPort(cx: H323Context, flow: AlgFlow, services: AlgServices, port: number, ports: RegisteredPort[]): RegisteredPort | null {
  const known = ports.find((p) => p.insidePort === port) ?? cx.registrations.publicPortOf(flow.insideAddr, port);
  let p: RegisteredPort;
  if (known) p = { insidePort: port, publicAddr: known.publicAddr, publicPort: known.publicPort, expectation: 0 };
  else {
    if (port < 1024) return null;
    const plan = services.planMediaPorts(TCP, flow.insideAddr, port, flow.publicAddr);
    if (!plan) return null;
    // Planned ports are not held: a second port of the same RRQ takes the pair's other half.
    const taken = ports.some((q) => q.publicAddr === plan.publicAddr && q.publicPort === plan.rtp);
    p = { insidePort: port, publicAddr: plan.publicAddr, publicPort: taken ? plan.rtcp : plan.rtp, expectation: 0 };
  }
  if (!ports.some((q) => q.insidePort === port)) ports.push(p);
  return p;
}

/** The gatekeeper confirmed a registration: its pinholes open (or stay open) for the time granted. */
function confirmed(cx: H323Context, flow: AlgFlow, services: AlgServices, seq: number, ttl: number, granted18: boolean): void {
  const x = flow.insideAddr;
  const rrq = cx.registrations.takePending(x, seq);
  if (!rrq) return; // not an answer to an RRQ seen here (safety rule 6)
  const seconds = Math.min(ttl > 0 ? ttl : cx.o.registrationSeconds, cx.o.maxRegistrationSeconds);
  if (rrq.traversalOffered && granted18) {
    closeRegistration(cx, x, services);
    if (cx.traversal.markEndpoint(x, services.now + seconds * 1000)) cx.stats.traversalEndpoints++;
    return;
  }
  const { reg, evicted } = cx.registrations.obtain(x, rrq.gatekeeper);
  if (evicted) services.removeExpectations(evicted.group);
  if (rrq.keepAlive && rrq.ports.length === 0) {
    // A lightweight RRQ: the same registration, longer.
    for (const p of reg.ports) if (p.expectation) services.extendExpectation(p.expectation, seconds * 1000);
    cx.stats.registrationsRefreshed++;
    return;
  }
  let opened = 0;
  for (const want of rrq.ports) {
    const had = reg.ports.find((p) => p.insidePort === want.insidePort && p.publicPort === want.publicPort);
    if (had && had.expectation && services.extendExpectation(had.expectation, seconds * 1000)) {
      opened++;
      continue;
    }
    const e = services.expect({
      proto: TCP,
      insideAddr: x,
      insidePort: want.insidePort,
      publicAddr: want.publicAddr,
      publicPort: want.publicPort,
      remoteAddr: cx.o.registration === 'any' ? 0 : rrq.gatekeeper,
      remotePort: 0,
      ttlMs: seconds * 1000,
      singleUse: false,
      group: reg.group,
      cls: 'signalling',
      attach: H323_ALG,
      reason: `h323 registration for ${seconds} s`,
    });
    if (typeof e !== 'object') {
      cx.stats.registrationsRefused++;
      continue;
    }
    if (had) had.expectation = e.id;
    else reg.ports.push({ ...want, expectation: e.id });
    opened++;
  }
  if (opened) cx.stats.registrationsOpened++;
}

function closeRegistration(cx: H323Context, insideAddr: number, services: AlgServices): void {
  const reg = cx.registrations.remove(insideAddr);
  if (!reg) return;
  // Pinholes only: calls the registration admitted go on.
  services.removeExpectations(reg.group);
  cx.stats.registrationsClosed++;
}

/**
 * The gatekeeper repeating the endpoint's public addresses back to it (an
 * RCF lists the registered call signalling address): put back to the inside
 * ones, as the endpoint wrote them (the kernel does the same).
 */
function restoreOwn(cx: H323Context, flow: AlgFlow): void {
  const ev = cx.reader.ev;
  const reg = cx.registrations.get(flow.insideAddr);
  for (let i = 0; i < ev.count; i++) {
    if (ev.kind[i] !== ADDRESS || ev.a[i] !== flow.publicAddr) continue;
    const port = ev.b[i];
    const inside = port === flow.publicPort ? flow.insidePort : (reg?.ports.find((p) => p.publicPort === port)?.insidePort ?? -1);
    if (inside >= 0 && cx.edits.add(ev.offset[i], flow.insideAddr, inside)) cx.stats.addressesRestored++;
  }
}

/** The gatekeeper told the endpoint where to call: that connection gets the ALG, whatever its port. */
function dialTarget(cx: H323Context, flow: AlgFlow, services: AlgServices, addr: number, port: number): void {
  if (addr === flow.publicAddr || addr === flow.insideAddr || port < 1024) return;
  expectDial(cx, services, `dial-${flow.insideAddr >>> 0}`, flow.insideAddr, addr, port, H323_ALG, DIAL_WAIT_MS, 'h323 call signalling address from the gatekeeper');
}
