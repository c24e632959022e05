/**
 * The offline dataplane: a capture in, the translated capture out. Each packet
 * goes through the engine in time order, its direction decided by whether its
 * source lies in an inside prefix; what the gateway would send (translated
 * packets, and packets the engine itself originates) is written out in the
 * original link framing, so the result opens in Wireshark like the input.
 * Replies in a LAN-side capture are first readdressed as they would reach the
 * public side (lan-side.ts).
 * A record that cannot be translated (an error inside the engine or an ALG) or
 * written (a time the output format cannot hold) is left out, counted and
 * reported; the rest of the capture is still translated.
 * Pure: bytes in, bytes and a summary out.
 */
import { NatEngine, Side, Verdict } from '../../nat/engine.js';
import { resolveNatConfig, type NatConfigInput } from '../../nat/config.js';
import type { NatCountersSnapshot } from '../../nat/counters.js';
import type { NatEvent } from '../../nat/events.js';
import { ManualClock } from '../../util/clock.js';
import { readCapture, writePcap, writePcapng, type CaptureRecord } from '../../wire/capture.js';
import { decodeLinkFrame, reframe, wrapIpPacket } from '../../wire/link-layer.js';
import { ipv4 } from '../../wire/ipv4.js';
import { presentAtPublicSide } from './lan-side.js';
import { repairOffloadedChecksums, type OffloadRepairs } from './offload.js';

export interface PcapTranslateOptions {
  config: NatConfigInput;
  /** ALGs to attach, each with the flows it applies to (registered on the engine before the first packet). */
  helpers?: Array<(engine: NatEngine) => void>;
  onEvent?: (e: NatEvent) => void;
  /**
   * Repair checksums left unfilled by checksum offload on the capturing host
   * (default true). With false, packets are translated exactly as captured:
   * a bad IPv4 header checksum is dropped as a router would.
   */
  repairChecksums?: boolean;
}

export interface PcapTranslateSummary {
  format: 'pcap' | 'pcapng';
  packetsIn: number;
  packetsOut: number;
  fromInside: number;
  fromOutside: number;
  dropped: number;
  /** Frames that are not IP (ARP, LLDP...): a router does not forward them. */
  notIp: number;
  /** Frames cut short by the capture's snap length: passed to the engine as they are. */
  truncated: number;
  emitted: number;
  /** Records whose translation failed inside the engine or an ALG: left out, each reported in captureIssues. */
  failed: number;
  /** Records the output format cannot hold (a time or length out of its range): left out, each reported in captureIssues. */
  unwritable: number;
  /** Packets from outside addressed to an inside host (a LAN-side capture), readdressed to the public side first. */
  lanSideReplies: number;
  /** Checksums repaired before translation (offload artefacts of the capturing host). */
  checksumsRepaired: OffloadRepairs;
  flows: number;
  mappings: number;
  expectations: number;
  counters: NatCountersSnapshot;
  captureIssues: string[];
}

export interface PcapTranslateResult {
  output: Uint8Array;
  summary: PcapTranslateSummary;
}

