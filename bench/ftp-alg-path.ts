/**
 * What the FTP ALG costs per passive download inside the engine, without
 * the TUN devices: one control connection through NatEngine.process()
 * carrying, per file, PASV, its 227, RETR, 150 and 226, and the file's data
 * connection (SYN, SYN-ACK, 4 KiB with FIN, FIN): the packets a passive
 * download sends through the gateway. Measured with the FTP ALG attached
 * and without it, alternating, in this process's CPU time (steadier than
 * wall time on a shared machine); the packets are built before the clock
 * starts. The difference is the ALG's share of bench/ftp-downloads.ts's
 * "masq CPU per file".
 *
 *   node --import tsx bench/ftp-alg-path.ts [--files 20000] [--runs 5] [--json]
 *   node --import tsx bench/ftp-alg-path.ts --cold [--files 600] [--runs 5] [--json]
 *   node --import tsx bench/ftp-alg-path.ts --lftp [--files 20000] [--runs 5] [--json]
 *
 * --lftp: per file what lftp's mget and vsftpd exchange in bench/ftp-downloads.ts
 * (PASV, 227, SIZE, 213, MDTM, 213, RETR, 150 with the file's name, 226,
 * and the bare ACKs of the control connection): nine messages a file, as
 * masq's counters count in the lab, against five in the default mix.
 *
 * --cold: the first `files` downloads of a fresh process (no warm-up run), each
 * measurement in its own child process, with and without the ALG alternating:
 * what a gateway just started pays while V8 compiles the path, which the lab
 * bench (a fresh gateway, 600 files) measures and the warm figure above does not.
 */
import { attachAlg, findAlg } from '../src/alg/registry.js';
import { NatEngine, Side } from '../src/nat/engine.js';
import { ManualClock } from '../src/util/clock.js';
import { parseIpv4 } from '../src/wire/address.js';
import { buildTcpPacket, TCP_ACK, TCP_FIN, TCP_PSH, TCP_SYN } from '../src/wire/tcp.js';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { argValue, cpuSeconds, jsonOutput, median } from './harness.js';

const COLD = process.argv.includes('--cold');
/** A child of --cold: one measurement ('alg' or 'none') in this fresh process, printed as a number. */
const ONE = process.argv.includes('--one') ? process.argv[process.argv.indexOf('--one') + 1] : undefined;
const FILES = argValue('files', COLD || ONE ? 600 : 20_000);
const RUNS = argValue('runs', 5);
const LFTP = process.argv.includes('--lftp');

const CLIENT = parseIpv4('10.0.0.2');
const SERVER = parseIpv4('198.51.100.10');
const PUBLIC = parseIpv4('203.0.113.1');
const text = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));
const EMPTY = new Uint8Array(0);
const FILE = new Uint8Array(4096);

interface Packet {
  bytes: Uint8Array;
  side: Side;
}

