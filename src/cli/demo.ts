/** `masq demo`: the main job: the gateway on a simulated network, no root. */
import type { Command } from 'commander';
import { formatDemo, runDemo } from '../lab/demo.js';

export function registerDemoCommands(program: Command): void {
  program
    .command('demo')
    .description('run the masq gateway on a simulated network (virtual time, no root) and report what works')
    .option('--seed <n>', 'simulation seed', (v) => Number(v), 1)
    .option('--json', 'print the report as JSON')
    .action(async (o: { seed: number; json?: boolean }) => {
      const report = await runDemo({ seed: o.seed });
      process.stdout.write(o.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatDemo(report)}\n`);
      if (report.steps.some((s) => !s.ok)) process.exitCode = 1;
    });
}
