#!/usr/bin/env node
// The package's install step: builds the native TUN addon (native/tun.cc)
// with node-gyp, which only `masq gateway` needs. Where it cannot be built
// (no compiler, not Linux) the install still succeeds: the NAT engine, the
// simulator, pcap translate, STUN, rendezvous and relay are plain
// JavaScript, and `masq gateway` says what is missing when it starts.
// MASQ_REQUIRE_NATIVE=1 makes a failed build fail the install.
import { spawnSync } from 'node:child_process';

const required = process.env.MASQ_REQUIRE_NATIVE === '1';
if (process.platform !== 'linux' && !required) {
  process.stderr.write(`masq: the TUN addon is for Linux only; skipped on ${process.platform} (masq gateway will not run here)\n`);
  process.exit(0);
}
// npm hands lifecycle scripts the path of its own node-gyp.
const gyp = process.env.npm_config_node_gyp;
const r = gyp ? spawnSync(process.execPath, [gyp, 'rebuild'], { stdio: 'inherit' }) : spawnSync('node-gyp', ['rebuild'], { stdio: 'inherit' });
if (r.status === 0) process.exit(0);
const why = r.error ? r.error.message : `node-gyp exited with ${r.status}`;
process.stderr.write(
  `masq: the native TUN addon was not built (${why}).\n` +
    '  Everything but `masq gateway` works without it. To build it later: install a C++ compiler,\n' +
    '  make and python3, then run `npm run build:native` in the masq package.\n',
);
process.exit(required ? 1 : 0);
