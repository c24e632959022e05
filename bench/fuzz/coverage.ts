/**
 * Coverage feedback for the runner (see coverage-v8.ts for the one that reads
 * V8's block counters): after each input, possibly the inputs of the last
 * batch that reached code no earlier input reached.
 */
export interface CoverageTracker {
  start(): void;
  stop(): void;
  /** Null most of the time; at the end of a batch, the batch's inputs that reached new code. */
  observe(input: Uint8Array): Promise<Uint8Array[]> | null;
  /** Blocks (V8 block ranges) reached so far. */
  readonly blocks: number;
}
