/**
 * `masq lab cuseeme ...`: CU-SeeMe test peers for checking a gateway without
 * 1990s software. `conference` runs the three-workstation conference in the
 * simulator with masq's ALG, the 1999 behaviour and no ALG side by side;
 * `reflector` and `client` run the same peers on real UDP sockets (the lab
 * tests start them in network namespaces), each printing a JSON report when
 * it stops (after --seconds, or on SIGINT/SIGTERM).
 */
import type { Command } from 'commander';
import { CuSeeMeClient } from '../lab/cuseeme/client.js';
import { CuSeeMeReflector } from '../lab/cuseeme/reflector.js';
import { CUSEEME_PORT, formatConference, runCuSeeMeScenario, threeBehindOneNat } from '../lab/cuseeme/scenario.js';
import { bindNodeUdp } from '../net/node-udp.js';
import { parseEndpoint } from '../net/udp.js';
import { systemScheduler } from '../util/clock.js';
import { tryParseIpv4 } from '../wire/address.js';
import { CliError } from './errors.js';
import { intOption, untilSignal } from './rendezvous-common.js';

function labGroup(program: Command): Command {
  return program.commands.find((c) => c.name() === 'lab') ?? program.command('lab').description('simulated and real test networks');
}

const MODES = [
  ['multi-user', "masq's CU-SeeMe ALG"],
  ['historical', 'the 1999 modules (ip_masq_cuseeme, alias_cuseeme)'],
  ['none', 'no ALG'],
] as const;

/** Resolves with why to stop: `seconds` passed (0: no limit), SIGINT/SIGTERM, or `done` resolved. */
function until(seconds: number, done?: Promise<string>): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const waits = [untilSignal()];
  if (seconds > 0) waits.push(new Promise<string>((r) => (timer = setTimeout(() => r('time'), seconds * 1000))));
  if (done) waits.push(done);
  return Promise.race(waits).finally(() => clearTimeout(timer));
}

function address(text: string): string {
  if (tryParseIpv4(text) === null) throw new CliError(`--address: expected an IPv4 address, got ${JSON.stringify(text)}`);
  return text;
}

export function registerLabCuSeeMeCommands(program: Command): void {
  const cu = labGroup(program).command('cuseeme').description('CU-SeeMe test peers: a conference in the simulator, or a reflector and clients on real sockets');

  cu.command('conference')
    .description('3 workstations behind one NAT and 2 internet clients on one reflector, in the simulator: masq, the 1999 ALG and no ALG side by side')
    .option('--seed <n>', 'simulation seed', intOption('--seed', 0), 1)
    .option('--json', 'print the reports as JSON')
    .action(async (o: { seed: number; json?: boolean }) => {
      const names = threeBehindOneNat('multi-user').clients.map((c) => c.name);
      const out: string[] = [];
      const json: Record<string, unknown> = {};
      for (const [alg, label] of MODES) {
        const r = await runCuSeeMeScenario({ ...threeBehindOneNat(alg), seed: o.seed });
        json[alg] = r;
        out.push(`${label}: frames received / sent (ok: from a participant of its own that lists the receiver; merged: under one endpoint with others)`, formatConference(r, names), '');
      }
      process.stdout.write(o.json ? `${JSON.stringify(json, null, 2)}\n` : `a, b, c: 10.0.0.2-4 behind 203.0.113.1; x, y on the internet\n\n${out.join('\n')}`);
    });

  cu.command('reflector')
    .description('a CU-SeeMe reflector on a real UDP socket; prints its participants and counters as JSON when it stops')
    .option('--address <ip>', 'address to bind', '0.0.0.0')
    .option('--port <n>', 'UDP port', intOption('--port', 1, 65535), CUSEEME_PORT)
    .option('--seconds <n>', 'stop after this long (0: at SIGINT/SIGTERM)', intOption('--seconds', 0), 0)
    .option('--idle <s>', 'forget a participant after this long without a packet', intOption('--idle', 1), 30)
    .action(async (o: { address: string; port: number; seconds: number; idle: number }) => {
      const socket = await bindNodeUdp({ address: address(o.address), port: o.port }).catch((err: Error) => {
        throw new CliError(`cannot bind ${o.address}:${o.port}: ${err.message}`);
      });
      const reflector = new CuSeeMeReflector(socket, systemScheduler, { idleMs: o.idle * 1000 });
      process.stdout.write(`reflector listening on ${o.address}:${o.port}\n`);
      const why = await until(o.seconds);
      process.stdout.write(`${JSON.stringify({ stopped: why, ...reflector.stats() })}\n`);
      reflector.close();
    });

  cu.command('client')
    .description('a CU-SeeMe client on a real UDP socket; prints what it received from whom as JSON when it stops')
    .requiredOption('--name <name>', 'user name (sent in OpenContinues and frames)')
    .requiredOption('--address <ip>', 'its own address: bound, and written in its header')
    .option('--port <n>', 'UDP port, bound and written in its header', intOption('--port', 1, 65535), CUSEEME_PORT)
    .option('--to <ip:port>', 'reflector or peer to call (port default 7648); without it: wait for a call')
    .option('--frames <n>', 'frames to send', intOption('--frames', 0, 1_000_000), 20)
    .option('--frame-ms <n>', 'milliseconds between frames', intOption('--frame-ms', 1, 60_000), 100)
    .option('--first-frame-ms <n>', 'milliseconds before the first frame', intOption('--first-frame-ms', 0, 600_000), 1000)
    .option('--wait-for <n>', 'start the frames as soon as this many other participants are known (or at --first-frame-ms)', intOption('--wait-for', 0, 1000), 0)
    .option('--linger <s>', 'after the last frame, keep listening this long, then stop', intOption('--linger', 0, 3600), 3)
    .option('--seconds <n>', 'stop after this long whatever happens (0: no limit)', intOption('--seconds', 0), 0)
    .action(async (o: { name: string; address: string; port: number; to?: string; frames: number; frameMs: number; firstFrameMs: number; waitFor: number; linger: number; seconds: number }) => {
      let target: { addr: string; port: number } | undefined;
      if (o.to !== undefined) {
        try {
          const e = parseEndpoint(o.to, CUSEEME_PORT);
          target = { addr: address(e.address), port: e.port };
        } catch (err) {
          throw new CliError(`--to: ${(err as Error).message}`);
        }
      }
      const socket = await bindNodeUdp({ address: address(o.address), port: o.port }).catch((err: Error) => {
        throw new CliError(`cannot bind ${o.address}:${o.port}: ${err.message}`);
      });
      const client = new CuSeeMeClient(socket, systemScheduler, {
        name: o.name,
        own: { addr: o.address, port: o.port },
        target,
        frames: o.frames,
        frameMs: o.frameMs,
        firstFrameMs: o.firstFrameMs,
        waitFor: o.waitFor,
      });
      const finished = new Promise<string>((resolve) => client.onDone(() => setTimeout(() => resolve('done'), o.linger * 1000)));
      client.start();
      process.stdout.write(`client ${o.name} started on ${o.address}:${o.port}\n`);
      const why = await until(o.seconds, finished);
      client.stop();
      process.stdout.write(`${JSON.stringify({ stopped: why, ...client.report() })}\n`);
      client.close();
    });
}
