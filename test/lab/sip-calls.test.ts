/**
 * SIP calls with real peers (sipp, baresip) through `masq gateway` with the
 * SIP ALG, and the same calls through the kernel's NAT with its SIP helper
 * (nftables masquerade + nf_conntrack_sip / nf_nat_sip attached by an explicit
 * `ct helper set` rule), in the same lab (test/lab/topology.ts) and run. The
 * results are printed side by side at the end (docs/sip.md keeps a copy).
 *
 *   a. a sipp UAC on h1 calls a sipp UAS on the internet, over UDP and TCP;
 *      each side plays RTP (g711a.pcap) to the address in the other's SDP;
 *   b. an incoming call: a sipp phone on h1 registers, then a caller on the
 *      registrar's address calls it from another source port, so only the
 *      registration pinhole can admit the INVITE;
 *   c. baresip on h1 (8 kHz WAV through aufile) calls a sipp UAS;
 *   d. two phones (h1, h2) with the same SIP port and the same media port call
 *      the same UAS at the same time.
 *
 * Media is counted by dumpcap captures read back with tshark on both ends,
 * never by the peers' own reports. masq must pass every case; the kernel's
 * results are recorded, not asserted (it fails d, see kernel-lab.md).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { prerequisites } from './prereq.js';
import { LAB, LabTopology, type Role } from './topology.js';
import { ComparisonTable, tunMissing } from './fixtures/gateway-probes.js';
import {
  baresipHome,
  Capture,
  countByFlow,
  exitCodes,
  fixture,
  G711A_PCAP,
  pcapPacketCount,
  rtpSsrcs,
  SIP_NATS,
  SipGateway,
  sipMessages,
  sipp,
  udpDatagrams,
  waitListening,
  type Datagram,
  type SipNat,
  type SipRecord,
  type SippProcess,
} from './fixtures/sip-lab.js';
import { writeSineWav8k } from './fixtures/sip-wav.js';
import { writeWithSsrc } from './fixtures/sip-rtp-pcap.js';

const pre = prerequisites({ root: true, tools: ['ip', 'nft', 'conntrack', 'ss', 'env', 'sipp', 'baresip', 'dumpcap', 'tshark', G711A_PCAP] });
const tun = tunMissing();
const skip = pre.skip || (tun !== undefined && process.env.CI !== 'true' ? tun : false);

const SRV = LAB.servers.a;
const PUB = LAB.gw1.public;
const H1 = LAB.lan1.h1;
const H2 = LAB.lan1.h2;
const NATS = SIP_NATS;
type Nat = SipNat;

const table = new ComparisonTable([...NATS]);
/** Packets in g711a.pcap: what each side of a sipp call should receive. */
let streamPackets = 0;
/** The SSRC of g711a.pcap (stream A) and of its copy the UAS plays to calls for "bob" (stream B). */
let ssrcA = '';
const SSRC_B = 0x0b0b0b0b;
const ssrcB = `0x${SSRC_B.toString(16).padStart(8, '0')}`;
/** At least this share of a stream must arrive (veths under load may drop a few). */
const MIN_SHARE = 0.9;

const ipRe = (a: string) => a.replace(/\./g, '\\.');

