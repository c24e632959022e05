/**
 * A two-LAN lab in network namespaces, for every test that needs real hosts
 * behind a real gateway (masq's or the kernel's):
 *
 *   h1 10.0.1.2 ─┐                                        ┌─ srv 198.51.100.10
 *   h2 10.0.1.3 ─┤ lan0 10.0.1.1  gw1  wan0 ─┐            │      198.51.100.11
 *                                             ├ inet ──────┘  (router: 203.0.113.254 on the
 *   h3 10.0.2.2 ── lan0 10.0.2.1  gw2  wan0 ─┘  198.51.100.1   WAN bridge, 198.51.100.1 to srv)
 *
 * gw1's public address is 203.0.113.1 and gw2's 203.0.113.11, whichever NAT
 * runs there: with masq the gateway host itself has .2 (.12) on wan0 and masq
 * answers ARP for the public address; with the kernel's NAT the public address
 * sits on wan0. The internet router knows no route to the LANs, so nothing
 * untranslated gets an answer.
 *
 * Namespaces are named masq-<tag>-<role>-<pid>; veths are created directly
 * inside them, so the host's own namespace is never touched. destroy() stops
 * the processes started here (by pid) and deletes the namespaces by name.
 * Only RFC 1918 and RFC 5737 addresses.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './prereq.js';

export const LAB = {
  lan1: { prefix: '10.0.1.0/24', gateway: '10.0.1.1', h1: '10.0.1.2', h2: '10.0.1.3' },
  lan2: { prefix: '10.0.2.0/24', gateway: '10.0.2.1', h3: '10.0.2.2' },
  wan: { prefix: '203.0.113.0/24', router: '203.0.113.254' },
  gw1: { public: '203.0.113.1', host: '203.0.113.2' },
  gw2: { public: '203.0.113.11', host: '203.0.113.12' },
  servers: { router: '198.51.100.1', a: '198.51.100.10', b: '198.51.100.11' },
} as const;

export type Role = 'h1' | 'h2' | 'h3' | 'gw1' | 'gw2' | 'inet' | 'srv';
export type GatewayRole = 'gw1' | 'gw2';
export type KernelNatMode = 'masquerade' | 'masquerade fully-random';

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** A process running in a namespace, its output collected; stopped by pid. */
export class LabProcess {
  readonly proc: ChildProcess;
  output = '';
  exitCode: number | null = null;
  signal: NodeJS.Signals | null = null;
  #exited: Promise<void>;

  constructor(ns: string, argv: readonly string[], readonly label: string) {
    // `ip netns exec` execs the command: the pid is the command's own.
    this.proc = spawn('ip', ['netns', 'exec', ns, ...argv], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    this.proc.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
    this.#exited = new Promise((resolve) =>
      this.proc.on('exit', (code, signal) => {
        this.exitCode = code;
        this.signal = signal;
        resolve();
      }),
    );
  }

  get running(): boolean {
    return this.exitCode === null && this.signal === null;
  }

  /** Waits (bounded) until the output matches; fails early if the process exits. */
  async waitFor(pattern: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const m = pattern.exec(this.output);
      if (m) return m;
      if (!this.running) throw new Error(`${this.label} exited (${this.exitCode ?? this.signal}) before printing ${pattern}:\n${this.output}`);
      await sleep(50);
    }
    throw new Error(`${this.label}: timed out after ${timeoutMs} ms waiting for ${pattern}:\n${this.output}`);
  }

  /** Waits (bounded) for the process to exit by itself. */
  async exited(timeoutMs = 20_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.label} still running after ${timeoutMs} ms:\n${this.output}`)), timeoutMs);
    });
    try {
      await Promise.race([this.#exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGINT (or the given signal), SIGKILL after a grace period; resolves when it is gone. */
  async stop(signal: NodeJS.Signals = 'SIGINT', graceMs = 5000): Promise<void> {
    if (!this.running || this.proc.pid === undefined) return;
    this.proc.kill(signal);
    const kill = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    await this.#exited;
    clearTimeout(kill);
  }
}

/**
 * Which masq the lab runs: MASQ_LAB_BUILD=src|dist, by default `dist` when
 * the running script is a benchmark (bench/), `src` otherwise. Benchmarks
 * measure what users run: tsx's on-the-fly build names every closure it
 * makes (an Object.defineProperty each), which costs the packet path a
 * measurable share that the compiled build does not pay.
 */
export function masqBuild(): 'src' | 'dist' {
  const chosen = process.env.MASQ_LAB_BUILD;
  if (chosen === 'src' || chosen === 'dist') return chosen;
  if (chosen) throw new Error(`MASQ_LAB_BUILD must be src or dist, not ${chosen}`);
  return /[\\/]bench[\\/][^\\/]+$/.test(process.argv[1] ?? '') ? 'dist' : 'src';
}

/** dist/cli/main.js, checked once per process (a bench starts many masq processes). */
let checkedCli: string | undefined;

/** dist/cli/main.js, refused when missing or older than a source file (a stale build would measure old code). */
function compiledCli(): string {
  if (checkedCli !== undefined) return checkedCli;
  const cli = join(repoRoot, 'dist', 'cli', 'main.js');
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` (or set MASQ_LAB_BUILD=src)`);
  const built = statSync(cli).mtimeMs;
  const newer = newestSource(join(repoRoot, 'src'));
  if (newer.mtimeMs > built) throw new Error(`dist/ is older than ${newer.path}: run \`npm run build\` (or set MASQ_LAB_BUILD=src)`);
  checkedCli = cli;
  return cli;
}