export function translateCapture(input: Uint8Array, options: PcapTranslateOptions): PcapTranslateResult {
  const capture = readCapture(input);
  const config = resolveNatConfig(options.config);
  const clock = new ManualClock(0);
  const engine = new NatEngine(config, { clock, onEvent: options.onEvent });
  for (const attach of options.helpers ?? []) attach(engine);
  // Time order, stable for equal timestamps: captures merged from several
  // interfaces are not always sorted.
  const ordered = capture.records.map((r, i) => ({ r, i })).sort((a, b) => a.r.tsSec - b.r.tsSec || a.r.tsNsec - b.r.tsNsec || a.i - b.i);
  const out: CaptureRecord[] = [];
  const lastFrameBySide: Array<CaptureRecord | null> = [null, null];
  const s = { fromInside: 0, fromOutside: 0, dropped: 0, notIp: 0, truncated: 0, emitted: 0, lanSideReplies: 0, failed: 0, unwritable: 0 };
  const issues = new IssueList(capture.issues.map((i) => i.message));
  const repairs: OffloadRepairs = { ipHeader: 0, transport: 0 };
  let nextTick = 0;
  for (const { r, i } of ordered) {
    try {
      translateRecord(r);
    } catch (err) {
      s.failed++;
      issues.add(`record ${i + 1} not translated: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  function translateRecord(rec: CaptureRecord): void {
    const ms = rec.tsSec * 1000 + rec.tsNsec / 1e6;
    if (ms > clock.now()) clock.set(ms);
    if (clock.now() >= nextTick) {
      engine.tick(clock.now());
      nextTick = clock.now() + 1000;
      s.emitted += emit(engine, rec, lastFrameBySide, out);
    }
    const frame = decodeLinkFrame(rec.linkType, rec.data);
    if (frame.kind === 'other') {
      s.notIp++;
      return;
    }
    if (frame.ipTruncated || rec.data.length < rec.origLength) s.truncated++;
    // The engine rewrites in place: work on a copy, never on the input buffer (a Buffer's slice() is a view, so copy explicitly).
    const ip = new Uint8Array(frame.payload);
    const side = frame.kind === 'ipv4' && !engine.isInside(ipv4.src(ip, 0)) ? Side.Outside : Side.Inside;
    if (frame.kind === 'ipv4' && ip.length >= 20) {
      if (side === Side.Inside) s.fromInside++;
      else s.fromOutside++;
    }
    lastFrameBySide[side] = rec;
    if (options.repairChecksums !== false && frame.kind === 'ipv4') repairOffloadedChecksums(ip, repairs);
    if (side === Side.Outside && presentAtPublicSide(engine, ip)) s.lanSideReplies++;
    const verdict = engine.process(ip, side, clock.now());
    if (verdict === Verdict.Drop) s.dropped++;
    else {
      const data = reframe(rec.linkType, rec.data, frame.headerLength, engine.output);
      out.push({ ...rec, data, origLength: translatedOrigLength(rec.origLength, engine.output.length - frame.payload.length, data.length) });
    }
    s.emitted += emit(engine, rec, lastFrameBySide, out);
  }

  const onUnwritable = (i: number, reason: string) => {
    s.unwritable++;
    issues.add(`output record ${i + 1} left out: ${reason}`);
  };
  const output =
    capture.format === 'pcapng'
      ? writePcapng(out, { resolution: 'nano', onUnwritable })
      : writePcap(out, { ...capture.pcapHeader, linkType: ordered[0]?.r.linkType ?? capture.pcapHeader?.linkType, onUnwritable });
  const snap = engine.counters.snapshot();
  const sizes = engine.sizes();
  return {
    output,
    summary: {
      format: capture.format,
      packetsIn: ordered.length,
      packetsOut: out.length - s.unwritable,
      ...s,
      checksumsRepaired: repairs,
      flows: sizes.flows,
      mappings: sizes.mappings,
      expectations: sizes.expectations,
      counters: snap,
      captureIssues: issues.messages(),
    },
  };
}

const UINT32_MAX = 0xffffffff;

/**
 * The original length of a translated record: what it was, changed by as much as
 * the packet changed (an ALG rewrite), never below the bytes now captured nor
 * past what the record format holds. Files whose original length was already
 * inconsistent (a bit flip, a buggy writer) come out consistent instead of failing.
 */
export function translatedOrigLength(origLength: number, change: number, capturedLength: number): number {
  return Math.min(UINT32_MAX, Math.max(capturedLength, origLength + change));
}

/** Problems to report, the first hundred in full: a damaged capture can have one per record. */
class IssueList {
  private readonly list: string[];
  private more = 0;

  constructor(initial: string[]) {
    this.list = [...initial];
  }

  add(message: string): void {
    if (this.list.length < 100) this.list.push(message);
    else this.more++;
  }

  messages(): string[] {
    return this.more ? [...this.list, `... and ${this.more} more`] : this.list;
  }
}

/** Writes packets the engine originated, framed like the last packet seen going their way. */
function emit(engine: NatEngine, current: CaptureRecord, lastFrameBySide: Array<CaptureRecord | null>, out: CaptureRecord[]): number {
  const packets = engine.drainEmitted();
  for (const e of packets) {
    // A packet sent out of `side` travels the link opposite to what arrived from that side.
    const arrived = lastFrameBySide[e.side];
    const template = arrived ?? current;
    const data = wrapIpPacket(template.linkType, e.packet, template.data, { reverseDirection: arrived !== null });
    out.push({ ...current, linkType: template.linkType, interfaceIndex: template.interfaceIndex, data, origLength: data.length });
  }
  return packets.length;
}

