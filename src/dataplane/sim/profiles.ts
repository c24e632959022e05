/**
 * NAT behaviours by name, for building test networks: the classic cone names
 * mapped to RFC 4787 terms, and the two Linux masquerade modes as
 * ../shared/reference/kernel-lab.md measured them.
 */
import type { NatConfigInput } from '../../nat/config.js';

export type NatProfile = Pick<NatConfigInput, 'mapping' | 'filtering' | 'ports' | 'hairpin' | 'timeouts'>;

export const NAT_PROFILES = {
  /** Endpoint-independent mapping and filtering ("full cone"). */
  'full-cone': { mapping: 'eim', filtering: 'eif' },
  /** Endpoint-independent mapping, address-dependent filtering ("restricted cone"). */
  'restricted-cone': { mapping: 'eim', filtering: 'adf' },
  /** Endpoint-independent mapping, address-and-port-dependent filtering ("port-restricted cone"). */
  'port-restricted': { mapping: 'eim', filtering: 'apdf' },
  /** A new port per destination, preserved where it can be (else a random free one). */
  'symmetric-preserve': { mapping: 'apdm', filtering: 'apdf', ports: { allocation: 'preserve' } },
  /** A new port per destination, counting up: predictable. */
  'symmetric-sequential': { mapping: 'apdm', filtering: 'apdf', ports: { allocation: 'sequential', parity: false } },
  /** A new random port per destination: the hard case. */
  'symmetric-random': { mapping: 'apdm', filtering: 'apdf', ports: { allocation: 'random', parity: false } },
  /** Linux `masquerade`: port-preserving, reused across destinations; APDF; no hairpin. */
  'linux-masquerade': { mapping: 'eim', filtering: 'apdf', ports: { allocation: 'preserve', parity: false }, hairpin: false },
  /** Linux `masquerade fully-random`. */
  'linux-fully-random': { mapping: 'apdm', filtering: 'apdf', ports: { allocation: 'random', parity: false }, hairpin: false },
} as const satisfies Record<string, NatProfile>;

export type NatProfileName = keyof typeof NAT_PROFILES;

export function natProfile(name: NatProfileName): NatProfile {
  return NAT_PROFILES[name];
}
