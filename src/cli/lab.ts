/** `masq lab ...`: experiments on the simulated network. */
import type { Command } from 'commander';
import { formatNatTypes, runNatTypes } from '../lab/nat-types.js';

/** The `lab` command group, created once; other modules add subcommands to it. */
function labCommand(program: Command): Command {
  return (
    program.commands.find((c) => c.name() === 'lab') ??
    program.command('lab').description('experiments on the simulated network (no root, virtual time)')
  );
}

export function registerLabCommands(program: Command): void {
  labCommand(program)
    .command('nat-types')
    .description('measure what every mapping x filtering x port-allocation profile does, with the RFC 5780 probe in sim')
    .option('--json', 'print the rows as JSON')
    .option('--seed <n>', 'simulation seed', (v) => Number(v), 1)
    .option('--lifetime', 'also measure the UDP mapping lifetime (binary search, virtual time)')
    .option('--no-hairpin', 'configure the NATs without hairpinning')
    .action(async (o: { json?: boolean; seed: number; lifetime?: boolean; hairpin: boolean }) => {
      const rows = await runNatTypes({ seed: o.seed, lifetime: o.lifetime, hairpin: o.hairpin });
      process.stdout.write(o.json ? `${JSON.stringify(rows, null, 2)}\n` : `${formatNatTypes(rows)}\n`);
      if (rows.some((r) => !r.matches)) process.exitCode = 1;
    });
}
