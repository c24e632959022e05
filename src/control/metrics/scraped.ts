/**
 * Metrics read when Prometheus scrapes, not counted as things happen: the
 * engine and the servers already keep their counters (plain numbers, typed
 * arrays), so a scrape copies them out and the packet path pays nothing.
 * prom-client's own metric classes keep values of their own; this one only
 * has a read function, and prom-client's registry formats what it returns.
 */
import type { Metric, Registry } from 'prom-client';

export type MetricKind = 'counter' | 'gauge' | 'histogram';

export interface Sample {
  value: number;
  labels?: Record<string, string | number>;
  /** For histograms: name_bucket, name_sum, name_count. */
  metricName?: string;
}

export interface ScrapedMetricOptions {
  name: string;
  help: string;
  type: MetricKind;
  read: () => Sample[] | Promise<Sample[]>;
}

class ScrapedMetric {
  readonly name: string;
  readonly help: string;
  readonly type: MetricKind;
  readonly aggregator = 'sum';
  readonly #read: ScrapedMetricOptions['read'];

  constructor(o: ScrapedMetricOptions) {
    this.name = o.name;
    this.help = o.help;
    this.type = o.type;
    this.#read = o.read;
  }

  async get() {
    const values = (await this.#read()).map((s) => ({ value: s.value, labels: s.labels ?? {}, ...(s.metricName ? { metricName: s.metricName } : {}) }));
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** Values live in their owners; there is nothing here to reset. */
  reset(): void {}
}

/** Registers a metric whose samples `read` returns at each scrape. */
export function scraped(registry: Registry, o: ScrapedMetricOptions): void {
  registry.registerMetric(new ScrapedMetric(o) as unknown as Metric);
}

/** One number, read at each scrape. */
export function scrapedValue(registry: Registry, name: string, help: string, type: 'counter' | 'gauge', read: () => number): void {
  scraped(registry, { name, help, type, read: () => [{ value: read() }] });
}

/** A family over one label: each key of what `read` returns is a label value. */
export function scrapedByLabel(
  registry: Registry,
  name: string,
  help: string,
  type: 'counter' | 'gauge',
  label: string,
  read: () => Record<string, number> | Promise<Record<string, number>>,
): void {
  scraped(registry, {
    name,
    help,
    type,
    read: async () => Object.entries(await read()).map(([key, value]) => ({ value, labels: { [label]: key } })),
  });
}

/**
 * A histogram from bucket counts kept elsewhere: `counts[i]` observations in
 * (bounds[i-1], bounds[i]], the last bound +Inf; `sum` of all observations.
 */
export function histogramSamples(name: string, bounds: readonly number[], counts: ArrayLike<number>, sum: number, labels: Record<string, string> = {}): Sample[] {
  const out: Sample[] = [];
  let cumulative = 0;
  for (let i = 0; i < bounds.length; i++) {
    cumulative += counts[i] ?? 0;
    out.push({ metricName: `${name}_bucket`, value: cumulative, labels: { ...labels, le: Number.isFinite(bounds[i]) ? String(bounds[i]) : '+Inf' } });
  }
  // Observations in buckets past the given bounds still count.
  for (let i = bounds.length; i < counts.length; i++) cumulative += counts[i];
  out[out.length - 1].value = cumulative;
  out.push({ metricName: `${name}_sum`, value: sum, labels }, { metricName: `${name}_count`, value: cumulative, labels });
  return out;
}
