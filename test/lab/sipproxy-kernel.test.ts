/**
 * `masq sip-proxy` handing latched streams to the kernel (nftables NAT and
 * conntrack), with phones behind kernel NATs (test/lab/topology.ts):
 *
 *   a. a call whose media the kernel forwards once both legs are latched:
 *      the relay's sockets see only the first packets, the rest is counted
 *      by the kernel, both phones get their media, and after the BYE the
 *      table's maps, its pinholes and conntrack hold nothing of the call;
 *   b. hold and resume: each re-INVITE takes the stream back to user space
 *      (the latches learn again) and the kernel gets it again afterwards;
 *   c. a third host spraying the relay ports while the kernel forwards:
 *      nothing reaches a phone.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { prerequisites } from './prereq.js';
import { LAB, LabTopology, sleep, type LabProcess, type Role } from './topology.js';
import { Capture, exitCodes, fixture, G711A_PCAP, udpDatagrams } from './fixtures/sip-lab.js';
import { ATTACK_SSRC } from './fixtures/sipproxy-attacker.js';
import { answeringPhone, callingPhone, nftKernelElements, nftLivePorts, PROXY, proxyConfig, proxyJson, registerPhone, SSRC_A, SSRC_B, ssrcText, startProxy, waitForCall, writeCallMedia, finishLab, mediaTo as media, sentFrom as sent } from './fixtures/sipproxy-lab.js';

const pre = prerequisites({ root: true, tools: ['ip', 'nft', 'conntrack', 'ss', 'env', 'sipp', 'dumpcap', 'tshark', G711A_PCAP] });

const H1 = LAB.lan1.h1;
const H3 = LAB.lan2.h3;
/** About 5 s of G.711 each way. */
const PACKETS = 230;
/** See sipproxy-calls.test.ts: the first packets toward a phone behind a NAT are lost until it sends. */
const MIN_SHARE = 0.75;

