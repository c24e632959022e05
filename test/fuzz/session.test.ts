/**
 * The fuzz runner's session: what it keeps as a reproducer. A stateless
 * target's history is its last input (it once grew with every input of the
 * run, so timing one slow input replayed the whole run three times).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Session } from '../../bench/fuzz/runner.js';
import { defineFuzzTarget } from '../../bench/fuzz/target.js';

const input = (n: number) => new Uint8Array([n]);

test('a stateless target keeps only the input it is running', () => {
  const s = new Session(defineFuzzTarget({ name: 'stateless', description: '', seeds: () => [], run() {} }));
  for (let i = 0; i < 1000; i++) s.call(input(i));
  assert.deepEqual(s.history, [input(999)]);
});

test('a target with state keeps the inputs since its state was made', () => {
  const s = new Session(defineFuzzTarget<{ n: number }>({ name: 'stateful', description: '', seeds: () => [], createState: () => ({ n: 0 }), resetEvery: 4, run() {} }));
  for (let i = 0; i < 10; i++) s.call(input(i));
  assert.deepEqual(s.history, [input(8), input(9)]);
});