describe('SIP calls with sipp and baresip: masq next to the kernel SIP helper', { skip }, () => {
  let lab: LabTopology;
  let gateway: SipGateway;

  before(() => {
    pre.assert();
    if (tun) assert.fail(`TUN gateway prerequisite: ${tun}`);
    streamPackets = pcapPacketCount(G711A_PCAP);
    assert.ok(streamPackets > 100, `${G711A_PCAP} holds ${streamPackets} packets`);
    [ssrcA] = rtpSsrcs(G711A_PCAP);
    assert.ok(ssrcA && ssrcA !== ssrcB, `SSRC of ${G711A_PCAP}: ${ssrcA}`);
    lab = LabTopology.create('sip');
    gateway = new SipGateway(lab);
    // sip-uas-media.xml plays it to calls for "bob"; sipp runs in the lab directory.
    writeWithSsrc(G711A_PCAP, join(lab.dir, 'sip-stream-b.pcap'), SSRC_B);
  });

  after(async () => {
    await gateway?.stop();
    await lab?.destroy();
    if (table.size > 0) process.stdout.write(`\n${table.markdown('SIP through the gateway (same lab, same run)')}\n\n`);
  });

  const useNat = (nat: Nat, sipAlg = true) => gateway.use(nat, { sipAlg });
  const algCounters = () => gateway.algCounters();
  /** The call pinholes the NAT still holds (registration pinholes aside): none once every call has ended. */
  const callPinholesLeft = () => gateway.callPinholes().map((p) => p.text);

  async function captures(roles: Role[], name: string): Promise<Map<Role, Capture>> {
    const m = new Map<Role, Capture>();
    for (const r of roles) m.set(r, await Capture.start(lab, r, `${name}-${r}`));
    return m;
  }

  async function stopAll(caps: Map<Role, Capture>): Promise<void> {
    for (const c of caps.values()) await c.stop();
  }

  const finished = exitCodes;

  const sdpOf = (m: SipRecord | undefined) => (m ? `${m.sdpConnection}:${m.sdpPort}` : 'none');
  const mediaTo = (ds: Datagram[], addr: string, port: number) => ds.filter((d) => d.dst === addr && d.dport === port);
  const flows = (ds: Datagram[]) => [...countByFlow(ds)].map(([k, n]) => `${n} ${k}`).join(', ') || 'none';

  for (const nat of NATS) {
    describe(`through ${nat}`, () => {
      const record = (row: string, value: string) => table.set(row, nat, value);
      const isMasq = nat === 'masq';

      for (const transport of ['udp', 'tcp'] as const) {
        test(`a. outgoing call over ${transport.toUpperCase()}, RTP played both ways to the SDP addresses`, async (tc) => {
          await useNat(nat);
          const t = transport === 'udp' ? 'u1' : 't1';
          const caps = await captures(['srv', 'h1'], `a-${transport}-${isMasq ? 'masq' : 'kernel'}`);
          const uas = sipp(lab, 'srv', ['-sf', fixture('sip-uas-media.xml'), '-t', t, '-i', SRV, '-p', '5060', '-mp', '6000', '-m', '1', '-timeout', '60s', '-timeout_error'], 'UAS');
          await waitListening(lab, 'srv', transport, SRV, 5060);
          const uac = sipp(lab, 'h1', [`${SRV}:5060`, '-sf', fixture('sip-uac-media.xml'), '-t', t, '-s', 'uas', '-i', H1, '-p', '5060', '-mp', '6000', '-m', '1', '-timeout', '60s', '-timeout_error'], 'UAC');
          const codes = await finished([uac, uas], 75_000);
          await stopAll(caps);
          if (codes.some((c) => c !== 0)) tc.diagnostic(`UAC errors:\n${uac.errors().slice(-2000)}\nUAS errors:\n${uas.errors().slice(-2000)}`);

          const atSrv = sipMessages(caps.get('srv')!.file);
          const invite = atSrv.find((m) => m.method === 'INVITE');
          const toUas = mediaTo(udpDatagrams(caps.get('srv')!.file), SRV, 6000);
          const toUac = mediaTo(udpDatagrams(caps.get('h1')!.file), H1, 6000);
          const label = `a. ${transport.toUpperCase()} call h1 -> UAS`;
          record(`${label}: call completed (UAC, UAS exit codes)`, `${codes[0] === 0 && codes[1] === 0 ? 'yes' : 'no'} (${codes.join(', ')})`);
          record(`${label}: SDP c=/m= the UAS got`, sdpOf(invite));
          record(`${label}: RTP received by the UAS / by the UAC (of ${streamPackets})`, `${toUas.length} / ${toUac.length}`);
          record(`${label}: UAS receives RTP from`, [...new Set(toUas.map((d) => `${d.src}:${d.sport}`))].join(' ') || 'nothing');
          record(`${label}: top Via the UAS got`, invite?.via ?? 'none');
          record(`${label}: From the UAS got`, invite?.from ?? 'none');
          record(`${label}: Contact the UAS got`, invite?.contact ?? 'none');
          record(`${label}: a=ssrc cname the UAS got`, invite?.sdpAttributes.find((a) => a.includes('cname:')) ?? 'none');
          const left = callPinholesLeft();
          record(`${label}: call pinholes left after the BYE`, String(left.length));
          if (!isMasq) return;

          assert.deepEqual(left, [], 'the BYE removed the call\'s pinholes');
          assert.deepEqual(codes, [0, 0], `UAC:\n${uac.errors().slice(-2000)}\nUAS:\n${uas.errors().slice(-2000)}`);
          assert.ok(invite, 'the UAS captured no INVITE');
          assert.equal(invite.sdpConnection, PUB, 'the SDP c= the UAS sees is the public address');
          assert.ok(invite.sdpPort !== null && invite.sdpPort % 2 === 0, `even public RTP port: ${invite.sdpPort}`);
          assert.match(invite.via, new RegExp(`^SIP/2\\.0/${transport.toUpperCase()} ${ipRe(PUB)}:\\d+`, 'i'));
          assert.match(invite.contact, new RegExp(`@${ipRe(PUB)}:\\d+`));
          // The phone's RTP leaves from the public port its SDP announced, and reaches the UAS.
          assert.ok(toUas.length >= MIN_SHARE * streamPackets && toUas.length <= streamPackets, `UAS got ${toUas.length}: ${flows(toUas)}`);
          assert.ok(toUas.every((d) => d.src === PUB && d.sport === invite.sdpPort), flows(toUas));
          // The UAS's RTP, sent to the SDP's public address, reaches the phone.
          assert.ok(toUac.length >= MIN_SHARE * streamPackets && toUac.length <= streamPackets, `UAC got ${toUac.length}: ${flows(toUac)}`);
          assert.ok(toUac.every((d) => d.src === SRV && d.sport === 6000), flows(toUac));
          assert.equal(algCounters().passedParseError, 0);
        });
      }

      test('b. incoming call to a registered phone, INVITE from another port of the registrar', async () => {
        await useNat(nat);
        const tag = isMasq ? 'masq' : 'kernel';
        const caps = await captures(['srv', 'h1'], `b-${tag}`);
        const regLog = join(lab.dir, `registrar-${tag}.log`);
        const registrar = sipp(lab, 'srv', ['-sf', fixture('sip-registrar.xml'), '-i', SRV, '-p', '5060', '-m', '1', '-timeout', '30s', '-timeout_error', '-trace_logs', '-log_file', regLog], 'registrar');
        await waitListening(lab, 'srv', 'udp', SRV, 5060);
        const register = sipp(lab, 'h1', [`${SRV}:5060`, '-sf', fixture('sip-phone-register.xml'), '-key', 'expires', '3600', '-i', H1, '-p', '5060', '-m', '1', '-timeout', '30s', '-timeout_error'], 'phone REGISTER');
        const regCodes = await finished([register, registrar], 45_000);
        const contact = /contact=<sip:[^@>]*@([\d.]+)(?::(\d+))?[^>]*>/.exec(readFileSyncSafe(regLog));
        record('b. REGISTER: completed (phone, registrar exit codes)', `${regCodes[0] === 0 && regCodes[1] === 0 ? 'yes' : 'no'} (${regCodes.join(', ')})`);
        record('b. REGISTER: Contact the registrar got', contact ? `${contact[1]}:${contact[2] ?? '5060'}` : 'none');
        record('b. registration pinhole', gateway.registrationPinholes().map((p) => p.text).join('; ') || 'none');

        let codes: Array<number | null> = [null, null];
        let phoneUas: SippProcess | undefined;
        let caller: SippProcess | undefined;
        if (contact) {
          // The phone now answers on the port it registered; the caller uses another port (5070) of the registrar's address.
          phoneUas = sipp(lab, 'h1', ['-sf', fixture('sip-uas-media.xml'), '-i', H1, '-p', '5060', '-mp', '6000', '-m', '1', '-timeout', '40s', '-timeout_error'], 'phone UAS');
          await waitListening(lab, 'h1', 'udp', H1, 5060);
          caller = sipp(lab, 'srv', [`${contact[1]}:${contact[2] ?? '5060'}`, '-sf', fixture('sip-uac-media.xml'), '-s', 'phone', '-i', SRV, '-p', '5070', '-mp', '7000', '-m', '1', '-timeout', '40s', '-timeout_error'], 'caller');
          codes = await finished([caller, phoneUas], 55_000);
        }
        await stopAll(caps);
        const atPhone = sipMessages(caps.get('h1')!.file, [5070]);
        const inviteAtPhone = atPhone.find((m) => m.method === 'INVITE');
        const okAtSrv = sipMessages(caps.get('srv')!.file, [5070]).find((m) => m.status === 200 && m.cseqMethod === 'INVITE');
        const toPhone = mediaTo(udpDatagrams(caps.get('h1')!.file), H1, 6000);
        const toCaller = mediaTo(udpDatagrams(caps.get('srv')!.file), SRV, 7000);
        record('b. incoming call completed (caller, phone exit codes)', `${codes[0] === 0 && codes[1] === 0 ? 'yes' : 'no'} (${codes.join(', ')})`);
        record('b. INVITE reached the phone as', inviteAtPhone ? `${inviteAtPhone.requestUri} from ${inviteAtPhone.src}:${inviteAtPhone.sport}` : 'no INVITE');
        record('b. SDP c=/m= in the phone\'s 200 the caller got', sdpOf(okAtSrv));
        record(`b. RTP received by the phone / by the caller (of ${streamPackets})`, `${toPhone.length} / ${toCaller.length}`);
        if (!isMasq) return;

        assert.deepEqual(regCodes, [0, 0], `REGISTER:\n${register.errors().slice(-2000)}\nregistrar:\n${registrar.errors().slice(-2000)}`);
        assert.ok(contact, `registrar log: ${readFileSyncSafe(regLog)}`);
        assert.equal(contact[1], PUB);
        assert.deepEqual(codes, [0, 0], `caller:\n${caller?.errors().slice(-2000)}\nphone:\n${phoneUas?.errors().slice(-2000)}`);
        assert.ok(inviteAtPhone, 'no INVITE reached the phone');
        assert.equal(`${inviteAtPhone.src}:${inviteAtPhone.sport}`, `${SRV}:5070`);
        assert.match(inviteAtPhone.requestUri, new RegExp(`@${ipRe(H1)}(:5060)?$`), 'Request-URI restored to the phone');
        assert.equal(okAtSrv?.sdpConnection, PUB);
        assert.ok(toPhone.length >= MIN_SHARE * streamPackets && toPhone.length <= streamPackets, `phone got ${toPhone.length}: ${flows(toPhone)}`);
        assert.ok(toCaller.length >= MIN_SHARE * streamPackets && toCaller.length <= streamPackets, `caller got ${toCaller.length}: ${flows(toCaller)}`);
        assert.ok(toCaller.every((d) => d.src === PUB && d.sport === okAtSrv?.sdpPort), flows(toCaller));
        assert.equal(algCounters().passedParseError, 0);
      });

      if (isMasq) {
        test('b. control: through masq without the SIP ALG, the same incoming call never reaches the phone', async () => {
          // Shows that the registration pinhole, not the filtering or the lab, admits the INVITE in case b.
          await useNat(nat, false);
          const caps = await captures(['h1'], 'b-control');
          const regLog = join(lab.dir, 'registrar-control.log');
          const registrar = sipp(lab, 'srv', ['-sf', fixture('sip-registrar.xml'), '-i', SRV, '-p', '5060', '-m', '1', '-timeout', '30s', '-timeout_error', '-trace_logs', '-log_file', regLog], 'registrar');
          await waitListening(lab, 'srv', 'udp', SRV, 5060);
          const register = sipp(lab, 'h1', [`${SRV}:5060`, '-sf', fixture('sip-phone-register.xml'), '-key', 'expires', '3600', '-i', H1, '-p', '5060', '-m', '1', '-timeout', '30s', '-timeout_error'], 'phone REGISTER');
          assert.deepEqual(await finished([register, registrar], 45_000), [0, 0]);
          // Without the ALG the Contact keeps the private address; the caller aims at the public one, as a registrar would after rport.
          const phoneUas = sipp(lab, 'h1', ['-sf', fixture('sip-uas-media.xml'), '-i', H1, '-p', '5060', '-mp', '6000', '-m', '1', '-timeout', '12s'], 'phone UAS');
          await waitListening(lab, 'h1', 'udp', H1, 5060);
          const caller = sipp(lab, 'srv', [`${PUB}:5060`, '-sf', fixture('sip-uac-media.xml'), '-s', 'phone', '-i', SRV, '-p', '5070', '-mp', '7000', '-m', '1', '-timeout', '10s', '-timeout_error'], 'caller');
          const codes = await finished([caller, phoneUas], 30_000);
          await stopAll(caps);
          const invites = sipMessages(caps.get('h1')!.file, [5070]).filter((m) => m.method === 'INVITE');
          table.set('b. control: the same incoming call through masq without the SIP ALG', 'masq', invites.length ? 'INVITE reached the phone' : `INVITE never reached the phone (caller exit ${codes[0]})`);
          assert.equal(invites.length, 0, 'the INVITE from another port reached the phone without a registration pinhole');
          assert.notEqual(codes[0], 0, 'the call failed');
        });
      }

      test('c. baresip on h1 calls a sipp UAS (8 kHz WAV through aufile)', async () => {
        await useNat(nat);
        const tag = isMasq ? 'masq' : 'kernel';
        const wav = writeSineWav8k(join(lab.dir, 'tone-8k.wav'), 9);
        const home = baresipHome(lab.dir, `baresip-${tag}`, { addr: H1, wav, rtpPort: 6000 });
        const caps = await captures(['srv', 'h1'], `c-${tag}`);
        const uas = sipp(lab, 'srv', ['-sf', fixture('sip-uas-media.xml'), '-i', SRV, '-p', '5060', '-mp', '6000', '-m', '1', '-timeout', '45s', '-timeout_error'], 'UAS');
        await waitListening(lab, 'srv', 'udp', SRV, 5060);
        // baresip hangs up when the 9 s WAV ends (a BYE through the gateway), and quits after 25 s in any case.
        const phone = lab.spawn('h1', home.argv(`sip:uas@${SRV}`, 25), 'baresip');
        await phone.exited(40_000);
        const codes = await finished([uas], 30_000);
        await stopAll(caps);
        const invite = sipMessages(caps.get('srv')!.file).find((m) => m.method === 'INVITE');
        const atSrv = udpDatagrams(caps.get('srv')!.file);
        const toUas = mediaTo(atSrv, SRV, 6000);
        const rtcpToUas = mediaTo(atSrv, SRV, 6001);
        const toPhone = mediaTo(udpDatagrams(caps.get('h1')!.file), H1, 6000);
        const established = /Call established/.test(phone.output);
        const rtcp = invite?.sdpAttributes.find((a) => a.startsWith('rtcp:'));
        record('c. baresip call: established, BYE answered (UAS exit code)', `${established ? 'yes' : 'no'}, ${codes[0] === 0 ? 'yes' : 'no'} (${codes[0]})`);
        record('c. baresip call: SDP c=/m= the UAS got', `${sdpOf(invite)}${rtcp ? ` a=${rtcp}` : ''}`);
        record('c. baresip call: RTP received by the UAS / by baresip', `${toUas.length} / ${toPhone.length} of ${streamPackets}`);
        record('c. baresip call: its RTCP reached the UAS from', flows(rtcpToUas));
        const left = callPinholesLeft();
        record('c. baresip call: call pinholes left after the BYE', String(left.length));
        if (!isMasq) return;

        assert.deepEqual(left, [], 'the BYE removed the call\'s pinholes');
        assert.ok(established, phone.output.slice(-3000));
        assert.equal(codes[0], 0, uas.errors().slice(-2000));
        assert.ok(invite, 'the UAS captured no INVITE');
        assert.equal(invite.sdpConnection, PUB);
        // baresip sends 50 packets/s for the call's 9 s; the UAS's stream is 7 s.
        assert.ok(toUas.length >= 200, `UAS got ${toUas.length}: ${flows(toUas)}`);
        assert.ok(toUas.every((d) => d.src === PUB && d.sport === invite.sdpPort), flows(toUas));
        // RTCP (RTP port + 1, no a=rtcp line) leaves from the public RTP port + 1.
        assert.ok(rtcpToUas.length > 0 && rtcpToUas.every((d) => d.src === PUB && d.sport === invite.sdpPort! + 1), flows(rtcpToUas));
        assert.ok(toPhone.length >= MIN_SHARE * streamPackets && toPhone.length <= streamPackets, `baresip got ${toPhone.length}: ${flows(toPhone)}`);
        assert.equal(algCounters().passedParseError, 0);
      });

      test('d. two phones with the same SIP and media ports call the same UAS at once', async () => {
        await useNat(nat);
        const tag = isMasq ? 'masq' : 'kernel';
        const caps = await captures(['srv', 'h1', 'h2'], `d-${tag}`);
        // One UAS for both calls, sending both streams from its port 6000; h1 calls "alice" and gets stream A,
        // h2 calls "bob" and gets stream B (another SSRC): a packet at the wrong phone is recognisable.
        const uas = sipp(lab, 'srv', ['-sf', fixture('sip-uas-media.xml'), '-i', SRV, '-p', '5060', '-mp', '6000', '-m', '2', '-timeout', '90s', '-timeout_error'], 'UAS');
        await waitListening(lab, 'srv', 'udp', SRV, 5060);
        const phoneSetup = [
          { role: 'h1', addr: H1, user: 'alice', ssrc: ssrcA },
          { role: 'h2', addr: H2, user: 'bob', ssrc: ssrcB },
        ] as const;
        const phones = phoneSetup.map((p) =>
          sipp(lab, p.role, [`${SRV}:5060`, '-sf', fixture('sip-uac-media.xml'), '-s', p.user, '-i', p.addr, '-p', '5060', '-mp', '6000', '-m', '1', '-timeout', '90s', '-timeout_error'], `phone ${p.role}`),
        );
        const codes = await finished([...phones, uas], 110_000);
        await stopAll(caps);

        const atSrv = sipMessages(caps.get('srv')!.file);
        const srvMedia = mediaTo(udpDatagrams(caps.get('srv')!.file), SRV, 6000);
        const perPhone = phoneSetup.map((p) => {
          const msgs = sipMessages(caps.get(p.role)!.file);
          const invites = msgs.filter((m) => m.method === 'INVITE');
          const callId = invites[0]?.callId ?? '';
          const media = mediaTo(udpDatagrams(caps.get(p.role)!.file), p.addr, 6000);
          const own = media.filter((d) => d.ssrc === p.ssrc).length;
          const offerAtSrv = atSrv.find((m) => m.method === 'INVITE' && m.callId === callId);
          // The UAS tells the two calls' RTP apart by where it comes from (the public port each offer announced)
          // while the call lasts (the kernel announces the same port for both calls, one after the other).
          const bye = atSrv.find((m) => m.method === 'BYE' && m.callId === callId);
          const during = (d: Datagram) => offerAtSrv !== undefined && d.time >= offerAtSrv.time && d.time <= (bye?.time ?? Infinity);
          const atUas = offerAtSrv ? srvMedia.filter((d) => during(d) && d.src === offerAtSrv.sdpConnection && d.sport === offerAtSrv.sdpPort) : [];
          const delay = offerAtSrv && invites[0] ? offerAtSrv.time - invites[0].time : null;
          return { ...p, invites, own, other: media.length - own, media, offerAtSrv, atUas, delay };
        });
        record('d. two phones: calls completed (h1, h2, UAS exit codes)', codes.join(', '));
        for (const p of perPhone) {
          const sig = p.offerAtSrv ? `${p.offerAtSrv.src}:${p.offerAtSrv.sport}` : 'INVITE never arrived';
          const late = p.delay === null ? '' : `, ${p.delay.toFixed(1)} s after the phone first sent it`;
          record(`d. ${p.role}: INVITEs sent / the INVITE reached the UAS as`, `${p.invites.length} / ${sig}${late}`);
          record(`d. ${p.role}: SDP c=/m= the UAS got`, sdpOf(p.offerAtSrv));
          record(`d. ${p.role}: RTP of its own call / of the other call (of ${streamPackets})`, `${p.own} / ${p.other}`);
          record(`d. ${p.role}: RTP the UAS got during the call from the address in its offer`, `${p.atUas.length}`);
        }
        record('d. RTP the UAS got, by source', flows(srvMedia));
        const left = callPinholesLeft();
        record('d. call pinholes left after both BYEs', String(left.length));
        if (!isMasq) return;

        assert.deepEqual(left, [], 'the BYEs removed both calls\' pinholes');
        assert.deepEqual(codes, [0, 0, 0], phones.map((p) => p.errors().slice(-2000)).join('\n') + uas.errors().slice(-2000));
        const [a, b] = perPhone;
        assert.ok(a.offerAtSrv && b.offerAtSrv, 'both INVITEs reached the UAS');
        assert.equal(a.invites.length, 1, 'h1 sent its INVITE once (none lost)');
        assert.equal(b.invites.length, 1, 'h2 sent its INVITE once (none lost)');
        assert.notEqual(`${a.offerAtSrv.src}:${a.offerAtSrv.sport}`, `${b.offerAtSrv.src}:${b.offerAtSrv.sport}`, 'distinct public signalling ports');
        assert.notEqual(a.offerAtSrv.sdpPort, b.offerAtSrv.sdpPort, 'distinct public media ports');
        for (const p of perPhone) {
          assert.equal(p.offerAtSrv!.sdpConnection, PUB);
          assert.ok(p.own >= MIN_SHARE * streamPackets && p.own <= streamPackets, `${p.role} got ${p.own} of its stream: ${flows(p.media)}`);
          assert.equal(p.other, 0, `${p.role} received RTP that was not its call's: ${flows(p.media)}`);
          assert.ok(p.atUas.length >= MIN_SHARE * streamPackets && p.atUas.length <= streamPackets, `UAS got ${p.atUas.length} from ${p.role}: ${flows(srvMedia)}`);
        }
        assert.equal(srvMedia.length, a.atUas.length + b.atUas.length, `RTP at the UAS from elsewhere: ${flows(srvMedia)}`);
        assert.equal(algCounters().passedParseError, 0);
      });

    });
  }
});

function readFileSyncSafe(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
