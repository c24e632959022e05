/**
 * Parse, rewrite and apply in one call: what the ALG does with each message.
 * On any failure the caller gets a reason and passes the original bytes on
 * unchanged (DESIGN.md safety rule 7).
 */
import type { RewriteContext } from './context.js';
import * as applyEditsModule from '../text/apply-edits.js';
import type { ParseOptions } from './message.js';
import * as messageModule from './message.js';
import * as rewriteModule from './rewrite.js';
import type { SipSummary } from './summary.js';

// Local copies of the imports: an imported binding is read from its module
// cell at every use, even in optimized loops; a module-local const is not
// (see "Module bindings" in src/alg/text/README.md).
const { applyEdits } = applyEditsModule;
const { parseSipMessage } = messageModule;
const { rewriteSipMessage } = rewriteModule;

export type ProcessResult =
  | {
      ok: true;
      /** The rewritten message (the input itself when nothing changed). */
      bytes: Uint8Array;
      /** Length change: what TCP sequence adjustment needs. */
      delta: number;
      /** Number of edits applied (0: the bytes are the input). */
      edits: number;
      summary: SipSummary;
    }
  | { ok: false; stage: 'parse' | 'rewrite' | 'apply'; reason: string };

export function processSipMessage(bytes: Uint8Array, ctx: RewriteContext, options?: ParseOptions): ProcessResult {
  const p = parseSipMessage(bytes, options);
  if (!p.ok) return { ok: false, stage: 'parse', reason: p.reason };
  const r = rewriteSipMessage(p.message, ctx);
  if (!r.ok) return { ok: false, stage: 'rewrite', reason: r.reason };
  if (r.edits.length === 0) return { ok: true, bytes, delta: 0, edits: 0, summary: r.summary };
  const a = applyEdits(bytes, r.edits);
  if (!a.ok) return { ok: false, stage: 'apply', reason: a.reason };
  return { ok: true, bytes: a.bytes, delta: a.delta, edits: r.edits.length, summary: r.summary };
}
