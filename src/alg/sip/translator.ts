/**
 * Turns "this host[:port] names the translated endpoint" into byte edits.
 * Outbound the endpoint is the inside host (asked with isPrivate, mapped with
 * mapSignalling); inbound it is our public address (mapSignalling answers
 * with the inside endpoint, or null when the address is not ours).
 *
 * Ports keep their written form where they can: an explicit port stays
 * explicit (even when it becomes the default); an absent port stays absent
 * when the new port is the default, and is inserted otherwise. With a
 * port-preserving NAT an outbound rewrite and its inbound restore therefore
 * give back the inside host's bytes exactly.
 */
import type { Span } from '../text/span.js';
import * as internModule from '../text/intern.js';
import type { AddressField, Endpoint, RewriteContext } from './context.js';
import type { Edit } from '../text/edit.js';
import * as editModule from '../text/edit.js';
import type { HostKind } from './host.js';
import * as hostModule from './host.js';
import type { Param } from './params.js';
import * as paramsModule from './params.js';
import type { Uri } from './uri.js';
import * as uriModule from './uri.js';

// Local copies of the imports: an imported binding is read from its module
// cell at every use, even in optimized loops; a module-local const is not
// (see "Module bindings" in src/alg/text/README.md).
const { internLatin1 } = internModule;
const { editText, numberText } = editModule;
const { formatSipHost } = hostModule;
const { findParam } = paramsModule;
const { defaultSipPort } = uriModule;

export class Translator {
  readonly edits: Edit[] = [];
  /** The first public address a signalling rewrite produced (outbound): the fallback for SDP o= and c=. */
  publicAddr: string | null = null;

  readonly outbound: boolean;

  constructor(
    readonly b: Uint8Array,
    readonly ctx: RewriteContext,
  ) {
    this.outbound = ctx.direction === 'outbound';
  }

  /** The translated endpoint for addr:port, or null when it is not the one we translate. */
  translate(addr: string, port: number, transport: string, field: AddressField): Endpoint | null {
    if (this.outbound) {
      if (!this.ctx.isPrivate(addr, port, field)) return null;
      const to = validEndpoint(this.ctx.mapSignalling(addr, port, transport, field));
      if (to && this.publicAddr === null) this.publicAddr = to.addr;
      return to;
    }
    return validEndpoint(this.ctx.mapSignalling(addr, port, transport, field));
  }

  replace(span: Span, text: string): void {
    this.edits.push({ start: span.start, end: span.end, text: editText(text) });
  }

  /** replace() for a range given as two offsets (the SDP layout's rows hold no span objects). */
  replaceRange(start: number, end: number, text: string): void {
    this.edits.push({ start, end, text: editText(text) });
  }

  replaceNumberRange(start: number, end: number, n: number): void {
    this.edits.push({ start, end, text: numberText(n) });
  }

  insert(at: number, text: string): void {
    this.edits.push({ start: at, end: at, text: editText(text) });
  }

  /** Replaces a span with a decimal number (ports, lengths). */
  replaceNumber(span: Span, n: number): void {
    this.edits.push({ start: span.start, end: span.end, text: numberText(n) });
  }

  /** Rewrites one written host[:port]; returns the mapping used, or null when unchanged. */
  hostPort(
    host: Span,
    kind: HostKind,
    port: Span | null,
    portNumber: number | null,
    defaultPort: number,
    transport: string,
    field: AddressField,
  ): Endpoint | null {
    const addr = kind === 'ipv6' ? internLatin1(this.b, host.start + 1, host.end - 1) : internLatin1(this.b, host.start, host.end);
    const effectivePort = portNumber ?? defaultPort;
    const to = this.translate(addr, effectivePort, transport, field);
    if (!to) return null;
    if (to.addr !== addr) this.replace(host, formatSipHost(to.addr));
    if (port) {
      if (to.port !== portNumber) this.replaceNumber(port, to.port);
    } else if (to.port !== defaultPort) {
      this.insert(host.end, `:${to.port}`);
    }
    return to;
  }

  /** A sip/sips URI: its host[:port] and a maddr parameter naming the same endpoint. */
  uri(uri: Uri, field: AddressField): void {
    const hp = uri.hostPort;
    if (!hp || (uri.scheme !== 'sip' && uri.scheme !== 'sips')) return;
    const tp = findParam(this.b, uri.params, 'transport');
    const transportParam = tp?.value ? internLatin1(this.b, tp.value.start, tp.value.end, true) : null;
    const defaultPort = defaultSipPort(uri.scheme, transportParam);
    const transport = transportParam ?? this.ctx.transport;
    this.hostPort(hp.host, hp.kind, hp.port, hp.portNumber, defaultPort, transport, field);
    const maddr = findParam(this.b, uri.params, 'maddr');
    if (maddr) this.addressParam(maddr, hp.portNumber ?? defaultPort, transport, 'uri-maddr', true);
  }

  /**
   * A parameter whose value is an address alone (maddr, received). `bracketV6`
   * writes an IPv6 result as a reference (maddr is a host; received is a bare
   * IPv6address, RFC 5118).
   */
  addressParam(p: Param, port: number, transport: string, field: AddressField, bracketV6: boolean): Endpoint | null {
    const v = p.value;
    if (!v || v.end <= v.start) return null;
    let s = v.start;
    let e = v.end;
    if (this.b[s] === 0x5b && this.b[e - 1] === 0x5d) {
      s++;
      e--;
    }
    const addr = internLatin1(this.b, s, e);
    const to = this.translate(addr, port, transport, field);
    if (!to) return null;
    if (to.addr !== addr) this.replace(v, bracketV6 ? formatSipHost(to.addr) : to.addr);
    return to;
  }
}

/**
 * What a context answers is written into the message, so it must be an IP
 * literal and a port in 1..65535; anything else is treated as "no mapping"
 * rather than written (a bug in the ALG must not corrupt the packet).
 */
let lastValidAddr = '';
export function validEndpoint(e: Endpoint | null): Endpoint | null {
  if (e === null || typeof e !== 'object') return null;
  const { addr, port } = e;
  if (!Number.isInteger(port) || port < 1 || port > 65535) return null;
  if (addr === lastValidAddr) return e; // the same public address again: already checked
  if (typeof addr !== 'string' || addr.length === 0 || addr.length > 45 || !/^[0-9A-Fa-f.:]+$/.test(addr)) return null;
  lastValidAddr = addr;
  return e;
}
