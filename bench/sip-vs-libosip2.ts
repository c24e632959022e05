/**
 * masq's SIP codec against libosip2 (the parser siproxd is built on), in one
 * run: the same INVITE with SDP, the same fields rewritten (Via, Contact, o=,
 * c=, m= ports; Content-Length follows), serialised.
 *
 *   libosip2   bench/sip-libosip2.c, compiled here with gcc -O2: parse the
 *              message, rewrite, parse the SDP body, rewrite, serialise both
 *   codec      masq's processSipMessage (parse, rewrite, apply the edits)
 *   ALG path   the INVITE in an IPv4/UDP packet through NatEngine.process()
 *              with the SIP ALG: the codec plus call state, media port
 *              planning, four pinholes and the new packet (bench/sip-invite.ts)
 *
 * Each round runs the three back to back, each counting messages per second of
 * its own process's CPU time; the ratios are each round's masq over the same
 * round's libosip2, and their medians are reported. Before timing, both
 * outputs are checked to carry the same rewritten fields.
 *
 *   node --import tsx bench/sip-vs-libosip2.ts [--rounds 7] [--seconds 1] [--json]
 *
 * Needs gcc and libosip2-dev (Debian: apt-get install libosip2-dev).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { argValue, fmtRate, jsonOutput, median } from './harness.js';
import { algPath, checkedRewrite, message, PRIVATE_ADDRESS, PUBLIC_ADDRESS, run } from './sip-invite.js';

const rounds = argValue('rounds', 7);
const seconds = argValue('seconds', 1);
const SOURCE = fileURLToPath(new URL('./sip-libosip2.c', import.meta.url));
const CALLS_PER_ROUND = 8000;

function compile(dir: string): string {
  const binary = join(dir, 'sip-libosip2');
  const r = spawnSync('gcc', ['-O2', '-Wall', '-o', binary, SOURCE, '-losipparser2'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`gcc failed (is libosip2-dev installed?):\n${r.stderr}`);
  return binary;
}

function libosip2(binary: string, file: string, secs: number, print = false): { rate: number; output?: string } {
  const r = spawnSync(binary, [file, PRIVATE_ADDRESS, PUBLIC_ADDRESS, String(secs), ...(print ? ['--print'] : [])], { encoding: 'latin1' });
  if (r.status !== 0) throw new Error(`libosip2 harness failed: ${r.stderr}`);
  const m = /rate=(\d+)/.exec(r.stdout);
  if (!m) throw new Error(`libosip2 harness printed no rate: ${r.stdout}`);
  const out = /-----\n([\s\S]*)-----\n/.exec(r.stdout);
  return { rate: Number(m[1]), ...(out ? { output: out[1] } : {}) };
}

/** The fields both rewrites must agree on, read off the text. */
function rewrittenFields(text: string): Record<string, string> {
  const [head, body = ''] = text.split('\r\n\r\n');
  const header = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(head)?.[1]?.trim() ?? '';
  const sdp = (re: RegExp) => [...body.matchAll(re)].map((m) => m[1]).join(',');
  return {
    via: /SIP\/2\.0\/UDP\s+([^;\s]+)/.exec(header('Via'))?.[1] ?? '',
    contact: /<sip:([^;>]+)/.exec(header('Contact'))?.[1] ?? '',
    contentLengthMatchesBody: String(Number(header('Content-Length')) === Buffer.byteLength(body, 'latin1')),
    origin: sdp(/^o=\S+ \S+ \S+ IN IP4 (\S+)\r?$/gm),
    connection: sdp(/^c=IN IP4 (\S+)\r?$/gm),
    mediaPorts: sdp(/^m=\w+ (\d+) /gm),
  };
}

function main(): void {
  const dir = mkdtempSync(join(tmpdir(), 'masq-sip-libosip2-'));
  try {
    const binary = compile(dir);
    const file = join(dir, 'invite.sip');
    writeFileSync(file, message);
    const masqOut = Buffer.from(checkedRewrite().bytes).toString('latin1');
    const theirs = libosip2(binary, file, 0.01, true).output ?? '';
    const a = rewrittenFields(masqOut);
    const b = rewrittenFields(theirs);
    if (JSON.stringify(a) !== JSON.stringify(b) || a.contentLengthMatchesBody !== 'true' || a.via !== `${PUBLIC_ADDRESS}:5060`) {
      throw new Error(`the two rewrites differ:\nmasq     ${JSON.stringify(a)}\nlibosip2 ${JSON.stringify(b)}`);
    }
    const loadBefore = loadavg();
    run(1000); // warm the JIT
    algPath(CALLS_PER_ROUND, 0);
    const rows: { libosip2: number; codec: number; alg: number }[] = [];
    for (let i = 0; i < rounds; i++) {
      const theirsRate = libosip2(binary, file, seconds).rate;
      const codec = run(seconds * 1000).cpu;
      const alg = algPath(CALLS_PER_ROUND, (i + 1) * CALLS_PER_ROUND);
      rows.push({ libosip2: theirsRate, codec, alg });
      if (!jsonOutput) process.stderr.write(`  round ${i + 1}/${rounds}: libosip2 ${fmtRate(theirsRate)}, codec ${fmtRate(codec)}, ALG path ${fmtRate(alg)}\n`);
    }
    const result = {
      rounds,
      seconds,
      messageBytes: message.length,
      fields: a,
      libosip2: median(rows.map((r) => r.libosip2)),
      codec: median(rows.map((r) => r.codec)),
      alg: median(rows.map((r) => r.alg)),
      codecRatio: median(rows.map((r) => r.codec / r.libosip2)),
      algRatio: median(rows.map((r) => r.alg / r.libosip2)),
      rows,
      loadAverage: { before: loadBefore, after: loadavg() },
    };
    if (jsonOutput) return console.log(JSON.stringify(result));
    const la = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
    console.log(`SIP INVITE+SDP (${message.length} B) rewritten per CPU-second, median of ${rounds} rounds; load average ${la(result.loadAverage.before)} before, ${la(result.loadAverage.after)} after`);
    console.log(`  libosip2 (parse, rewrite, serialise)        ${fmtRate(result.libosip2)}`);
    console.log(`  masq codec (processSipMessage)              ${fmtRate(result.codec)}   codec / libosip2 ${result.codecRatio.toFixed(2)}`);
    console.log(`  masq ALG path (NatEngine.process + SIP ALG) ${fmtRate(result.alg)}   ALG path / libosip2 ${result.algRatio.toFixed(2)}`);
    console.log(`  (ratios: median of each round's ratio; fields checked equal: ${JSON.stringify(a)})`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
