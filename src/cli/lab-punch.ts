/**
 * `masq lab punch-matrix`: hole punching between every pair of NAT profiles in
 * the simulator (the real masq NAT engine in the boxes, the real punching
 * client on the hosts, virtual time), each cell against its expected outcome.
 */
import type { Command } from 'commander';
import { formatMatrix, runMatrix } from '../lab/punch/matrix.js';
import { PUNCH_PROFILES, punchProfile } from '../lab/punch/profiles.js';
import { CliError } from './errors.js';
import { intOption } from './rendezvous-common.js';

interface MatrixCliOptions {
  json?: boolean;
  seeds: number;
  birthdaySeeds?: number;
  profiles?: string;
  specials: boolean;
}

/** The `lab` command group, shared with other lab subcommands registered elsewhere. */
function labGroup(program: Command): Command {
  return program.commands.find((c) => c.name() === 'lab') ?? program.command('lab').description('simulated and real test networks');
}

export function registerLabPunchCommands(program: Command): void {
  labGroup(program)
    .command('punch-matrix')
    .description('punch between every pair of NAT profiles in the simulator and print the matrix of outcomes')
    .option('--json', 'print the cells as JSON')
    .option('--seeds <n>', 'runs per cell (seeds 1..n)', intOption('--seeds', 1, 1000), 3)
    .option('--birthday-seeds <n>', 'runs per birthday cell (default max(seeds, 20))', intOption('--birthday-seeds', 1, 10000))
    .option('--profiles <names>', `comma-separated subset of: ${PUNCH_PROFILES.map((p) => p.name).join(', ')}`)
    .option('--no-specials', 'skip the special scenarios (same LAN, carrier NAT hairpin, 20-second timeouts)')
    .action(async (o: MatrixCliOptions) => {
      let profiles = PUNCH_PROFILES;
      if (o.profiles) {
        try {
          profiles = o.profiles.split(',').map((n) => punchProfile(n.trim()));
        } catch (err) {
          throw new CliError((err as Error).message);
        }
      }
      const progress = !o.json && process.stderr.isTTY;
      const m = await runMatrix({
        seeds: o.seeds,
        ...(o.birthdaySeeds ? { birthdaySeeds: o.birthdaySeeds } : {}),
        profiles,
        specials: o.specials,
        onCell: progress ? (c) => process.stderr.write(`\r${c.a} x ${c.b}                    `) : undefined,
      });
      if (progress) process.stderr.write('\r\x1b[K');
      if (o.json) process.stdout.write(`${JSON.stringify(m, null, 2)}\n`);
      else process.stdout.write(`${formatMatrix(m)}\n`);
      const missed = [...m.cells, ...m.specials].filter((c) => (c.expected === 'birthday' ? c.hits < 0.95 * c.runs : c.hits < c.runs));
      if (missed.length) process.exitCode = 1;
    });
}
