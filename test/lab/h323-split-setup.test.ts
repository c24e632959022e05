/**
 * NetMeeting's Setup (the 4-byte TPKT header alone in its segment, then the
 * body) through masq gateway when the timing goes wrong:
 *
 * - The body written 1.5 s after the header: the caller's retransmission
 *   timer fires first, leaving it a congestion window of one segment, taken
 *   by the header; it sends the body only once the header is acknowledged.
 *   This is what lost Setups in the busy lab (docs/h323.md): masq held the
 *   header until the body came, so nothing was ever acknowledged and the
 *   body never came. Both ways: a caller inside, and one outside reaching
 *   the callee through the static forward of 1720.
 * - The header segment lost on the way into the gateway, once: the body
 *   comes first (dropped: it is beyond a gap), the header again only when the
 *   caller's TCP retransmits it. The loss is made by an nftables rule in
 *   gw1's namespace, ahead of the routing through masq's TUN devices: the
 *   first segment to port 1720 whose IP length is that of a 4-byte payload
 *   (20 + 32 bytes of header with Linux's timestamps, + 4); its counter says
 *   it dropped exactly one, so the test cannot pass without the loss.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LabProcess, LabTopology } from './topology.js';
import { h323LabNeeds, masqH323Config, runScenario, SCENARIOS, type Scenario } from './fixtures/h323-lab.js';

const { skip, open } = h323LabNeeds();

/** The IP length of a segment to 1720 carrying only a TPKT header (TCP with the timestamp option). */
const HEADER_ONLY_IP_LENGTH = 20 + 32 + 4;

/** Drops the first header-only segment to 1720 that enters gw1 (from either side), once. */
function loseFirstHeader(lab: LabTopology): void {
  lab.exec('gw1', ['nft', 'delete', 'table', 'ip', 'masq_lab_lose'], { allowFail: true });
  const script = [
    'table ip masq_lab_lose {',
    '  chain prerouting { type filter hook prerouting priority raw; policy accept;',
    `    tcp dport 1720 ip length ${HEADER_ONLY_IP_LENGTH} tcp flags & (syn | fin | rst) == 0 quota until ${HEADER_ONLY_IP_LENGTH + 1} bytes counter drop`,
    '  }',
    '}',
  ].join('\n');
  lab.exec('gw1', ['nft', '-f', '-'], { input: script });
}

/** A scenario with the caller's body written `gap` ms after its header. */
function withGap(s: Scenario, gap: number): Scenario {
  return { ...s, then: s.then.map((e) => ({ ...e, args: { ...e.args, gap } })) };
}

/** Longer than a caller's first retransmission timeout (200 ms at least) and its tail loss probe. */
const LATE_BODY_MS = 1500;

/** Segments the rule dropped. */
function lost(lab: LabTopology): number {
  const out = lab.exec('gw1', ['nft', 'list', 'table', 'ip', 'masq_lab_lose']).stdout;
  const m = /counter packets (\d+)/.exec(out);
  return m ? Number(m[1]) : -1;
}

describe('H.323: NetMeeting Setups split after the TPKT header, through masq gateway, with a late body or a lost header', { skip }, () => {
  let lab: LabTopology;
  let work = '';
  let gateway: LabProcess | undefined;

  before(async () => {
    ({ work, lab } = open('h323split'));
    gateway = await lab.startMasq('gw1', masqH323Config(lab));
  });
  after(async () => {
    await gateway?.stop('SIGINT');
    lab?.exec('gw1', ['nft', 'delete', 'table', 'ip', 'masq_lab_lose'], { allowFail: true });
    await lab?.destroy();
  });

  // A caller inside (the header enters from the LAN) and a caller outside through the static forward (from the WAN).
  for (const s of [SCENARIOS[0], SCENARIOS[4]]) {
    test(`${s.name}: the body ${LATE_BODY_MS} ms after the header, the call starts`, async () => {
      const o = await runScenario(lab, work, withGap(s, LATE_BODY_MS));
      assert.ok(o.ok, `${JSON.stringify(o.results, null, 1)}\ngateway:\n${gateway?.output.slice(-20_000)}`);
    });
  }

  test(`${SCENARIOS[0].name}: the header segment lost once on the way in, the call starts`, async () => {
    loseFirstHeader(lab);
    try {
      const o = await runScenario(lab, work, SCENARIOS[0]);
      assert.equal(lost(lab), 1, 'the rule dropped the first header segment, and only it');
      assert.ok(o.ok, `${JSON.stringify(o.results, null, 1)}\ngateway:\n${gateway?.output.slice(-20_000)}`);
    } finally {
      lab.exec('gw1', ['nft', 'delete', 'table', 'ip', 'masq_lab_lose'], { allowFail: true });
    }
  });
});
