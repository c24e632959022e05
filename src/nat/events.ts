/**
 * Events worth a log line: the engine reports them through a callback so the
 * shell (gateway, pcap, sim) decides where they go. Never per packet.
 */
export type NatEvent =
  | { type: 'limit'; limit: 'flows' | 'flowsPerHost' | 'expectations' | 'expectationsPerGroup' | 'pendingSyns' | 'fragments' | 'ports'; detail: string }
  | { type: 'forward'; proto: number; publicAddr: number; publicPort: number; insideAddr: number; insidePort: number; remoteAddr: number; remotePort: number }
  | { type: 'trigger-activated'; trigger: number; insideAddr: number; remoteAddr: number; publicAddr: number }
  | { type: 'trigger-expired'; trigger: number; insideAddr: number }
  | { type: 'expectation'; action: 'opened' | 'used' | 'expired' | 'removed'; id: number; proto: number; publicAddr: number; publicPort: number; insideAddr: number; insidePort: number; remoteAddr: number; remotePort: number; helper: string; reason: string };

export type NatEventSink = (event: NatEvent) => void;
