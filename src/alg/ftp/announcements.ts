/**
 * Where an FTP data connection is to go, as the control connection says it
 * (RFC 959, RFC 2428): the client's PORT and EPRT commands (active mode: the
 * server connects to the client), the server's 227 and 229 replies (passive
 * mode: the client connects to the server). Read in place from one framed
 * message: the address and port as numbers, and the spans holding them, so a
 * rewrite replaces those bytes and nothing else.
 *
 * The syntax is the strict one real peers write (what the kernel's
 * nf_conntrack_ftp and libalias accept, and no more): PORT is six decimal
 * numbers joined by commas, then only whitespace to the line end; 227 is
 * scanned to its first digit (servers put any text around the numbers); EPRT
 * has a delimiter of any printable non-digit; 229 is "(|||port|)".
 */
import * as charClassModule from '../text/char-class.js';
import * as caseModule from '../text/case.js';
import * as decimalModule from '../text/decimal.js';
import { latin1 } from '../text/latin1.js';
import { tryParseIpv4 } from '../../wire/address.js';
import { IAC, replyCode, telnetPrefixEnd } from './framing.js';

// Local copies of the imports (see "Module bindings" in src/alg/text/README.md).
const { isDigit, isAlpha } = charClassModule;
const { spanEqualsLower } = caseModule;
const { parseUint } = decimalModule;

const SP = 0x20;
const HT = 0x09;
const CR = 0x0d;
const LF = 0x0a;
const COMMA = 0x2c;
const LPAREN = 0x28;
const RPAREN = 0x29;

/** Six numbers "h1,h2,h3,h4,p1,p2": an IPv4 address and a port (PORT, 227). */
export interface HostPortNumbers {
  addr: number;
  port: number;
  /** The span of the six numbers. */
  start: number;
  end: number;
}

export type DataAnnouncement =
  /** PORT h1,h2,h3,h4,p1,p2 (a client: connect to me there). */
  | ({ kind: 'port' } & HostPortNumbers)
  /** 227 text (h1,h2,h3,h4,p1,p2) text (a server: connect to me there). */
  | ({ kind: 'pasv' } & HostPortNumbers)
  /**
   * EPRT |1|addr|port| (family 1: IPv4, 2: IPv6; addr 0 for IPv6): spans of
   * the address text and the port text.
   */
  | { kind: 'eprt'; family: number; addr: number; port: number; addrStart: number; addrEnd: number; portStart: number; portEnd: number }
  /** 229 text (|||port|): the port's span; the address is the control connection's. */
  | { kind: 'epsv'; port: number; portStart: number; portEnd: number };

export type AnnouncementResult =
  | { kind: 'none' }
  | { kind: 'found'; announcement: DataAnnouncement }
  /** A PORT, EPRT, 227 or 229 whose numbers do not parse: passed on unchanged. */
  | { kind: 'malformed'; reason: string };

const NONE: AnnouncementResult = { kind: 'none' };

function malformed(reason: string): AnnouncementResult {
  return { kind: 'malformed', reason };
}

/** The end of the text of a line (before its CR LF or LF). */
function lineTextEnd(b: Uint8Array, start: number, end: number): number {
  let e = end;
  if (e > start && b[e - 1] === LF) e--;
  if (e > start && b[e - 1] === CR) e--;
  return e;
}

/** Reads six comma-separated numbers at i; null when they are not there. */
export function readHostPort(b: Uint8Array, i: number, end: number): HostPortNumbers | null {
  const start = i;
  const v = [0, 0, 0, 0, 0, 0];
  for (let k = 0; k < 6; k++) {
    const from = i;
    while (i < end && isDigit(b[i]) && i - from < 3) i++;
    const n = parseUint(b, from, i, 255);
    if (n < 0) return null;
    v[k] = n;
    if (k < 5) {
      if (i >= end || b[i] !== COMMA) return null;
      i++;
    }
  }
  if (i < end && isDigit(b[i])) return null; // a fourth digit: not a byte
  const addr = ((v[0] << 24) | (v[1] << 16) | (v[2] << 8) | v[3]) >>> 0;
  return { addr, port: v[4] * 256 + v[5], start, end: i };
}

function onlyWhitespace(b: Uint8Array, i: number, end: number): boolean {
  for (; i < end; i++) if (b[i] !== SP && b[i] !== HT) return false;
  return true;
}

