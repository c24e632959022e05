/**
 * The FTP ALG: the data connections an FTP control connection announces get
 * through the NAT, and nothing else does.
 *
 * - Active mode, inside client: its PORT or EPRT |1| names its own address
 *   and a data port; the text gets the public address and a public port, and
 *   a pinhole admits the control connection's peer (the server) to that port,
 *   once, for a bounded time.
 * - Passive mode, inside server behind a static forward: its 227 or 229 reply
 *   names a data port; the 227 gets the public address, either gets the
 *   public port, and a pinhole admits the client that asked, once. A server
 *   that already announces the public address (vsftpd's pasv_address) gets
 *   its pinhole on the port it announced, when that port is free.
 * - Passive mode, inside client, and active mode, inside server: the inside
 *   host dials out, which needs no pinhole; an outbound expectation ties the
 *   data connection to its control connection (listings, counters).
 *
 * What opens nothing, counted: an address that is not the sender's own (FTP
 * bounce, RFC 2577; a PORT naming a third party), a port below 1024, EPRT
 * |2| (IPv6 passes untranslated while masq is IPv4-only), numbers that do not
 * parse. One data pinhole per control connection at a time: a new
 * announcement replaces the one not yet used (as the kernel's helper does),
 * so a client repeating PORT cannot pile up open ports.
 */
import { ipv4ToString } from '../../wire/address.js';
import type { Expectation } from '../../nat/expectations.js';
import type { AlgFlow, AlgHandler, AlgServices, FrameOutcome, HandleResult, PinholeRefusal } from '../helper.js';
import type { FrameResume } from '../tcp-stream.js';
import { applyEdits } from '../text/apply-edits.js';
import { type Edit, editText, numberText } from '../text/edit.js';
import { type DataAnnouncement, hostPortText, isCommand, parseCommandAnnouncement, parseReplyAnnouncement } from './announcements.js';
import { frameFtpStream } from './framing.js';

export interface FtpAlgOptions {
  /** How long a data pinhole waits for its connection (default 60 s). */
  dataSeconds?: number;
}

const TCP = 6;
/** Gone control connections whose pinholes are removed at the next message (bounded: beyond it they simply time out). */
const MAX_ORPHANS = 4096;

interface ControlConnection {
  /** The group of this connection's data pinholes, unique for the ALG's life (flow ids are reused). */
  readonly group: string;
  /** The data expectation announced and not yet used, or 0. */
  pending: number;
}

export class FtpAlg implements AlgHandler {
  readonly name = 'ftp';
  private readonly controls = new Map<number, ControlConnection>();
  private readonly orphans: number[] = [];
  private nextGroup = 1;
  private readonly dataMs: number;
  private readonly stats = {
    portCommands: 0,
    eprtCommands: 0,
    pasvReplies: 0,
    epsvReplies: 0,
    /** Inbound pinholes opened for a data connection to an inside host. */
    dataPinholes: 0,
    /** Outbound data connections expected (the inside host dials the announced address). */
    dataDials: 0,
    /** Announcements naming an address that is not the sender's (FTP bounce): nothing opened. */
    thirdParty: 0,
    /** Announcements naming a port below 1024: nothing opened. */
    lowPort: 0,
    /** EPRT |2| and other non-IPv4 families: passed untranslated. */
    notIpv4: 0,
    /** PORT, EPRT, 227, 229 whose numbers do not parse: passed unchanged. */
    malformed: 0,
    /** Pinholes refused (a cap, no free port): the announcement is passed unchanged. */
    refused: 0,
    /** Unused data pinholes replaced by a newer announcement on the same connection. */
    replaced: 0,
  };

  constructor(options: FtpAlgOptions = {}) {
    this.dataMs = (options.dataSeconds ?? 60) * 1000;
  }

  frame(bytes: Uint8Array, start: number, end: number, resume?: FrameResume): FrameOutcome {
    return frameFtpStream(bytes, start, end, resume);
  }

  counters(): Record<string, number> {
    return { ...this.stats, controlConnections: this.controls.size };
  }

  flowGone(flow: number): void {
    const c = this.controls.get(flow);
    if (c === undefined) return;
    this.controls.delete(flow);
    if (c.pending !== 0 && this.orphans.length < MAX_ORPHANS) this.orphans.push(c.pending);
  }

  handle(flow: AlgFlow, message: Uint8Array, services: AlgServices): HandleResult {
    while (this.orphans.length > 0) services.removeExpectation(this.orphans.pop()!);
    const command = isCommand(message);
    const r = command ? parseCommandAnnouncement(message, 0, message.length) : parseReplyAnnouncement(message, 0, message.length);
    if (r.kind === 'none') return { kind: 'pass' };
    if (r.kind === 'malformed') {
      this.stats.malformed++;
      return { kind: 'pass' };
    }
    const a = r.announcement;
    this.seen(a);
    if (a.kind === 'eprt' && a.family !== 1) {
      this.stats.notIpv4++;
      return { kind: 'pass' };
    }
    const control = this.control(flow.id);
    return flow.outbound ? this.fromInside(flow, control, a, message, services) : this.fromOutside(flow, control, a, services);
  }

