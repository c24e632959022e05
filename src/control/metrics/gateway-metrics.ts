/**
 * The gateway's metrics, read from the engine, the ALGs and the packet loop
 * at each scrape (docs/metrics.md lists them with the queries that matter).
 * Names follow the Prometheus conventions: masq_ prefix, _total for
 * counters, base units (_bytes, _seconds).
 *
 * The same function serves every shell that drives an engine: the TUN
 * gateway passes its loop and devices too; a test, the simulator or pcap
 * translate pass the engine and ALGs alone.
 */
import { Registry } from 'prom-client';
import type { AlgInstance } from '../../alg/registry.js';
import { DropReason, PassReason } from '../../nat/counters.js';
import type { NatEngine } from '../../nat/engine.js';
import { describeTcpState } from '../../nat/tcp-tracker.js';
import { histogramSamples, scraped, scrapedByLabel, scrapedValue, type Sample } from './scraped.js';
import { protoName } from '../logging.js';

/** The packet loop's counters as the gateway reports them (dataplane/tun's GatewayLoopCounters). */
export interface LoopCountersView {
  wakes: number;
  packetsRead: number;
  forwarded: number;
  dropped: number;
  resized: number;
  emitted: number;
  notWritten: number;
  engineErrors: number;
  gsoPackets: number;
  gsoDropped: number;
  coalesced: number;
  coalescedWrites: number;
  /** Reads by batch size: bucket b counts batches of (2^(b-1), 2^b] packets. */
  batchSizes: ArrayLike<number>;
}

/** One TUN device's counters (dataplane/tun's TunStats). */
export interface TunStatsView {
  packetsRead: number;
  packetsWritten: number;
  writeRejected: number;
  writeQueueFull: number;
}

export interface GatewayMetricsSource {
  engine: NatEngine;
  /** The ALGs in force (a reload may change them: read at each scrape). */
  algs: () => readonly AlgInstance[];
  loop?: () => LoopCountersView;
  tun?: () => Record<string, TunStatsView>;
  reloads?: () => { ok: number; failed: number; lastOkSeconds: number };
}

const DROP_REASONS = Object.keys(DropReason) as Array<keyof typeof DropReason>;
const PASS_REASONS = Object.keys(PassReason) as Array<keyof typeof PassReason>;

/** Counter names an ALG reports that are levels, not counts (they go up and down). */
const isLevel = (name: string) => /(Active|Tracked|Open)$/.test(name);

/** The framework's counters every ALG has, by metric name. */
const ALG_FRAMEWORK: Array<[key: string, metric: string, help: string]> = [
  ['messages', 'masq_alg_messages_total', 'Complete messages an ALG was handed'],
  ['rewritten', 'masq_alg_messages_rewritten_total', 'Messages an ALG rewrote'],
  ['passedParseError', 'masq_alg_messages_unparsed_total', 'Messages an ALG could not parse, passed on unmodified'],
  ['dropped', 'masq_alg_messages_dropped_total', "Messages dropped by an ALG's policy"],
  ['expectationsOpened', 'masq_alg_pinholes_opened_total', 'Pinholes (expectations) an ALG opened'],
  ['expectationsRefused', 'masq_alg_pinholes_refused_total', 'Pinholes an ALG asked for and was refused (caps, ports)'],
];
const FRAMEWORK_KEYS = new Set(ALG_FRAMEWORK.map(([k]) => k));

/** Powers of two up to 1024 (the largest TUN batch), then +Inf. */
const BATCH_BOUNDS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, Number.POSITIVE_INFINITY];

/**
 * An engine's and its ALGs' metrics as Prometheus text, read once: for runs
 * that end (pcap translate --metrics-out, the simulator, a library user's
 * own engine). Only masq's own metrics: no process or Node.js ones.
 */
export async function gatewayMetricsText(source: GatewayMetricsSource): Promise<string> {
  const registry = new Registry();
  registerGatewayMetrics(registry, source);
  return registry.metrics();
}

