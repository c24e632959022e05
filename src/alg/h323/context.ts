/**
 * What the parts of the H.323 ALG share: its options, its counters, the
 * calls, registrations and traversal endpoints it tracks, and the reusable
 * walker and edit list (one message is handled at a time).
 */
import { AddressEdits } from './address-edits.js';
import { Calls } from './call.js';
import { PerReader } from './per-reader.js';
import { Registrations } from './registrations.js';
import { Traversal } from './traversal.js';

export interface H323AlgOptions {
  /** Whom media pinholes admit: the call's signalling peer (default) or anyone. */
  media?: 'peer' | 'any';
  /** Who may call an endpoint registered through masq: its gatekeeper (default, gatekeeper-routed) or anyone. */
  registration?: 'gatekeeper' | 'any';
  /** A message whose H.225.0/H.245 does not decode: pass it unmodified (default) or drop it. */
  malformed?: 'pass' | 'drop';
  /** How long a media or T.120 pinhole waits for its first packet (default 300 s); all close when the call ends. */
  mediaSeconds?: number;
  /** Registration pinhole lifetime when the gatekeeper grants no timeToLive (default 300 s, as the kernel). */
  registrationSeconds?: number;
  /** Upper bound on a registration pinhole, whatever the gatekeeper grants (default 1 day). */
  maxRegistrationSeconds?: number;
  /** H.460.18/.19 endpoints: detect them and leave them alone (default), or treat them as any other. */
  h460?: 'detect' | 'ignore';
  /** Bound on calls tracked (oldest ended first), and on registrations. */
  maxCalls?: number;
  /**
   * Bound on one inside host's calls (default a quarter of maxCalls, at least
   * 64 or maxCalls): a host beyond it ends its own oldest call, so one
   * endpoint flooding Setups never makes the ALG forget another's call.
   */
  maxCallsPerHost?: number;
}

export type ResolvedH323Options = Required<H323AlgOptions>;

export function resolveH323Options(o: H323AlgOptions = {}): ResolvedH323Options {
  const maxCalls = o.maxCalls ?? 10_000;
  return {
    media: o.media ?? 'peer',
    registration: o.registration ?? 'gatekeeper',
    malformed: o.malformed ?? 'pass',
    mediaSeconds: o.mediaSeconds ?? 300,
    registrationSeconds: o.registrationSeconds ?? 300,
    maxRegistrationSeconds: o.maxRegistrationSeconds ?? 86_400,
    h460: o.h460 ?? 'detect',
    maxCalls,
    maxCallsPerHost: o.maxCallsPerHost ?? Math.max(Math.min(maxCalls, 64), Math.floor(maxCalls / 4)),
  };
}

export class H323Stats {
  calls = 0;
  callsEnded = 0;
  /** Calls ended to make room: a host's oldest at maxCallsPerHost, the oldest of all at maxCalls. */
  callsForgottenHostLimit = 0;
  callsForgottenTableFull = 0;
  /** Addresses the inside host wrote about itself, rewritten. */
  addressesRewritten = 0;
  /** Our public address in a message from outside, restored (an inbound Setup's destCallSignalAddress). */
  addressesRestored = 0;
  /** Addresses left as written: another host's, port 0, or a pinhole refused. */
  addressesLeft = 0;
  h245Pinholes = 0;
  /** Outbound expectations: the inside host will dial an announced H.245 or call signalling address. */
  dialExpectations = 0;
  mediaPairs = 0;
  mediaRefused = 0;
  t120Pinholes = 0;
  registrationsOpened = 0;
  registrationsRefreshed = 0;
  registrationsClosed = 0;
  registrationsRefused = 0;
  /** Messages whose PER did not decode (passed or dropped by the malformed option). */
  malformed = 0;
  /** fastStart or tunnelled H.245 items that did not decode (left as they are). */
  nestedMalformed = 0;
  /** Q.931 messages that do not parse. */
  q931Malformed = 0;
  tpktKeepAlives = 0;
  /** Endpoints found using H.460.18/.19, and messages passed untouched because of it. */
  traversalEndpoints = 0;
  traversalMessages = 0;
}

export interface H323Context {
  readonly o: ResolvedH323Options;
  readonly stats: H323Stats;
  readonly calls: Calls;
  readonly registrations: Registrations;
  readonly traversal: Traversal;
  readonly reader: PerReader;
  readonly edits: AddressEdits;
}

export function makeH323Context(options: H323AlgOptions = {}): H323Context {
  const o = resolveH323Options(options);
  return {
    o,
    stats: new H323Stats(),
    calls: new Calls(o.maxCalls, o.maxCallsPerHost),
    registrations: new Registrations(o.maxCalls),
    traversal: new Traversal(o.maxCalls),
    reader: new PerReader(),
    edits: new AddressEdits(),
  };
}
