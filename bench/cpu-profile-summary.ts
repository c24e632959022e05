// Self time of a V8 .cpuprofile (node --cpu-prof) by category, for the gateway's profile under
// bench/sip-calls.ts (docs/benchmarks.md). Categories come from each frame's file (the SIP codec, the
// SIP ALG's call state and rewrites, the ALG framework, the NAT engine, packet fields, the TUN loop)
// or its name (native calls into the addon, garbage collection, idle).
//
//   node --import tsx bench/cpu-profile-summary.ts FILE.cpuprofile [--skip S] [--until S] [--top 25] [--json]
//
// Profile the gateway during the SIP bench with:
//   MASQ_LAB_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' sudo -E node --import tsx bench/sip-calls.ts \
//     --paths masq --start 1500 --max 1500 --refine 0 --rounds 1 --seconds 8
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    top: { type: 'string', default: '25' },
    // Seconds at the start of the profile left out (Node and tsx starting, the gateway setting up).
    skip: { type: 'string', default: '0' },
    // ... and those after this many seconds (the gateway idle after the load).
    until: { type: 'string', default: '1e9' },
    json: { type: 'boolean', default: false },
  },
});
if (positionals.length !== 1) throw new Error('usage: cpu-profile-summary.ts FILE.cpuprofile [--top N] [--json]');

const SIP_CODEC = /src\/alg\/(text\/|sip\/(message|framing|header-names|params|uri|via|scalars|start-line|host|address|summary)\.ts)/;
const SIP_STATE = /src\/alg\/sip\//;
/**
 * The device's methods that are one call into the addon: V8 puts the system call's time (and the
 * kernel's forwarding of the packet written, which runs in the writer's context) in their self time.
 */
const TUN_CALLS = /^(writeBatch|write|readNow)$/;

/** The category of one frame. */
export function category(frame: ProfileNode['callFrame']): string {
  const { url, functionName: name } = frame;
  if (name === '(garbage collector)') return 'garbage collection';
  if (name === '(idle)') return 'idle (waiting in epoll)';
  if (name === '(program)') return 'V8/Node outside JS (program)';
  if (/src\/dataplane\/tun\/device\.ts$/.test(url) && TUN_CALLS.test(name)) return 'TUN system calls (write, and the forwarding it carries)';
  if (SIP_CODEC.test(url)) return 'SIP codec (parse, tokenize, serialise)';
  if (SIP_STATE.test(url)) return 'SIP ALG: call state, rewrite, SDP';
  if (/src\/alg\//.test(url)) return 'ALG framework, pinholes';
  if (/src\/nat\//.test(url)) return 'NAT engine, conntrack';
  if (/src\/wire\//.test(url)) return 'packet fields, checksums';
  if (/src\/dataplane\//.test(url)) return 'TUN loop (JS)';
  if (/src\//.test(url)) return 'other masq';
  if (url.startsWith('node:')) return 'Node internals (timers, streams)';
  if (url === '') return `native: ${name || '(anonymous)'}`;
  return 'other';
}

function main(): void {
  const profile = JSON.parse(readFileSync(positionals[0], 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  const skipUs = Number(args.skip) * 1e6;
  const untilUs = Number(args.until) * 1e6;
  /** Not-idle ms per second of the profile: shows where the load was. */
  const timeline: number[] = [];
  let at = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    const dt = profile.timeDeltas[i] ?? 0;
    at += dt;
    if (byId.get(id)!.callFrame.functionName !== '(idle)') timeline[Math.floor(at / 1e6)] = (timeline[Math.floor(at / 1e6)] ?? 0) + dt / 1000;
    if (at < skipUs || at > untilUs) continue;
    selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
  }
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const idle = [...selfUs].filter(([id]) => byId.get(id)!.callFrame.functionName === '(idle)').reduce((a, [, t]) => a + t, 0);
  const cats = new Map<string, number>();
  const fns = new Map<string, number>();
  for (const [id, t] of selfUs) {
    const f = byId.get(id)!.callFrame;
    const c = category(f);
    cats.set(c, (cats.get(c) ?? 0) + t);
    const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/src\//, 'src/')}:${f.lineNumber + 1}`;
    fns.set(key, (fns.get(key) ?? 0) + t);
  }
  const busy = total - idle;
  const rows = [...cats].sort((a, b) => b[1] - a[1]);
  const top = [...fns].sort((a, b) => b[1] - a[1]).slice(0, Number(args.top));
  if (args.json) {
    process.stdout.write(`${JSON.stringify({ totalMs: total / 1000, busyMs: busy / 1000, categories: Object.fromEntries(rows), top }, null, 2)}\n`);
    return;
  }
  const pct = (t: number, of: number) => `${((100 * t) / of).toFixed(1)} %`;
  const lines = [
    `# ${positionals[0]}: ${(total / 1e6).toFixed(2)} s sampled from ${args.skip} s to ${args.until} s, ${(busy / 1e6).toFixed(2)} s not idle`,
    `# not-idle ms in each second of the profile: ${Array.from(timeline, (t) => Math.round(t ?? 0)).join(' ')}`,
    '', '| category | ms | of not idle |', '|---|---|---|'];
  for (const [c, t] of rows) lines.push(`| ${c} | ${(t / 1000).toFixed(0)} | ${c.startsWith('idle') ? '' : pct(t, busy)} |`);
  lines.push('', '| function (self) | ms | of not idle |', '|---|---|---|');
  for (const [f, t] of top) lines.push(`| ${f} | ${(t / 1000).toFixed(0)} | ${pct(t, busy)} |`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

main();
