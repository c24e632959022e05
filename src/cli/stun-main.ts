#!/usr/bin/env node
/**
 * `masq stun ...` on its own, until the main CLI routes to it:
 * `node --import tsx src/cli/stun-main.ts stun serve --listen 127.0.0.1:3478`.
 */
import { Command } from 'commander';
import { registerStunCommands } from './stun.js';

const program = new Command('masq');
program.showHelpAfterError();
registerStunCommands(program);
program.parseAsync(process.argv).catch((e: unknown) => {
  process.stderr.write(`masq: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(2);
});