  private seen(a: DataAnnouncement): void {
    if (a.kind === 'port') this.stats.portCommands++;
    else if (a.kind === 'eprt') this.stats.eprtCommands++;
    else if (a.kind === 'pasv') this.stats.pasvReplies++;
    else this.stats.epsvReplies++;
  }

  private control(flow: number): ControlConnection {
    let c = this.controls.get(flow);
    if (c === undefined) {
      c = { group: `control ${this.nextGroup++}`, pending: 0 };
      this.controls.set(flow, c);
    }
    return c;
  }

  /** The inside host announces where it waits for the data connection: rewrite and open a pinhole. */
  private fromInside(flow: AlgFlow, control: ControlConnection, a: DataAnnouncement, message: Uint8Array, services: AlgServices): HandleResult {
    // The address the announcement names: 229 names none (the control connection's).
    const named = a.kind === 'epsv' ? flow.insideAddr : a.addr;
    // A server configured with its public address (pasv_address) already names it: keep its port.
    const alreadyPublic = a.kind === 'pasv' && named === flow.publicAddr && named !== flow.insideAddr;
    if (named !== flow.insideAddr && !alreadyPublic) {
      this.stats.thirdParty++;
      return { kind: 'pass' };
    }
    if (this.lowPort(a)) return { kind: 'pass' };
    const e = this.open(control, services, {
      proto: TCP,
      insideAddr: flow.insideAddr,
      insidePort: a.port,
      publicAddr: flow.publicAddr,
      publicPort: alreadyPublic ? a.port : undefined,
      remoteAddr: flow.remoteAddr,
      remotePort: 0,
      singleUse: true,
      ttlMs: this.dataMs,
      group: control.group,
      cls: 'data',
      reason: `FTP ${a.kind.toUpperCase()} data port ${ipv4ToString(flow.insideAddr)}:${a.port} for ${ipv4ToString(flow.remoteAddr)}`,
    });
    if (e === null) return { kind: 'pass' };
    this.stats.dataPinholes++;
    const edits: Edit[] = [];
    if (a.kind === 'port' || a.kind === 'pasv') {
      if (!alreadyPublic) edits.push({ start: a.start, end: a.end, text: editText(hostPortText(e.publicAddr, e.publicPort)) });
    } else if (a.kind === 'eprt') {
      edits.push({ start: a.addrStart, end: a.addrEnd, text: editText(ipv4ToString(e.publicAddr)) });
      if (e.publicPort !== a.port) edits.push({ start: a.portStart, end: a.portEnd, text: numberText(e.publicPort) });
    } else if (e.publicPort !== a.port) {
      edits.push({ start: a.portStart, end: a.portEnd, text: numberText(e.publicPort) });
    }
    if (edits.length === 0) return { kind: 'pass' };
    const out = applyEdits(message, edits);
    return out.ok ? { kind: 'rewrite', bytes: out.bytes } : { kind: 'error', reason: out.reason };
  }

  /** The outside peer announces where the inside host is to connect: an outbound expectation, nothing opened. */
  private fromOutside(flow: AlgFlow, control: ControlConnection, a: DataAnnouncement, services: AlgServices): HandleResult {
    const named = a.kind === 'epsv' ? flow.remoteAddr : a.addr;
    if (named !== flow.remoteAddr) {
      this.stats.thirdParty++;
      return { kind: 'pass' };
    }
    if (this.lowPort(a)) return { kind: 'pass' };
    const e = this.open(control, services, {
      direction: 'outbound',
      proto: TCP,
      insideAddr: flow.insideAddr,
      insidePort: 0,
      remoteAddr: named,
      remotePort: a.port,
      singleUse: true,
      ttlMs: this.dataMs,
      group: control.group,
      cls: 'data',
      reason: `FTP ${a.kind.toUpperCase()}: ${ipv4ToString(flow.insideAddr)} to dial ${ipv4ToString(named)}:${a.port}`,
    });
    if (e !== null) this.stats.dataDials++;
    return { kind: 'pass' };
  }

  /** Port 0 and ports below 1024 open nothing (DESIGN safety rule 4): counted. */
  private lowPort(a: DataAnnouncement): boolean {
    if (a.port >= 1024) return false;
    this.stats.lowPort++;
    return true;
  }

  /** Opens the connection's data expectation in place of the one not yet used; null (counted) when refused. */
  private open(control: ControlConnection, services: AlgServices, req: Parameters<AlgServices['expect']>[0]): Expectation | null {
    if (control.pending !== 0) {
      if (services.removeExpectation(control.pending)) this.stats.replaced++;
      control.pending = 0;
    }
    const e: Expectation | PinholeRefusal = services.expect(req);
    if (typeof e !== 'object') {
      this.stats.refused++;
      return null;
    }
    control.pending = e.id;
    return e;
  }
}