/** Every packet of `files` passive downloads over one control connection (after its handshake). */
function conversation(files: number): { handshake: Packet[]; perFile: Packet[][] } {
  let cseq = 1000;
  let sseq = 5000;
  const control = (out: boolean, flags: number, payload: Uint8Array): Packet => {
    const p = out
      ? buildTcpPacket({ src: CLIENT, dst: SERVER, srcPort: 40000, dstPort: 21, seq: cseq, ack: sseq, flags, window: 65535, payload })
      : buildTcpPacket({ src: SERVER, dst: PUBLIC, srcPort: 21, dstPort: 40000, seq: sseq, ack: cseq, flags, window: 65535, payload });
    if (out) cseq += payload.length;
    else sseq += payload.length;
    return { bytes: p, side: out ? Side.Inside : Side.Outside };
  };
  const handshake = [control(true, TCP_SYN, EMPTY)];
  cseq++;
  handshake.push(control(false, TCP_SYN | TCP_ACK, EMPTY));
  sseq++;
  const perFile: Packet[][] = [];
  for (let i = 0; i < files; i++) {
    const dataPort = 40000 + (i % 10000);
    const clientPort = 30000 + (i % 30000);
    const pasv = `227 Entering Passive Mode (198,51,100,10,${dataPort >> 8},${dataPort & 255}).\r\n`;
    const data = (out: boolean, flags: number, seq: number, ack: number, payload: Uint8Array): Packet => ({
      bytes: out
        ? buildTcpPacket({ src: CLIENT, dst: SERVER, srcPort: clientPort, dstPort: dataPort, seq, ack, flags, window: 65535, payload })
        : buildTcpPacket({ src: SERVER, dst: PUBLIC, srcPort: dataPort, dstPort: clientPort, seq, ack, flags, window: 65535, payload }),
      side: out ? Side.Inside : Side.Outside,
    });
    if (LFTP) {
      const ack = (out: boolean): Packet => control(out, TCP_ACK, EMPTY);
      perFile.push([
        control(true, TCP_ACK | TCP_PSH, text('PASV\r\n')),
        control(false, TCP_ACK | TCP_PSH, text(pasv)),
        control(true, TCP_ACK | TCP_PSH, text(`SIZE f${i}.bin\r\n`)),
        control(false, TCP_ACK | TCP_PSH, text('213 4096\r\n')),
        control(true, TCP_ACK | TCP_PSH, text(`MDTM f${i}.bin\r\n`)),
        control(false, TCP_ACK | TCP_PSH, text('213 20261207093400\r\n')),
        data(true, TCP_SYN, 1, 0, EMPTY),
        data(false, TCP_SYN | TCP_ACK, 1, 2, EMPTY),
        data(true, TCP_ACK, 2, 2, EMPTY),
        control(true, TCP_ACK | TCP_PSH, text(`RETR f${i}.bin\r\n`)),
        control(false, TCP_ACK | TCP_PSH, text(`150 Opening BINARY mode data connection for f${i}.bin (4096 bytes).\r\n`)),
        ack(true),
        data(false, TCP_ACK | TCP_PSH | TCP_FIN, 2, 2, FILE),
        data(true, TCP_ACK | TCP_FIN, 2, 4099, EMPTY),
        data(false, TCP_ACK, 4099, 3, EMPTY),
        control(false, TCP_ACK | TCP_PSH, text('226 Transfer complete.\r\n')),
        ack(true),
      ]);
      continue;
    }
    perFile.push([
      control(true, TCP_ACK | TCP_PSH, text('PASV\r\n')),
      control(false, TCP_ACK | TCP_PSH, text(pasv)),
      data(true, TCP_SYN, 1, 0, EMPTY),
      data(false, TCP_SYN | TCP_ACK, 1, 2, EMPTY),
      control(true, TCP_ACK | TCP_PSH, text(`RETR f${i}.bin\r\n`)),
      control(false, TCP_ACK | TCP_PSH, text('150 Opening BINARY mode data connection.\r\n')),
      data(false, TCP_ACK | TCP_PSH | TCP_FIN, 2, 2, FILE),
      data(true, TCP_ACK | TCP_FIN, 2, 4099, EMPTY),
      control(false, TCP_ACK | TCP_PSH, text('226 Transfer complete.\r\n')),
    ]);
  }
  return { handshake, perFile };
}

/** CPU µs per file of `files` downloads through a fresh engine. */
function run(withAlg: boolean): number {
  const clock = new ManualClock(0);
  const engine = new NatEngine({ inside: ['10.0.0.0/24'], public: ['203.0.113.1'] }, { clock });
  if (withAlg) attachAlg(engine, findAlg('ftp')!);
  const { handshake, perFile } = conversation(FILES);
  for (const p of handshake) engine.process(p.bytes, p.side);
  const t0 = cpuSeconds();
  for (const packets of perFile) {
    for (const p of packets) engine.process(p.bytes, p.side);
    clock.advance(1);
  }
  const spent = cpuSeconds() - t0;
  return (spent / FILES) * 1e6;
}

/** One cold measurement in a fresh process (same node flags, so under tsx or compiled alike). */
function coldRun(withAlg: boolean): number {
  const out = execFileSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--one', withAlg ? 'alg' : 'none', '--files', String(FILES), ...(LFTP ? ['--lftp'] : [])], { encoding: 'utf8' });
  return Number(out.trim());
}

if (ONE !== undefined) {
  process.stdout.write(`${run(ONE === 'alg')}\n`);
} else {
  const alg: number[] = [];
  const none: number[] = [];
  if (!COLD) {
    run(true); // warm-up
    run(false);
  }
  for (let r = 0; r < RUNS; r++) {
    alg.push(COLD ? coldRun(true) : run(true));
    none.push(COLD ? coldRun(false) : run(false));
  }
  const result = {
    files: FILES,
    mix: LFTP ? 'lftp' : 'five messages',
    runs: RUNS,
    cold: COLD,
    withAlgUsPerFile: Number(median(alg).toFixed(1)),
    withoutAlgUsPerFile: Number(median(none).toFixed(1)),
    algUsPerFile: Number((median(alg) - median(none)).toFixed(1)),
    perRun: { withAlg: alg.map((x) => Number(x.toFixed(1))), without: none.map((x) => Number(x.toFixed(1))) },
  };
  process.stdout.write(
    jsonOutput
      ? `${JSON.stringify(result)}\n`
      : `engine CPU per passive download (${FILES} files${LFTP ? ", lftp's messages" : ''}, ${COLD ? 'each run a fresh process, ' : ''}median of ${RUNS}): with the FTP ALG ${result.withAlgUsPerFile} µs, without ${result.withoutAlgUsPerFile} µs; the ALG ${result.algUsPerFile} µs\n`,
  );
}
