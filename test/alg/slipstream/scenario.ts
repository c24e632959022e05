/**
 * A NAT Slipstreaming or pinhole-abuse case as data: what the victim's
 * traffic looks like (the attacker makes a browser on an inside host send
 * it), which ALG's protocol it abuses, which kernel helper the same case is
 * tried against, and which inside endpoint the attacker wants to reach. The
 * simulator test (test/alg/slipstream/sim.test.ts) and the lab test
 * (test/lab/slipstream.test.ts) run every scenario of scenarios.ts: an ALG
 * added later gets its cases by adding entries there.
 */

export interface SlipstreamHosts {
  /** The inside host whose browser the attacker's page runs in. */
  victim: string;
  /** Another inside host (Slipstreaming v2 reaches those too). */
  other: string;
  /** The attacker's server, outside. */
  server: string;
  /** The MSS the attacker's server advertises, so the victim's segments end where the attacker wants. */
  mss: number;
}

/**
 * What the victim sends (TCP: a byte stream cut into segments at `cuts`; UDP:
 * datagrams), and what the attacker's server answers (TCP: its stream, from
 * the start of its side of the connection; UDP: one datagram after each of
 * the victim's, when given).
 */
export type CraftedTraffic =
  | { transport: 'tcp'; stream: Uint8Array; cuts: number[]; reply?: Uint8Array }
  | { transport: 'udp'; datagrams: Uint8Array[]; replies?: Uint8Array[] };

/** The endpoint the attacker wants to connect to from outside once the ALG is fooled. */
export interface SlipstreamGoal {
  host: string;
  port: number;
  proto: 'tcp' | 'udp';
}

export interface SlipstreamScenario {
  /** Short and unique: the row of the results table. */
  id: string;
  title: string;
  /** Where the attack was described. */
  origin: string;
  /** The masq ALG whose protocol the message is (attached when registered; nothing to attach otherwise). */
  alg: string;
  /** The kernel's helper for the same protocol, attached by an explicit rule in the lab; null: none in Linux. */
  kernelHelper: { type: 'sip' | 'Q.931' | 'ftp'; proto: 'tcp' | 'udp' } | null;
  /** The attacker's server port the victim's traffic goes to. */
  serverPort: number;
  /** The victim's source port (UDP scenarios bind it; TCP ones let the stack choose when 0). */
  victimPort: number;
  craft(h: SlipstreamHosts): CraftedTraffic;
  goal(h: SlipstreamHosts): SlipstreamGoal;
}
