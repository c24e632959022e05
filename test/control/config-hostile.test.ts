/**
 * `masq gateway --check` on hostile files (issue 17): alias bombs and broken
 * aliases end in one line naming the place, huge files are refused by size,
 * and the checks that were quadratic are linear. Scaled inputs assert the
 * work done (reads, calls), or ranges no per-port loop could walk; the time
 * limits are only safety bounds.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { isMap, LineCounter, parseDocument } from 'yaml';
import { GatewayConfigError, loadGatewayConfigFile, MAX_CONFIG_BYTES, parseGatewayConfig, type ConfigIssue } from '../../src/control/config/load.js';
import { checkAliases } from '../../src/control/config/aliases.js';
import { laterDuplicates } from '../../src/control/config/duplicates.js';
import { portClaimConflicts, type PortClaimEntry } from '../../src/control/config/port-claims.js';
import { keyPosition } from '../../src/control/config/positions.js';
import { repeatedKeys } from '../../src/control/config/unique-keys.js';

const MINIMAL = `interfaces:
  inside: [lan0]
  outside: wan0
inside: [10.0.1.0/24]
public: [203.0.113.1]
`;

function issuesOf(text: string): ConfigIssue[] {
  try {
    parseGatewayConfig(text, 'test.yaml');
  } catch (err) {
    assert.ok(err instanceof GatewayConfigError, `expected GatewayConfigError, got ${String(err)}`);
    return err.issues;
  }
  assert.fail('expected the configuration to be refused');
}

describe('YAML aliases', () => {
  test('an alias bomb stops at the alias that crosses the bound, with its line and field', () => {
    const bomb = `${MINIMAL}x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n${Array.from(
      { length: 8 },
      (_, i) => `x${i + 1}: &a${i + 1} [${Array(9).fill(`*a${i}`).join(', ')}]`,
    ).join('\n')}\n`;
    const [issue, ...rest] = issuesOf(bomb);
    assert.deepEqual(rest, []);
    assert.match(issue.message, /aliases expand the file by more than 100000 values/);
    // Each alias of a<k> adds 1 + 9 * (what a<k-1> adds): x1..x4 add 74,718 values, x5's first alias 66,430 more.
    assert.equal(issue.line, 11);
    assert.equal(issue.path, 'x5.0');
  });

  test('a merge key naming an undefined anchor, an alias before its anchor, an alias inside its own anchor', () => {
    const merge = issuesOf(`${MINIMAL}tun:\n  <<: *nowhere\n`);
    assert.deepEqual(
      merge.map((i) => [i.line, i.col, i.path]),
      [[7, 7, 'tun.<<']],
    );
    assert.match(merge[0].message, /alias \*nowhere names no anchor defined before it/);
    const early = issuesOf(`${MINIMAL}mapping: *m\nfiltering: &m apdf\n`);
    assert.deepEqual([early[0].line, early[0].path], [6, 'mapping']);
    const cycle = issuesOf(`${MINIMAL}algs: &x [*x]\n`);
    assert.match(cycle[0].message, /refers to a value that contains it/);
  });

  test('ordinary use of aliases is fine, even more than the yaml package allows by default', () => {
    const forwards = Array.from({ length: 150 }, (_, i) => `  - { port: ${8000 + i}, to: ${i === 0 ? '&host 10.0.1.5' : '*host'} }`).join('\n');
    const c = parseGatewayConfig(`${MINIMAL}forwards:\n${forwards}\n`, 'ok.yaml');
    assert.equal(c.nat.forwards.length, 150);
  });

  test('the alias check is one pass: counts are right for shared anchors', () => {
    const doc = parseDocument('a: &a [1, 2]\nb: [*a, *a]\nc: &c {k: *a}\nd: *c\n');
    assert.equal(checkAliases(doc), null);
    assert.match(checkAliases(doc, { maxAliases: 3, maxExpandedValues: 1000 })!.message, /more than 3 aliases/);
    // *a adds 3 values (the sequence and two items); *c adds 1 + key + 3.
    assert.equal(checkAliases(doc, { maxAliases: 10, maxExpandedValues: 14 }), null);
    assert.ok(checkAliases(doc, { maxAliases: 10, maxExpandedValues: 13 }));
  });
});

describe('size', () => {
  test('a file over 1 MiB is refused by its size, before it is parsed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'masq-config-size-'));
    try {
      const big = join(dir, 'big.yaml');
      writeFileSync(big, `${MINIMAL}${'# padding\n'.repeat(1_100_000)}`);
      assert.throws(
        () => loadGatewayConfigFile(big),
        (e: unknown) => e instanceof GatewayConfigError && e.unreadable && /is \d+ bytes; a configuration file may be at most 1048576 bytes/.test(e.message),
      );
      const text = `${MINIMAL}${'#'.repeat(MAX_CONFIG_BYTES)}`;
      assert.match(issuesOf(text)[0].message, /at most 1048576 bytes/);
      // Just under the cap is fine.
      assert.doesNotThrow(() => parseGatewayConfig(`${MINIMAL}#${'x'.repeat(MAX_CONFIG_BYTES - MINIMAL.length - 2)}\n`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a missing file is reported as missing, a directory as a directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'masq-config-missing-'));
    try {
      mkdirSync(join(dir, 'sub'));
      for (const [file, reason] of [
        [join(dir, 'absent.yaml'), /absent\.yaml: cannot read the file: no such file \(ENOENT\)$/],
        [join(dir, 'sub'), /sub: cannot read the file: is a directory, not a file \(EISDIR\)$/],
      ] as const) {
        assert.throws(
          () => loadGatewayConfigFile(file),
          (e: unknown) => e instanceof GatewayConfigError && e.unreadable && reason.test(e.message) && e.issues[0].line === 0,
        );
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('every problem at once (issue 14)', () => {
  test('a shape error in one section does not hide problems in the others', () => {
    const issues = issuesOf(`interfaces: { inside: [lan0], outside: wan0 }
inside: [10.0.1.0/24]
public: [203.0.113.1, 203.0.113.1]
tun: { mtu: 20 }
statsu: false
forwards:
  - { port: 8080, to: 192.168.9.9 }
algs:
  - name: h323x
`);
    assert.deepEqual(
      issues.map((i) => [i.line, i.path]),
      [
        [3, 'public.1'],
        [4, 'tun.mtu'],
        [5, 'statsu'],
        [7, 'forwards.0.to'],
        [9, 'algs.0.name'],
      ],
    );
  });

  test('the message lists the first hundred problems and counts the rest', () => {
    const keys = Array.from({ length: 150 }, (_, i) => `unknown${i}: 1`).join('\n');
    try {
      parseGatewayConfig(`${MINIMAL}${keys}\n`, 't.yaml');
      assert.fail('refused');
    } catch (err) {
      assert.ok(err instanceof GatewayConfigError);
      assert.equal(err.issues.length, 150);
      const lines = err.message.split('\n');
      assert.equal(lines.length, 101);
      assert.equal(lines[100], '... and 50 more');
    }
  });
});

describe('linear checks', () => {
  test('key positions: one pass over a mapping, however many keys are looked up', () => {
    const n = 20_000;
    const text = Array.from({ length: n }, (_, i) => `key${i}: ${i}`).join('\n');
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: false });
    assert.ok(isMap(doc.contents));
    let reads = 0;
    const items = doc.contents.items;
    doc.contents.items = new Proxy(items, {
      get(target, prop, receiver) {
        if (typeof prop === 'string' && /^\d+$/.test(prop)) reads++;
        return Reflect.get(target, prop, receiver);
      },
    });
    for (let i = 0; i < n; i += 1) {
      const pos = keyPosition(doc, lines, [], `key${i}`);
      if (i % 997 === 0) assert.deepEqual(pos, { line: i + 1, col: 1, exact: true });
    }
    assert.ok(reads <= 2 * n, `${reads} reads of the mapping's items for ${n} lookups`);
  });

  test('40,000 unknown keys: every one reported at its line', { timeout: 60_000 }, () => {
    const n = 40_000;
    const issues = issuesOf(`${MINIMAL}${Array.from({ length: n }, (_, i) => `k${i}: 1`).join('\n')}\n`);
    assert.equal(issues.length, n);
    assert.deepEqual(issues[n - 1], { source: 'test.yaml', line: 5 + n, col: 1, path: `k${n - 1}`, message: issues[n - 1].message });
    assert.match(issues[0].message, /unknown key "k0"/);
  });

  test('repeated keys: found in one set per mapping, at the repeat', () => {
    const doc = parseDocument('a: 1\nb: {x: 1, y: 2, x: 3}\na: 2\n1: x\n"1": y\n', { uniqueKeys: false });
    // The second x (offset 21) and the second a (offset 27); 1 and "1" are different keys.
    assert.deepEqual(
      repeatedKeys(doc).map((k) => k.range?.[0]),
      [21, 27],
    );
    const dup = issuesOf(`${MINIMAL}mapping: eim\nmapping: adm\n`);
    assert.deepEqual([dup[0].line, dup[0].path, dup[0].message], [7, '(yaml)', 'Map keys must be unique']);
  });

  test('duplicate entries: one canonical form per entry', () => {
    let calls = 0;
    const list = Array.from({ length: 10_000 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`);
    list.push('10.0.5.9/24', '10.0.7.0/24');
    const dups = laterDuplicates(list, (s) => {
      calls++;
      const [a, len] = s.split('/');
      return `${a.split('.').slice(0, 3).join('.')}/${len}`;
    });
    assert.equal(calls, list.length);
    assert.deepEqual(dups, [
      { index: 10_000, firstIndex: 5 },
      { index: 10_001, firstIndex: 7 },
    ]);
  });

  test('10,000 public addresses are checked, duplicates found', { timeout: 60_000 }, () => {
    const addrs = Array.from({ length: 10_000 }, (_, i) => `100.64.${i >> 8}.${i & 255}`);
    const c = parseGatewayConfig(MINIMAL.replace('public: [203.0.113.1]', `public:\n${addrs.map((a) => `  - ${a}`).join('\n')}`));
    assert.equal(c.nat.publicAddrs.length, 10_000);
    const dup = issuesOf(MINIMAL.replace('public: [203.0.113.1]', `public:\n${[...addrs, addrs[1234]].map((a) => `  - ${a}`).join('\n')}`));
    assert.deepEqual(
      dup.map((i) => [i.path, i.message]),
      [['public.10000', 'the same address as public.1234']],
    );
  });

  test('ALG port rules are compared as ranges: two thousand rules of two billion ports each', () => {
    const huge = 2 ** 31;
    const entries: PortClaimEntry[] = [
      { name: 'sip', rules: Array.from({ length: 2000 }, () => ({ proto: 17, first: 1, last: huge })) },
      { name: 'ftp', rules: [{ proto: 6, first: 21, last: 21 }, ...Array.from({ length: 2000 }, (_, i) => ({ proto: 17, first: huge - i, last: huge }))] },
      { name: 'sip', rules: [{ proto: 17, first: 5, last: 5 }] },
    ];
    assert.deepEqual(portClaimConflicts(entries), [{ entry: 1, proto: 17, port: huge, owner: 'sip' }]);
  });

  test('property: ALG port conflicts agree with a port-by-port reference', () => {
    const rule = fc.record({ proto: fc.constantFrom(6, 17), first: fc.integer({ min: 1, max: 40 }), len: fc.integer({ min: 0, max: 10 }) });
    fc.assert(
      fc.property(fc.array(fc.record({ name: fc.constantFrom('a', 'b', 'c'), rules: fc.array(rule, { maxLength: 4 }) }), { maxLength: 7 }), (raw) => {
        const entries = raw.map((e) => ({ name: e.name, rules: e.rules.map((r) => ({ proto: r.proto, first: r.first, last: r.first + r.len })) }));
        // Reference: walk every port. The owner named is, of the other ALGs an earlier entry lists
        // the port under, the one whose name appears first in the list.
        const expected: Array<{ entry: number; proto: number; port: number; owner: string }> = [];
        const namesInOrder = [...new Set(entries.map((e) => e.name))];
        entries.forEach((e, i) => {
          for (const r of e.rules) {
            for (let p = r.first; p <= r.last; p++) {
              const listing = new Set(entries.slice(0, i).filter((o) => o.rules.some((q) => q.proto === r.proto && q.first <= p && p <= q.last)).map((o) => o.name));
              const owner = namesInOrder.find((n) => n !== e.name && listing.has(n));
              if (owner) {
                expected.push({ entry: i, proto: r.proto, port: p, owner });
                return;
              }
            }
          }
        });
        assert.deepEqual(portClaimConflicts(entries), expected);
      }),
      { numRuns: 3000 },
    );
  });
});
