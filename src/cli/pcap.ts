/** `masq pcap translate`: the offline dataplane from the command line. */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { translateCapture, type PcapTranslateSummary } from '../dataplane/pcap/translate.js';
import { NatConfigError, type NatConfigInput } from '../nat/config.js';
import { CaptureFormatError } from '../wire/capture.js';
import type { AlgInstance } from '../alg/registry.js';
import type { NatEngine } from '../nat/engine.js';
import { gatewayMetricsText } from '../control/metrics/gateway-metrics.js';
import { CliError } from './errors.js';
import { algHelpersFor, ALG_NAMES } from './alg-options.js';

/** The ALGs as helpers for translateCapture, keeping each instance so its counters can be reported. */
function countedAlgs(names: string[]): { helpers: Array<(engine: NatEngine) => void>; counters: () => Record<string, Record<string, number>>; instances: AlgInstance[] } {
  const instances: AlgInstance[] = [];
  const attach = algHelpersFor(names, (a) => instances.push(a));
  return { helpers: attach, counters: () => Object.fromEntries(instances.map((a) => [a.name, a.counters()])), instances };
}

const list = (v: string) => v.split(',').map((x) => x.trim()).filter(Boolean);

export function registerPcapCommands(program: Command): void {
  const pcap = program.command('pcap').description('offline dataplane: run captures through the NAT engine');
  pcap
    .command('translate')
    .description('translate a capture as the gateway would, writing what leaves it on each side')
    .argument('<in>', 'capture to read (pcap or pcapng); - for standard input')
    .argument('<out>', 'capture to write (same format as the input); - for standard output (the summary then goes to standard error)')
    .requiredOption('--inside <cidrs>', 'inside prefixes, comma-separated (packets from these are outbound)', list)
    .requiredOption('--public <ips>', 'public addresses, comma-separated', list)
    .option('--mapping <m>', 'eim | adm | apdm', 'eim')
    .option('--filtering <f>', 'eif | adf | apdf', 'apdf')
    .option('--ports <p>', 'preserve | sequential | random', 'preserve')
    .option('--hairpin', 'translate inside-to-public-address traffic back inside (default)')
    .option('--no-hairpin', 'drop inside traffic to the public addresses')
    .option('--alg <names>', `application-level gateways to run (${ALG_NAMES.join(', ')})`, list, [])
    .option('--no-repair-checksums', 'translate checksums exactly as captured (default: repair checksum-offload artefacts first)')
    .option('--json', 'print the summary as JSON')
    .option('--metrics-out <file>', "write the gateway's Prometheus metrics after the run (as /metrics would serve them; docs/metrics.md) to this file")
    .action(async (inPath: string, outPath: string, o: { inside: string[]; public: string[]; mapping: string; filtering: string; ports: string; hairpin: boolean; alg: string[]; repairChecksums: boolean; json?: boolean; metricsOut?: string }) => {
      let input: Uint8Array;
      try {
        input = readFileSync(inPath === '-' ? 0 : inPath);
      } catch (e) {
        throw new CliError(`cannot read ${inPath}: ${(e as Error).message}`);
      }
      const config: NatConfigInput = {
        inside: o.inside,
        public: o.public,
        mapping: o.mapping,
        filtering: o.filtering,
        ports: { allocation: o.ports as 'preserve' },
        hairpin: o.hairpin,
      };
      let result;
      const algs = countedAlgs(o.alg);
      let engine: NatEngine | undefined;
      const keepEngine = (e: NatEngine) => void (engine = e);
      try {
        result = translateCapture(input, { config, helpers: [...algs.helpers, keepEngine], repairChecksums: o.repairChecksums });
      } catch (e) {
        if (e instanceof NatConfigError) throw new CliError(e.message);
        if (e instanceof CaptureFormatError) throw new CliError(`${inPath}: ${e.message}`);
        throw e;
      }
      try {
        if (outPath === '-') process.stdout.write(result.output);
        else writeFileSync(outPath, result.output);
      } catch (e) {
        throw new CliError(`cannot write ${outPath}: ${(e as Error).message}`);
      }
      if (o.metricsOut !== undefined && engine) {
        const text = await gatewayMetricsText({ engine, algs: () => algs.instances });
        try {
          writeFileSync(o.metricsOut, text);
        } catch (e) {
          throw new CliError(`cannot write ${o.metricsOut}: ${(e as Error).message}`);
        }
      }
      const algCounters = algs.counters();
      const report = o.json ? `${JSON.stringify({ ...result.summary, algs: algCounters })}\n` : formatSummary(result.summary, outPath === '-' ? 'standard output' : outPath, algCounters);
      (outPath === '-' ? process.stderr : process.stdout).write(report);
    });
}

function formatSummary(s: PcapTranslateSummary, outPath: string, algs: Record<string, Record<string, number>>): string {
  const lines = [
    `wrote ${s.packetsOut} of ${s.packetsIn} packets to ${outPath} (${s.format})`,
    `  from inside ${s.fromInside}, from outside ${s.fromOutside} (${s.lanSideReplies} addressed to inside hosts, presented at the public side), not IP ${s.notIp}, truncated by capture ${s.truncated}`,
    `  checksums repaired before translation (capture offload): ${s.checksumsRepaired.ipHeader} IPv4 header, ${s.checksumsRepaired.transport} TCP/UDP`,
    `  flows ${s.flows}, mappings ${s.mappings}, expectations ${s.expectations}, hairpinned ${s.counters.hairpinned}, originated ${s.emitted}`,
    `  dropped ${s.dropped}${Object.keys(s.counters.drops).length ? ':' : ''}`,
    ...Object.entries(s.counters.drops).map(([reason, n]) => `    ${reason} ${n}`),
  ];
  if (s.failed || s.unwritable) {
    lines.push(`  left out: ${s.failed} not translated (an error in the engine or an ALG), ${s.unwritable} not writable in ${s.format} (see below)`);
  }
  if (Object.keys(s.counters.passes).length) {
    lines.push('  passed untranslated:', ...Object.entries(s.counters.passes).map(([r, n]) => `    ${r} ${n}`));
  }
  for (const [name, counters] of Object.entries(algs)) {
    const nonZero = Object.entries(counters).filter(([, n]) => n !== 0);
    lines.push(`  ALG ${name}: ${nonZero.length ? nonZero.map(([k, n]) => `${k} ${n}`).join(', ') : 'nothing counted'}`);
  }
  for (const issue of s.captureIssues) lines.push(`  capture: ${issue}`);
  return `${lines.join('\n')}\n`;
}