describe('masq sip-proxy: in-kernel forwarding of latched streams', { skip: pre.skip }, () => {
  let lab: LabTopology;
  let proxy: LabProcess;

  before(async () => {
    pre.assert();
    lab = LabTopology.create('spk');
    writeCallMedia(lab, G711A_PCAP, PACKETS);
    lab.useKernelNat('gw1', 'masquerade');
    lab.useKernelNat('gw2', 'masquerade fully-random');
    proxy = await startProxy(lab, proxyConfig({ kernel: 'on' }));
  });

  after(() => finishLab(lab, proxy));


  async function captures(roles: Role[], name: string): Promise<Map<Role, Capture>> {
    const m = new Map<Role, Capture>();
    for (const r of roles) m.set(r, await Capture.start(lab, r, `${name}-${r}`));
    return m;
  }

  /** Conntrack entries to or from the relay's port range. */
  function relayConntrack(): string[] {
    const r = lab.exec('srv', ['conntrack', '-L', '-p', 'udp'], { allowFail: true });
    return r.stdout.split('\n').filter((l) => /(dport|sport)=30\d\d\d\b/.test(l));
  }

  function assertNothingLeft(): void {
    assert.deepEqual(proxyJson(lab, '/calls').calls, [], 'no call listed');
    assert.deepEqual(nftLivePorts(lab), [], 'no pinhole left');
    assert.equal(nftKernelElements(lab), 0, 'no NAT map element left');
    assert.deepEqual(relayConntrack(), [], 'no conntrack entry of a relay port left');
  }

  /** Polls the call's RTP forwarding mode while `proc` runs; returns the sequence of modes seen. */
  async function watchForwarding(proc: LabProcess): Promise<string[]> {
    const seen: string[] = [];
    await waitForCall(lab, 15_000);
    while (proc.running) {
      const calls = proxyJson(lab, '/calls').calls as Array<{ streams: Array<{ forwarding: string }> }>;
      const mode = calls[0]?.streams[0]?.forwarding;
      if (mode && seen[seen.length - 1] !== mode) seen.push(mode);
      await sleep(50);
    }
    return seen;
  }

  test('a. the kernel forwards a latched call; the relay sees only its first packets', async () => {
    assert.equal(await registerPhone(lab, 'h3', H3, { user: 'bob' }), 0);
    const before = proxyJson(lab, '/counters').relay;
    const caps = await captures(['h1', 'h3'], 'ka');
    const bob = await answeringPhone(lab, 'h3', H3, { user: 'bob' });
    const caller = callingPhone(lab, 'h1', H1, { to: 'bob', holdMs: 6000 });
    const watch = watchForwarding(caller);
    const codes = await exitCodes([caller, bob], 40_000);
    const modes = await watch;
    for (const c of caps.values()) await c.stop();
    assert.deepEqual(codes, [0, 0], `caller:\n${caller.errors().slice(-1500)}\nbob:\n${bob.errors().slice(-1500)}`);
    assert.ok(modes.includes('kernel'), `the stream went to the kernel (modes seen: ${modes.join(' ')})`);
    const toBob = media(caps.get('h3')!.file, H3, 6000, SSRC_A);
    const toCaller = media(caps.get('h1')!.file, H1, 6000, SSRC_B);
    assert.ok(toBob.length >= MIN_SHARE * PACKETS && toBob.length <= PACKETS, `bob got ${toBob.length} of ${PACKETS}`);
    assert.ok(toCaller.length >= MIN_SHARE * PACKETS && toCaller.length <= PACKETS, `the caller got ${toCaller.length} of ${PACKETS}`);
    assert.ok(toBob.every((d) => d.src === PROXY) && toCaller.every((d) => d.src === PROXY), 'the kernel sends from the relay address');
    const after = proxyJson(lab, '/counters').relay;
    const userSpace = after.packets - before.packets;
    const kernel = after.kernelPackets - before.kernelPackets;
    assert.ok(after.kernelInstalled - before.kernelInstalled >= 1, 'a pair was installed');
    assert.ok(kernel >= 0.6 * (toBob.length + toCaller.length), `the kernel counted ${kernel} of the ${toBob.length + toCaller.length} delivered`);
    assert.ok(userSpace < 0.3 * (toBob.length + toCaller.length), `user space forwarded only the first ${userSpace}`);
    assertNothingLeft();
  });

  test('b. hold and resume take the stream back to user space and give it to the kernel again', async () => {
    // Recordings shorter than the time to the resume: sipp plays the second only once the first is over.
    const HOLD_PACKETS = 100;
    writeCallMedia(lab, G711A_PCAP, HOLD_PACKETS);
    assert.equal(await registerPhone(lab, 'h3', H3, { user: 'bob' }), 0);
    const before = proxyJson(lab, '/counters').relay;
    const caps = await captures(['h1', 'h3'], 'kb');
    const bob = await answeringPhone(lab, 'h3', H3, { user: 'bob', scenario: 'sipproxy-uas-hold.xml' });
    const caller = callingPhone(lab, 'h1', H1, { to: 'bob', scenario: 'sipproxy-uac-hold.xml' });
    const codes = await exitCodes([caller, bob], 40_000);
    for (const c of caps.values()) await c.stop();
    assert.deepEqual(codes, [0, 0], `caller:\n${caller.errors().slice(-1500)}\nbob:\n${bob.errors().slice(-1500)}`);
    const toBob = media(caps.get('h3')!.file, H3, 6000, SSRC_A);
    const toCaller = media(caps.get('h1')!.file, H1, 6000, SSRC_B);
    const fromCaller = sent(caps.get('h1')!.file, H1, SSRC_A);
    const fromBob = sent(caps.get('h3')!.file, H3, SSRC_B);
    writeCallMedia(lab, G711A_PCAP, PACKETS);
    assert.ok(fromCaller > HOLD_PACKETS && fromBob > HOLD_PACKETS, `both phones played again after the resume (${fromCaller}, ${fromBob} sent)`);
    assert.ok(toBob.length >= MIN_SHARE * fromCaller && toBob.length <= fromCaller, `bob got ${toBob.length} of the ${fromCaller} the caller sent`);
    assert.ok(toCaller.length >= MIN_SHARE * fromBob && toCaller.length <= fromBob, `the caller got ${toCaller.length} of the ${fromBob} bob sent`);
    const after = proxyJson(lab, '/counters').relay;
    assert.ok(after.kernelInstalled - before.kernelInstalled >= 2, `installed ${after.kernelInstalled - before.kernelInstalled} times (again after a re-INVITE)`);
    assert.ok(after.kernelRemoved - before.kernelRemoved >= 2, `taken back ${after.kernelRemoved - before.kernelRemoved} times`);
    assertNothingLeft();
  });

  test('c. a third host spraying the relay ports while the kernel forwards: nothing reaches a phone', async () => {
    assert.equal(await registerPhone(lab, 'h3', H3, { user: 'bob' }), 0);
    const caps = await captures(['h1', 'h3'], 'kc');
    const bob = await answeringPhone(lab, 'h3', H3, { user: 'bob' });
    const caller = callingPhone(lab, 'h1', H1, { to: 'bob', holdMs: 6000 });
    const call = await waitForCall(lab, 15_000);
    const ports = (call.streams as Array<{ legs: Array<{ relayPort: number }> }>).flatMap((s) => s.legs.flatMap((l) => [l.relayPort, l.relayPort + 1]));
    const attacker = lab.spawn('inet', [process.execPath, '--import', 'tsx', fixture('sipproxy-attacker.ts'), PROXY, ports.join(','), '150', '20'], 'attacker');
    const codes = await exitCodes([caller, bob, attacker], 40_000);
    for (const c of caps.values()) await c.stop();
    assert.deepEqual(codes, [0, 0, 0], `caller:\n${caller.errors().slice(-1500)}\nbob:\n${bob.errors().slice(-1500)}`);
    const attack = JSON.parse(attacker.output.trim().split('\n').pop()!) as { sent: number; received: number };
    const injected = (file: string) => udpDatagrams(file).filter((d) => d.ssrc === ssrcText(ATTACK_SSRC));
    assert.deepEqual(injected(caps.get('h1')!.file), [], 'nothing injected reached the caller');
    assert.deepEqual(injected(caps.get('h3')!.file), [], 'nothing injected reached bob');
    assert.equal(attack.received, 0, 'nothing went to the attacker');
    assertNothingLeft();
  });
});
