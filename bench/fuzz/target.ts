/**
 * What a fuzz target is: seeds, an optional structure-aware generator, and a
 * `run` that feeds one input to the code under test and throws when something
 * is wrong (an exception escaped, or an invariant broke). One target per file
 * in bench/fuzz/targets/; the registry finds them by listing that folder.
 */
import type fc from 'fast-check';

export interface FuzzTarget<State = unknown> {
  /** Short, unique: what `--target` takes (the file name without .ts). */
  readonly name: string;
  readonly description: string;
  /** Seed inputs: built by hand, from the unit tests' fixtures, from ../shared/captures when present. */
  seeds(): Uint8Array[];
  /** Structure-aware inputs (fast-check), drawn for `generatorShare` of the inputs. */
  readonly generator?: fc.Arbitrary<Uint8Array>;
  /** Default 0.25 when there is a generator. */
  readonly generatorShare?: number;
  /** Tokens the mutator inserts. */
  readonly dictionary?: readonly string[];
  /** Also mutate lines and decimal numbers. */
  readonly text?: boolean;
  /** Inputs never grow past this (default 4096 bytes). */
  readonly maxLength?: number;
  /**
   * State shared by consecutive inputs (an engine with flows and pinholes, a
   * server with its tables): made fresh every `resetEvery` inputs and after a
   * failure. A reproducer holds the inputs since the last reset.
   */
  createState?(): State;
  /** Default 1 when there is state (every input on fresh state): raise it for stateful fuzzing. */
  readonly resetEvery?: number;
  run(input: Uint8Array, state: State): void | Promise<void>;
  /** Inputs in the CI unit test (default 2000): lower for slow targets. */
  readonly ciCount?: number;
  /** An input slower than this is reported as slow (default 200 ms). */
  readonly slowMs?: number;
}

export function defineFuzzTarget<State>(t: FuzzTarget<State>): FuzzTarget<unknown> {
  return t as FuzzTarget<unknown>;
}

/** An invariant of the code under test broke (as opposed to an exception it threw). */
export class InvariantError extends Error {
  override name = 'InvariantError';
}

export function invariant(ok: unknown, message: string | (() => string)): asserts ok {
  if (!ok) throw new InvariantError(typeof message === 'string' ? message : message());
}

type ErrorClass = abstract new (...args: never[]) => Error;

/**
 * Runs `fn`; an error of one of `allowed` (the parser's documented error) is
 * what bad input should give and is swallowed; anything else is a finding.
 * Returns fn's value, or undefined when an allowed error was thrown.
 */
export function expectOnly<T>(fn: () => T, ...allowed: ErrorClass[]): T | undefined {
  try {
    return fn();
  } catch (err) {
    if (allowed.some((c) => err instanceof c) && !(err instanceof InvariantError)) return undefined;
    throw err;
  }
}

const enc = new TextEncoder();
export const utf8 = (s: string): Uint8Array => enc.encode(s);

export function latin1(s: string): Uint8Array {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i) & 0xff;
  return b;
}

export function latin1Text(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
  return s;
}
