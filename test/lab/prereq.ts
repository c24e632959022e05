/**
 * Prerequisites of lab tests (root, namespaces, Debian tools, the shared
 * captures). Outside CI a missing prerequisite skips the test with the reason;
 * with CI=true it is a failure, never a skip: CI installs everything.
 *
 *   const pre = prerequisites({ root: true, tools: ['tshark'] });
 *   describe('...', { skip: pre.skip }, () => { before(() => pre.assert()); ... });
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const inCI = process.env.CI === 'true';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const capturesDir = fileURLToPath(new URL('../shared/captures/', new URL('../../', import.meta.url)));

export interface Needs {
  root?: boolean;
  /** Commands that must be on PATH (or absolute paths that must exist). */
  tools?: string[];
  captures?: boolean;
  /** Python modules importable by Debian's /usr/bin/python3. */
  python?: string[];
}

export interface Prerequisites {
  /** For node:test's `skip`: the reason outside CI, false in CI or when all is there. */
  skip: string | false;
  /** Throws (fails the test) when something is missing; call it in before(). */
  assert(): void;
  missing: string[];
}

export function hasTool(tool: string): boolean {
  if (tool.startsWith('/')) return existsSync(tool);
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function prerequisites(needs: Needs): Prerequisites {
  const missing: string[] = [];
  if (needs.root && process.getuid?.() !== 0) missing.push('root (network namespaces)');
  if (needs.root && process.platform !== 'linux') missing.push('Linux');
  for (const t of needs.tools ?? []) if (!hasTool(t)) missing.push(`${t} (Debian package; .ci/run installs it)`);
  if (needs.captures && !existsSync(capturesDir)) missing.push(`the shared captures at ${capturesDir}`);
  for (const m of needs.python ?? []) {
    try {
      execFileSync('/usr/bin/python3', ['-c', `import ${m}`], { stdio: 'ignore' });
    } catch {
      missing.push(`python module ${m} for /usr/bin/python3`);
    }
  }
  const reason = missing.length ? `missing: ${missing.join(', ')}` : false;
  return {
    skip: inCI ? false : reason,
    missing,
    assert() {
      if (reason) throw new Error(`lab prerequisite ${reason}`);
    },
  };
}