/** A data announcement in a client's command line, or none. */
export function parseCommandAnnouncement(b: Uint8Array, start: number, end: number): AnnouncementResult {
  const textEnd = lineTextEnd(b, start, end);
  const codeStart = telnetPrefixEnd(b, start, textEnd);
  let i = codeStart;
  while (i < textEnd && isAlpha(b[i])) i++;
  if (i - codeStart !== 4) return NONE;
  const isPort = spanEqualsLower(b, codeStart, i, 'port');
  if (!isPort && !spanEqualsLower(b, codeStart, i, 'eprt')) return NONE;
  if (i >= textEnd || b[i] !== SP) return malformed(isPort ? 'PORT without an argument' : 'EPRT without an argument');
  while (i < textEnd && b[i] === SP) i++;
  if (isPort) {
    const hp = readHostPort(b, i, textEnd);
    if (hp === null || !onlyWhitespace(b, hp.end, textEnd)) return malformed('PORT argument is not h1,h2,h3,h4,p1,p2');
    return { kind: 'found', announcement: { kind: 'port', ...hp } };
  }
  return parseEprt(b, i, textEnd);
}

/** RFC 2428: EPRT <d><net-prt><d><net-addr><d><tcp-port><d>, d any of ASCII 33-126 but digits. */
function parseEprt(b: Uint8Array, i: number, end: number): AnnouncementResult {
  const d = b[i];
  if (i >= end || d < 33 || d > 126 || isDigit(d)) return malformed('EPRT delimiter');
  const fields: number[] = [i + 1];
  for (let k = i + 1; k < end && fields.length < 4; k++) if (b[k] === d) fields.push(k + 1);
  if (fields.length < 4) return malformed('EPRT needs three fields');
  const [protoStart, addrStart, portStart, after] = fields;
  const family = parseUint(b, protoStart, addrStart - 1, 65535);
  const port = parseUint(b, portStart, after - 1, 65535);
  if (family < 0 || port < 0 || portStart === after - 1) return malformed('EPRT protocol or port is not a number');
  if (!onlyWhitespace(b, after, end)) return malformed('EPRT: text after the last delimiter');
  let addr = 0;
  if (family === 1) {
    // The one IPv4 text rule (src/wire/address.ts): no leading zeros, nothing around it.
    const a = tryParseIpv4(latin1(b, addrStart, portStart - 1));
    if (a === null) return malformed('EPRT |1| address is not a dotted quad');
    addr = a;
  }
  return { kind: 'found', announcement: { kind: 'eprt', family, addr, port, addrStart, addrEnd: portStart - 1, portStart, portEnd: after - 1 } };
}

/**
 * A data announcement in a server's reply, or none: 227 and 229, single-line
 * replies only (a multi-line 227 is not what servers send, and its numbers
 * could be anywhere in its text).
 */
export function parseReplyAnnouncement(b: Uint8Array, start: number, end: number): AnnouncementResult {
  const code = replyCode(b, start, end);
  if (code !== 227 && code !== 229) return NONE;
  const textEnd = lineTextEnd(b, start, end);
  const sep = start + 3 < textEnd ? b[start + 3] : SP;
  if (sep !== SP && sep !== 0x2d) return NONE; // "2270": another code
  for (let k = start; k < textEnd; k++) if (b[k] === LF) return malformed(`multi-line ${code} reply`);
  if (sep !== SP) return malformed(`multi-line ${code} reply`);
  let i = start + 4;
  if (code === 227) {
    while (i < textEnd && !isDigit(b[i])) i++;
    const hp = readHostPort(b, i, textEnd);
    if (hp === null) return malformed('227 without h1,h2,h3,h4,p1,p2');
    return { kind: 'found', announcement: { kind: 'pasv', ...hp } };
  }
  // 229 ... (<d><d><d><port><d>)
  while (i < textEnd && b[i] !== LPAREN) i++;
  if (i + 5 >= textEnd) return malformed('229 without (|||port|)');
  const d = b[i + 1];
  if (d < 33 || d > 126 || isDigit(d) || b[i + 2] !== d || b[i + 3] !== d) return malformed('229 without (|||port|)');
  const portStart = i + 4;
  let portEnd = portStart;
  while (portEnd < textEnd && isDigit(b[portEnd])) portEnd++;
  const port = parseUint(b, portStart, portEnd, 65535);
  if (port < 0 || portEnd + 1 >= textEnd || b[portEnd] !== d || b[portEnd + 1] !== RPAREN) return malformed('229 without (|||port|)');
  return { kind: 'found', announcement: { kind: 'epsv', port, portStart, portEnd } };
}

/** Whether the message is a client's command (its first byte after Telnet sequences is a letter). */
export function isCommand(b: Uint8Array): boolean {
  return b.length > 0 && (isAlpha(b[0]) || b[0] === IAC);
}

/** "h1,h2,h3,h4,p1,p2" for an address and port. */
export function hostPortText(addr: number, port: number): string {
  return `${addr >>> 24},${(addr >>> 16) & 255},${(addr >>> 8) & 255},${addr & 255},${port >>> 8},${port & 255}`;
}
