/**
 * A CU-SeeMe reflector for the simulator and the lab: it relays every
 * participant's video, audio and OpenContinue packets to every other
 * participant, each copy addressed (header and UDP) to the address and port
 * that participant's header names as its own. That is what makes the NAT's
 * job visible: a participant whose header names the wrong port gets nothing.
 *
 * A participant is known by the (address, port) its header names; it is
 * forgotten after `idleMs` without a packet. Entries in a participant's
 * OpenContinue that name no known participant are counted (a NAT that let an
 * inside address out would show here).
 */
import type { Scheduler } from '../../util/clock.js';
import type { UdpSocket } from '../../net/udp.js';
import { DataType, decodeOpenContinue, decodePacket, endpointText, readdress, type CuEndpoint } from './codec.js';

export interface ReflectorOptions {
  /** Forget a participant after this long without a packet (default 30 s). */
  idleMs?: number;
}

export interface ReflectorParticipant extends CuEndpoint {
  name: string;
  /** Where its packets came from (UDP), which may differ from what its header says. */
  source: string;
  packets: number;
  lastSeen: number;
}

export interface ReflectorStats {
  participants: ReflectorParticipant[];
  relayed: number;
  /** Datagrams that were no CU-SeeMe packet, or an OpenContinue that does not decode. */
  malformed: number;
  /** OpenContinue entries naming nobody in the conference. */
  unknownEntries: number;
  /** Example entries nobody is known by (at most 8), for the report. */
  unknownExamples: string[];
}

const RELAYED = new Set<number>([DataType.smallVideo, DataType.bigVideo, DataType.audio, DataType.openContinue, DataType.text]);

export class CuSeeMeReflector {
  private readonly participants = new Map<string, ReflectorParticipant>();
  private relayed = 0;
  private malformed = 0;
  private unknownEntries = 0;
  private readonly unknownExamples: string[] = [];
  private readonly idleMs: number;

  constructor(
    readonly socket: UdpSocket,
    private readonly scheduler: Scheduler,
    options: ReflectorOptions = {},
  ) {
    this.idleMs = options.idleMs ?? 30_000;
    socket.onMessage((data, from) => this.receive(data, `${from.address}:${from.port}`));
  }

  private receive(data: Uint8Array, source: string): void {
    const p = decodePacket(data);
    if (!p) {
      this.malformed++;
      return;
    }
    const now = this.scheduler.now();
    for (const [k, q] of this.participants) if (now - q.lastSeen > this.idleMs) this.participants.delete(k);
    const key = endpointText(p.header.origin);
    let me = this.participants.get(key);
    if (!me) {
      me = { ...p.header.origin, name: '', source, packets: 0, lastSeen: now };
      this.participants.set(key, me);
    }
    me.packets++;
    me.lastSeen = now;
    me.source = source;
    if (p.header.dataType === DataType.openContinue) {
      const oc = decodeOpenContinue(p.payload);
      if (!oc) {
        this.malformed++;
        return;
      }
      me.name = oc.userName;
      for (const e of oc.entries) {
        if (this.participants.has(endpointText(e))) continue;
        this.unknownEntries++;
        if (this.unknownExamples.length < 8) this.unknownExamples.push(`${me.name || key} lists ${endpointText(e)}`);
      }
    }
    if (!RELAYED.has(p.header.dataType)) return;
    for (const [k, q] of this.participants) {
      if (k === key) continue;
      this.socket.send(readdress(data, q), { address: q.addr, port: q.port });
      this.relayed++;
    }
  }

  stats(): ReflectorStats {
    return {
      participants: [...this.participants.values()].map((p) => ({ ...p })),
      relayed: this.relayed,
      malformed: this.malformed,
      unknownEntries: this.unknownEntries,
      unknownExamples: [...this.unknownExamples],
    };
  }

  close(): void {
    this.socket.close();
  }
}
