/**
 * Whether an event names H.460.18 or H.460.19: a standard generic
 * identifier 18 or 19 (H.225.0 features and generic data), or an object
 * identifier {itu-t(0) recommendation(0) h(8) 460 18|19 ...} (H.245 generic
 * capabilities and information).
 */
import { EV, type PerEvents } from './per-events.js';

const { GENERIC_STD, OID_H460 } = EV;

export function isTraversalFeature(ev: PerEvents, i: number): boolean {
  const k = ev.kind[i];
  if (k !== GENERIC_STD && k !== OID_H460) return false;
  const v = ev.a[i];
  return v === 18 || v === 19;
}