function newestSource(dir: string): { path: string; mtimeMs: number } {
  let best = { path: dir, mtimeMs: 0 };
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const found = entry.isDirectory() ? newestSource(path) : { path, mtimeMs: statSync(path).mtimeMs };
    if (found.mtimeMs > best.mtimeMs) best = found;
  }
  return best;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export class LabTopology {
  readonly names: Record<Role, string>;
  readonly dir: string;
  readonly #processes: LabProcess[] = [];
  #destroyed = false;

  private constructor(tag: string) {
    const roles: Role[] = ['h1', 'h2', 'h3', 'gw1', 'gw2', 'inet', 'srv'];
    this.names = Object.fromEntries(roles.map((r) => [r, `masq-${tag}-${r}-${process.pid}`])) as Record<Role, string>;
    this.dir = mkdtempSync(join(tmpdir(), `masq-${tag}-`));
  }

  /** Builds the lab. `tag` keeps two test files' labs apart (short: it is part of every name). */
  static create(tag: string): LabTopology {
    const t = new LabTopology(tag);
    try {
      t.#build();
    } catch (err) {
      t.#deleteNamespaces();
      throw err;
    }
    return t;
  }

  #build(): void {
    const n = this.names;
    for (const ns of Object.values(n)) {
      this.#must('ip', ['netns', 'add', ns]);
      this.#must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      // IPv6 only adds noise (router solicitations, DAD) to every capture and TUN device.
      this.#must('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    }
    const veth = (a: string, an: string, b: string, bn: string) =>
      this.#must('ip', ['link', 'add', 'name', an, 'netns', a, 'type', 'veth', 'peer', 'name', bn, 'netns', b]);
    const bridge = (ns: string, name: string) => {
      this.#must('ip', ['-n', ns, 'link', 'add', 'name', name, 'type', 'bridge']);
      this.#must('ip', ['-n', ns, 'link', 'set', name, 'up']);
    };
    const port = (ns: string, dev: string, br: string) => {
      this.#must('ip', ['-n', ns, 'link', 'set', dev, 'master', br]);
      this.#must('ip', ['-n', ns, 'link', 'set', dev, 'up']);
    };
    const addr = (ns: string, dev: string, cidr: string) => this.#must('ip', ['-n', ns, 'addr', 'add', cidr, 'dev', dev]);
    const up = (ns: string, dev: string) => this.#must('ip', ['-n', ns, 'link', 'set', dev, 'up']);
    const host = (ns: string, cidr: string, via: string) => {
      addr(ns, 'eth0', cidr);
      up(ns, 'eth0');
      this.#must('ip', ['-n', ns, 'route', 'add', 'default', 'via', via]);
    };

    // LAN 1: h1, h2 on gw1's bridge lan0.
    bridge(n.gw1, 'lan0');
    veth(n.h1, 'eth0', n.gw1, 'h1');
    veth(n.h2, 'eth0', n.gw1, 'h2');
    port(n.gw1, 'h1', 'lan0');
    port(n.gw1, 'h2', 'lan0');
    addr(n.gw1, 'lan0', `${LAB.lan1.gateway}/24`);
    host(n.h1, `${LAB.lan1.h1}/24`, LAB.lan1.gateway);
    host(n.h2, `${LAB.lan1.h2}/24`, LAB.lan1.gateway);
    // LAN 2: h3 on gw2's bridge lan0.
    bridge(n.gw2, 'lan0');
    veth(n.h3, 'eth0', n.gw2, 'h3');
    port(n.gw2, 'h3', 'lan0');
    addr(n.gw2, 'lan0', `${LAB.lan2.gateway}/24`);
    host(n.h3, `${LAB.lan2.h3}/24`, LAB.lan2.gateway);
    // The WAN segment: both gateways on the internet router's bridge.
    bridge(n.inet, 'wan');
    veth(n.gw1, 'wan0', n.inet, 'gw1');
    veth(n.gw2, 'wan0', n.inet, 'gw2');
    port(n.inet, 'gw1', 'wan');
    port(n.inet, 'gw2', 'wan');
    addr(n.inet, 'wan', `${LAB.wan.router}/24`);
    up(n.gw1, 'wan0');
    up(n.gw2, 'wan0');
    // The servers behind the router.
    veth(n.inet, 'srv0', n.srv, 'eth0');
    addr(n.inet, 'srv0', `${LAB.servers.router}/24`);
    up(n.inet, 'srv0');
    addr(n.srv, 'eth0', `${LAB.servers.a}/24`);
    addr(n.srv, 'eth0', `${LAB.servers.b}/24`);
    up(n.srv, 'eth0');
    this.#must('ip', ['-n', n.srv, 'route', 'add', 'default', 'via', LAB.servers.router]);
    for (const ns of [n.gw1, n.gw2, n.inet]) this.#must('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    // Start both gateways with no NAT at all: the tests choose.
    this.useMasqAddressing('gw1');
    this.useMasqAddressing('gw2');
  }

  // ------------------------------------------------------------ gateways

  /**
   * wan0 for a masq gateway: the host's own address (.2 / .12), no NAT rules;
   * masq will own the public address and answer ARP for it.
   */
  useMasqAddressing(gw: GatewayRole): void {
    this.#resetWan(gw, LAB[gw].host);
  }

  /** wan0 for the kernel's NAT: the public address on wan0, and an nftables masquerade rule. */
  useKernelNat(gw: GatewayRole, mode: KernelNatMode = 'masquerade', extraRules: string[] = []): void {
    this.#resetWan(gw, LAB[gw].public);
    const ns = this.names[gw];
    const script = [
      'table ip masq_lab_nat {',
      '  chain prerouting { type nat hook prerouting priority dstnat; policy accept;',
      ...extraRules.map((r) => `    ${r}`),
      '  }',
      '  chain postrouting { type nat hook postrouting priority srcnat; policy accept;',
      `    oifname "wan0" ${mode}`,
      '  }',
      '}',
    ].join('\n');
    const file = join(this.dir, `${gw}-nat.nft`);
    writeFileSync(file, script);
    this.#must('ip', ['netns', 'exec', ns, 'nft', '-f', file]);
  }

  /**
   * Attaches the kernel's SIP helper (nf_conntrack_sip / nf_nat_sip) to SIP
   * traffic from the LAN, by explicit `ct helper set` rules (the kernel no
   * longer attaches helpers by port). Call after useKernelNat; the next
   * useKernelNat or useMasqAddressing removes it.
   */
  useKernelSipHelper(gw: GatewayRole, port = 5060): void {
    const script = [
      'table ip masq_lab_helpers {',
      '  ct helper sip-udp { type "sip" protocol udp; l3proto ip; }',
      '  ct helper sip-tcp { type "sip" protocol tcp; l3proto ip; }',
      '  chain prerouting { type filter hook prerouting priority filter; policy accept;',
      `    iifname "lan0" udp dport ${port} ct helper set "sip-udp"`,
      `    iifname "lan0" tcp dport ${port} ct helper set "sip-tcp"`,
      '  }',
      '}',
    ].join('\n');
    const file = join(this.dir, `${gw}-helpers.nft`);
    writeFileSync(file, script);
    this.#must('ip', ['netns', 'exec', this.names[gw], 'nft', '-f', file]);
  }

  #resetWan(gw: GatewayRole, address: string): void {
    const ns = this.names[gw];
    this.exec(gw, ['nft', 'delete', 'table', 'ip', 'masq_lab_nat'], { allowFail: true });
    this.exec(gw, ['nft', 'delete', 'table', 'ip', 'masq_lab_helpers'], { allowFail: true });
    this.#must('ip', ['-n', ns, 'addr', 'flush', 'dev', 'wan0']);
    this.#must('ip', ['-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'wan0']);
    this.#must('ip', ['-n', ns, 'route', 'replace', 'default', 'via', LAB.wan.router]);
    // Old conntrack entries (kernel NAT) and neighbours (the public address moved) would lie to the next test.
    this.exec(gw, ['conntrack', '-F'], { allowFail: true });
    this.exec('inet', ['ip', 'neigh', 'flush', 'dev', 'wan'], { allowFail: true });
  }

  /**
   * A masq gateway config for gwN with `extra` YAML appended (mapping, forwards, ...).
   * `state`: the state section's YAML; off by default, so each test starts clean.
   */
  masqConfig(gw: GatewayRole, extra = '', statusPort = 8787, state = 'false'): string {
    const lan = gw === 'gw1' ? LAB.lan1 : LAB.lan2;
    return [
      'interfaces:',
      '  inside: [lan0]',
      '  outside: wan0',
      'publicDelivery: proxy-arp',
      `inside: [${lan.prefix}]`,
      `public: [${LAB[gw].public}]`,
      'status:',
      `  listen: 127.0.0.1:${statusPort}`,
      'log:',
      '  level: debug',
      `state: ${state}`,
      extra,
    ].join('\n');
  }

  /** Writes a config file into the lab's temporary directory; returns its path. */
  writeFile(name: string, text: string): string {
    const file = join(this.dir, name);
    writeFileSync(file, text);
    return file;
  }

  /** Starts `masq gateway` in a gateway namespace and waits until it says it started. */
  async startMasq(gw: GatewayRole, configYaml: string, timeoutMs = 30_000): Promise<LabProcess> {
    const file = this.writeFile(`${gw}-${Date.now()}.yaml`, configYaml);
    const p = this.spawn(gw, this.masqArgv('gateway', '--config', file), `masq gateway (${gw})`);
    await p.waitFor(/"msg":"gateway started"/, timeoutMs);
    return p;
  }

  /**
   * The command line of `masq ...args`: `node --import tsx src/cli/main.ts`
   * for tests, the compiled `dist/cli/main.js` (what the installed command
   * runs) for benchmarks; see masqBuild(). MASQ_LAB_NODE_ARGS adds node flags
   * (space-separated), e.g. `--cpu-prof --cpu-prof-dir=/tmp/p` to profile the
   * gateway under a benchmark (node refuses --cpu-prof in NODE_OPTIONS).
   */
  masqArgv(...args: string[]): string[] {
    const extra = (process.env.MASQ_LAB_NODE_ARGS ?? '').split(' ').filter((a) => a.length > 0);
    if (masqBuild() === 'dist') return [process.execPath, ...extra, compiledCli(), ...args];
    return [process.execPath, ...extra, '--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), ...args];
  }

  // ------------------------------------------------------------ running things

  /** Runs a command in a namespace to completion (bounded). */
  exec(role: Role, argv: readonly string[], options: { timeoutMs?: number; allowFail?: boolean; input?: string } = {}): RunResult {
    const r = spawnSync('ip', ['netns', 'exec', this.names[role], ...argv], {
      cwd: repoRoot,
      encoding: 'utf8',
      timeout: options.timeoutMs ?? 30_000,
      input: options.input,
      maxBuffer: 64 * 1024 * 1024,
    });
    const result = { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
    if (!options.allowFail && (r.status !== 0 || r.error)) {
      throw new Error(`[${role}] ${argv.join(' ')} failed (${r.error?.message ?? r.status}):\n${result.stdout}${result.stderr}`);
    }
    return result;
  }

  /** Starts a long-running process in a namespace; destroy() stops it if the test did not. */
  spawn(role: Role, argv: readonly string[], label = argv.join(' ')): LabProcess {
    const p = new LabProcess(this.names[role], argv, `[${role}] ${label}`);
    this.#processes.push(p);
    return p;
  }

  #must(cmd: string, args: string[]): void {
    const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 15_000 });
    if (r.status !== 0 || r.error) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr || r.error?.message}`);
  }

  /** Stops every process started here (by pid) and deletes the namespaces; safe to call twice. */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    await Promise.all(this.#processes.map((p) => p.stop('SIGTERM', 3000).catch(() => undefined)));
    this.#deleteNamespaces();
  }

  #deleteNamespaces(): void {
    for (const ns of Object.values(this.names)) spawnSync('ip', ['netns', 'delete', ns], { stdio: 'ignore', timeout: 15_000 });
    rmSync(this.dir, { recursive: true, force: true });
  }
}
