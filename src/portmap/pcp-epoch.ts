/**
 * The client's check of a PCP server's epoch (RFC 6887 8.5): the server's
 * "seconds since my mappings began" must advance about as fast as the
 * client's own clock. When it goes back by more than a second, or drifts
 * from the client's elapsed time by more than the RFC's tolerance (2 s plus
 * 1/16 of the interval), the server has lost its mappings (a restart, a
 * reboot, another box behind the same address), and the client makes them
 * again. NAT-PMP (RFC 6886 3.6) uses the same rule.
 *
 * Pure: the client's time comes in with each observation.
 */

export type EpochVerdict = 'first' | 'ok' | 'lost-state';

export class PcpEpochTracker {
  #prevServer: number | null = null;
  #prevClientMs = 0;

  /** Takes a response's epoch (seconds) seen at `clientMs`; says whether the server kept its state since the last one. */
  observe(epochSeconds: number, clientMs: number): EpochVerdict {
    const prev = this.#prevServer;
    const prevClientMs = this.#prevClientMs;
    this.#prevServer = epochSeconds;
    this.#prevClientMs = clientMs;
    if (prev === null) return 'first';
    if (epochSeconds + 1 < prev) return 'lost-state';
    const client = (clientMs - prevClientMs) / 1000;
    const server = epochSeconds - prev;
    if (client + 2 < server - server / 16 || server + 2 < client - client / 16) return 'lost-state';
    return 'ok';
  }

  /** Forgets the server (a mapping through another gateway starts afresh). */
  reset(): void {
    this.#prevServer = null;
  }
}
