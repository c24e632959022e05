/**
 * A CU-SeeMe client for the simulator and the lab. It sends an OpenContinue
 * (its name and the participants it knows) every `openContinueMs` and a
 * numbered "video" frame every `frameMs`, to its reflector or peer, with its
 * own address and port in the header; and it counts what it receives: frames
 * per sender, who each participant is (by the OpenContinues it gets), whether
 * each one's list names this client as it knows itself, and packets addressed
 * to someone else.
 *
 * With no target it answers: the first participant that sends to it becomes
 * its peer (a point-to-point call).
 */
import type { Scheduler, TimerHandle } from '../../util/clock.js';
import type { UdpSocket } from '../../net/udp.js';
import {
  DataType,
  decodeFrame,
  decodeOpenContinue,
  decodePacket,
  encodeFrame,
  encodeOpenContinue,
  encodePacket,
  endpointText,
  type ClientInfo,
  type CuEndpoint,
} from './codec.js';

export interface ClientOptions {
  name: string;
  /** The address and port this client writes as its own (where it receives). */
  own: CuEndpoint;
  /** The reflector or the peer to call; absent: wait for a caller. */
  target?: CuEndpoint;
  /** Frames to send (default 20). */
  frames?: number;
  frameMs?: number;
  /** Delay before the first frame (default `frameMs`): time for the OpenContinues to introduce everyone. */
  firstFrameMs?: number;
  /** Start the frames as soon as this many other participants are known by name (before `firstFrameMs` if sooner). */
  waitFor?: number;
  openContinueMs?: number;
  /** Bytes of each frame's payload (default 64). */
  frameSize?: number;
}

/** What one client saw of another participant: a sender endpoint, as packet headers name it. */
export interface SeenParticipant {
  endpoint: string;
  /** The user name of its latest OpenContinue ('' before one came). */
  name: string;
  /** The names in the frames that came from this endpoint (several: participants the network merged). */
  senders: string[];
  /** Its latest OpenContinue names this client by the endpoint this client knows itself by. */
  listsMe: boolean;
  /** The entries of its latest OpenContinue. */
  lists: string[];
}

export interface ClientReport {
  name: string;
  own: string;
  target: string | null;
  framesSent: number;
  /** Distinct frames received, by the name of the client that sent them. */
  frames: Record<string, number>;
  participants: SeenParticipant[];
  /** Packets whose header is addressed to another endpoint than this client's own. */
  misaddressed: number;
  malformed: number;
}

interface Peer {
  name: string;
  endpoint: CuEndpoint;
  senders: Set<string>;
  packets: number;
  lists: ClientInfo[];
}

export class CuSeeMeClient {
  private target: CuEndpoint | null;
  private readonly peers = new Map<string, Peer>();
  private framesSent = 0;
  private seq = 0;
  private ocSeq = 0;
  private misaddressed = 0;
  private malformed = 0;
  /** Frame numbers received, by sender name. */
  private readonly frames = new Map<string, Set<number>>();
  private readonly timers: TimerHandle[] = [];
  private readonly ownText: string;
  private stopped = false;
  private framesStarted = false;
  private doneCallback: (() => void) | null = null;

  constructor(
    readonly socket: UdpSocket,
    private readonly scheduler: Scheduler,
    private readonly o: ClientOptions,
  ) {
    this.target = o.target ?? null;
    this.ownText = endpointText(o.own);
    socket.onMessage((data) => this.receive(data));
  }

  /** Starts sending: OpenContinues until stop(), frames until `frames` are out. */
  start(): void {
    const openContinue = () => {
      if (this.stopped) return;
      this.sendOpenContinue();
      this.timers.push(this.scheduler.setTimeout(openContinue, this.o.openContinueMs ?? 500));
    };
    openContinue();
    this.timers.push(this.scheduler.setTimeout(() => this.startFrames(), this.o.firstFrameMs ?? this.o.frameMs ?? 100));
  }