export function registerGatewayMetrics(registry: Registry, source: GatewayMetricsSource): void {
  const { engine } = source;
  const c = engine.counters;

  scraped(registry, {
    name: 'masq_nat_flows',
    help: 'Live flows by protocol and state (TCP: conntrack state names; UDP and ICMP: ASSURED when answered, else UNREPLIED)',
    type: 'gauge',
    read: () => {
      const out: Sample[] = [];
      for (const [proto, states] of engine.countFlowsByState()) {
        for (const [state, n] of states) {
          const name = proto === 6 ? describeTcpState(state) : state === 1 ? 'ASSURED' : 'UNREPLIED';
          out.push({ value: n, labels: { protocol: protoName(proto), state: name } });
        }
      }
      // TCP states that several state bit patterns share are added up.
      const merged = new Map<string, Sample>();
      for (const s of out) {
        const key = `${s.labels!.protocol}/${s.labels!.state}`;
        const m = merged.get(key);
        if (m) m.value += s.value;
        else merged.set(key, s);
      }
      return [...merged.values()];
    },
  });
  scrapedValue(registry, 'masq_nat_flows_limit', 'The flow table limit (limits.flows)', 'gauge', () => engine.config.limits.flows);
  scrapedValue(registry, 'masq_nat_mappings', 'Live mappings (inside endpoint to public endpoint)', 'gauge', () => engine.sizes().mappings);
  scrapedValue(registry, 'masq_nat_hosts', 'Inside hosts with at least one flow or mapping', 'gauge', () => engine.sizes().hosts);
  scraped(registry, {
    name: 'masq_nat_expectations',
    help: 'Live expectations (pinholes) by ALG and traffic class',
    type: 'gauge',
    read: () => {
      const counts = new Map<string, number>();
      for (const e of engine.listExpectations()) {
        const key = `${e.helper}\u0000${e.cls}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      return [...counts].map(([key, value]) => {
        const [alg, cls] = key.split('\u0000');
        return { value, labels: { alg, class: cls } };
      });
    },
  });
  scrapedValue(registry, 'masq_nat_flows_created_total', 'Flows created', 'counter', () => c.flowsCreated);
  scrapedValue(registry, 'masq_nat_flows_expired_total', 'Flows that timed out', 'counter', () => c.flowsExpired);
  scrapedValue(registry, 'masq_nat_mappings_created_total', 'Mappings created', 'counter', () => c.mappingsCreated);
  scrapedValue(registry, 'masq_nat_expectations_opened_total', 'Expectations opened', 'counter', () => c.expectationsOpened);
  scrapedValue(registry, 'masq_nat_expectations_used_total', 'Flows admitted by an expectation', 'counter', () => c.expectationsUsed);
  scrapedValue(registry, 'masq_nat_expectations_refused_total', "Expectations refused by the engine's caps or ports", 'counter', () => c.expectationsRefused);
  scrapedByLabel(registry, 'masq_nat_dropped_packets_total', 'Packets not translated, by reason (limits are refusals: flowLimit, hostFlowLimit, portsExhausted, ...)', 'counter', 'reason', () =>
    Object.fromEntries(DROP_REASONS.map((r) => [r, c.drops[DropReason[r]]])),
  );
  scrapedByLabel(registry, 'masq_nat_passed_packets_total', 'Packets passed untranslated, by reason', 'counter', 'reason', () =>
    Object.fromEntries(PASS_REASONS.map((r) => [r, c.passes[PassReason[r]]])),
  );
  scrapedByLabel(registry, 'masq_nat_packets_total', 'Packets translated, by direction (outbound: from inside)', 'counter', 'direction', () => ({ outbound: c.packetsOut, inbound: c.packetsIn }));
  scrapedByLabel(registry, 'masq_nat_bytes_total', 'IPv4 bytes translated, headers included, by direction', 'counter', 'direction', () => ({ outbound: c.bytesOut, inbound: c.bytesIn }));
  scrapedValue(registry, 'masq_nat_hairpinned_packets_total', 'Packets from inside to a public address, turned back inside', 'counter', () => c.hairpinned);
  scrapedValue(registry, 'masq_nat_icmp_errors_translated_total', 'ICMP errors translated with the packet they quote', 'counter', () => c.icmpErrorsTranslated);
  scrapedValue(registry, 'masq_nat_icmp_errors_sent_total', 'ICMP errors the engine originated (refusals, held SYNs)', 'counter', () => c.icmpErrorsSent);
  scrapedValue(registry, 'masq_nat_fragments_translated_total', 'Later IPv4 fragments translated after their first', 'counter', () => c.fragmentsTranslated);
  scrapedValue(registry, 'masq_nat_helper_held_packets_total', 'Packets whose data an ALG held until its message was complete', 'counter', () => c.helperHeld);

  registerAlgMetrics(registry, source.algs);
  if (source.loop) registerLoopMetrics(registry, source.loop);
  if (source.tun) registerTunMetrics(registry, source.tun);
  if (source.reloads) {
    const reloads = source.reloads;
    scrapedByLabel(registry, 'masq_config_reloads_total', 'Configuration reloads (SIGHUP, masq gateway --reload), by result', 'counter', 'result', () => {
      const r = reloads();
      return { ok: r.ok, failed: r.failed };
    });
    scrapedValue(registry, 'masq_config_last_reload_success_timestamp_seconds', 'When the configuration in force was loaded (Unix time)', 'gauge', () => reloads().lastOkSeconds);
  }
}

function registerAlgMetrics(registry: Registry, algs: () => readonly AlgInstance[]): void {
  for (const [key, name, help] of ALG_FRAMEWORK) {
    scraped(registry, { name, help, type: 'counter', read: () => algs().map((a) => ({ value: a.counters()[key] ?? 0, labels: { alg: a.name } })) });
  }
  // What each ALG counts beyond the framework (SIP: calls started and ended, registrations, ...).
  const own = (level: boolean) => () =>
    algs().flatMap((a) =>
      Object.entries(a.counters())
        .filter(([k]) => !FRAMEWORK_KEYS.has(k) && isLevel(k) === level)
        .map(([counter, value]) => ({ value, labels: { alg: a.name, counter } })),
    );
  scraped(registry, { name: 'masq_alg_events_total', help: "An ALG's own counters (label counter: the ALG's name for it)", type: 'counter', read: own(false) });
  scraped(registry, { name: 'masq_alg_active', help: "An ALG's own levels: calls, registrations, ports tracked now", type: 'gauge', read: own(true) });
}

function registerLoopMetrics(registry: Registry, loop: () => LoopCountersView): void {
  scraped(registry, {
    name: 'masq_tun_read_batch_size',
    help: 'Packets per read from a TUN device (a full batch means masq is the busy party)',
    type: 'histogram',
    read: () => {
      const l = loop();
      return histogramSamples('masq_tun_read_batch_size', BATCH_BOUNDS, l.batchSizes, l.packetsRead);
    },
  });
  const counts: Array<[keyof LoopCountersView, string, string]> = [
    ['forwarded', 'masq_gateway_forwarded_packets_total', 'Packets read from a TUN device and written back translated'],
    ['dropped', 'masq_gateway_dropped_packets_total', 'Packets read and not written back (the engine dropped them)'],
    ['notWritten', 'masq_gateway_unwritten_packets_total', "Translated packets the TUN device's queue had no room for"],
    ['emitted', 'masq_gateway_emitted_packets_total', 'Packets the engine originated and the gateway wrote (ICMP errors, extra segments)'],
    ['resized', 'masq_gateway_resized_packets_total', 'Packets an ALG replaced with a resized copy'],
    ['engineErrors', 'masq_gateway_engine_errors_total', 'Packets the engine threw on (a bug: dropped, logged)'],
    ['gsoPackets', 'masq_gateway_gso_packets_total', 'Packets read as GSO super-packets (offload)'],
    ['gsoDropped', 'masq_gateway_gso_dropped_total', 'GSO packets an ALG left too long to go out: dropped'],
    ['coalesced', 'masq_gateway_coalesced_datagrams_total', 'UDP datagrams written as part of a coalesced GSO packet'],
    ['coalescedWrites', 'masq_gateway_coalesced_writes_total', 'Coalesced GSO packets written'],
  ];
  for (const [key, name, help] of counts) scrapedValue(registry, name, help, 'counter', () => loop()[key] as number);
}

function registerTunMetrics(registry: Registry, tun: () => Record<string, TunStatsView>): void {
  const perDevice = (name: string, help: string, pick: (s: TunStatsView) => number) =>
    scraped(registry, { name, help, type: 'counter', read: () => Object.entries(tun()).map(([device, s]) => ({ value: pick(s), labels: { device } })) });
  perDevice('masq_tun_read_packets_total', 'Packets read from the TUN device (side: inside or outside)', (s) => s.packetsRead);
  perDevice('masq_tun_written_packets_total', 'Packets written to the TUN device', (s) => s.packetsWritten);
  perDevice('masq_tun_write_rejected_total', 'Packets the kernel refused on write', (s) => s.writeRejected);
  perDevice('masq_tun_write_queue_full_total', 'Writes that found the device queue full', (s) => s.writeQueueFull);
}