  /** Calls back once every frame is out. */
  onDone(callback: () => void): void {
    this.doneCallback = callback;
    if (this.done) callback();
  }

  private startFrames(): void {
    if (this.framesStarted || this.stopped) return;
    this.framesStarted = true;
    const frame = () => {
      if (this.stopped) return;
      if (this.framesSent >= (this.o.frames ?? 20)) {
        this.doneCallback?.();
        return;
      }
      if (this.target) this.sendFrame();
      this.timers.push(this.scheduler.setTimeout(frame, this.o.frameMs ?? 100));
    };
    frame();
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) this.scheduler.clearTimeout(t);
    this.timers.length = 0;
  }

  close(): void {
    this.stop();
    this.socket.close();
  }

  /** Every frame sent. */
  get done(): boolean {
    return this.framesSent >= (this.o.frames ?? 20);
  }

  private send(dataType: number, payload: Uint8Array): void {
    if (!this.target) return;
    const packet = encodePacket({ dest: this.target, origin: this.o.own, seq: ++this.seq, msg: 0, dataType }, payload);
    this.socket.send(packet, { address: this.target.addr, port: this.target.port });
  }

  private sendOpenContinue(): void {
    const entries: ClientInfo[] = [...this.peers.values()].map((p) => ({ ...p.endpoint, flags: 0x0001, packets: p.packets }));
    this.send(DataType.openContinue, encodeOpenContinue({ seqNo: ++this.ocSeq, userName: this.o.name, entries }));
  }

  private sendFrame(): void {
    this.send(this.framesSent % 4 === 3 ? DataType.audio : DataType.smallVideo, encodeFrame(this.o.name, this.framesSent, this.o.frameSize ?? 64));
    this.framesSent++;
  }

  private receive(data: Uint8Array): void {
    const p = decodePacket(data);
    if (!p) {
      this.malformed++;
      return;
    }
    const h = p.header;
    if (endpointText(h.dest) !== this.ownText) this.misaddressed++;
    // Answering a call: the caller's header says where it receives.
    if (!this.target) this.target = { ...h.origin };
    const from = endpointText(h.origin);
    let peer = this.peers.get(from);
    if (!peer) this.peers.set(from, (peer = { name: '', endpoint: { ...h.origin }, senders: new Set(), packets: 0, lists: [] }));
    peer.packets++;
    if (h.dataType === DataType.openContinue) {
      const oc = decodeOpenContinue(p.payload);
      if (!oc) {
        this.malformed++;
        return;
      }
      peer.name = oc.userName;
      peer.lists = oc.entries;
      const waitFor = this.o.waitFor ?? 0;
      if (waitFor > 0 && !this.framesStarted && [...this.peers.values()].filter((q) => q.name !== '').length >= waitFor) this.startFrames();
    } else if (h.dataType === DataType.smallVideo || h.dataType === DataType.bigVideo || h.dataType === DataType.audio) {
      const f = decodeFrame(p.payload);
      if (!f) {
        this.malformed++;
        return;
      }
      peer.senders.add(f.name);
      let got = this.frames.get(f.name);
      if (!got) this.frames.set(f.name, (got = new Set()));
      got.add(f.frame);
    }
  }

  report(): ClientReport {
    return {
      name: this.o.name,
      own: this.ownText,
      target: this.target ? endpointText(this.target) : null,
      framesSent: this.framesSent,
      frames: Object.fromEntries([...this.frames].map(([name, got]) => [name, got.size])),
      participants: [...this.peers.values()].map((p) => ({
        endpoint: endpointText(p.endpoint),
        name: p.name,
        senders: [...p.senders].sort(),
        listsMe: p.lists.some((e) => endpointText(e) === this.ownText),
        lists: p.lists.map(endpointText),
      })),
      misaddressed: this.misaddressed,
      malformed: this.malformed,
    };
  }
}
