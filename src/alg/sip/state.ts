/**
 * The SIP ALG's state as a JSON value, and its check on the way back: calls
 * (with the ids of their media pinholes), registrations waiting for their
 * answer, registration pinholes, and the phones' other listening ports. A
 * gateway saves it beside the engine's state (docs/state.md), so that after a
 * restart or a failover a BYE still closes the call's pinholes and a
 * re-INVITE still replaces them.
 *
 * What comes back was read from a file or from another host: every field is
 * checked, sizes are bounded, and a value that does not fit is refused whole.
 */
import { z } from 'zod';

export const SIP_STATE_VERSION = 1;

const u32 = z.number().int().min(0).max(0xffffffff);
const port = z.number().int().min(0).max(65535);
const id = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);
const proto = z.union([z.literal(6), z.literal(17)]);
/** A key or group as the ALG builds them (an address and a Call-ID): bounded. */
const text = z.string().max(4096);

const call = z
  .object({
    group: text,
    insideAddr: u32,
    established: z.boolean(),
    responded: z.boolean(),
    peerMedia: u32,
    signallingPeer: u32,
    expectations: z.array(id).max(1024),
    byInsidePort: z.array(z.tuple([z.number().int().min(0), id])).max(1024),
    pendingOffer: z
      .object({ cseq: z.number().int().min(0), retire: z.array(z.number().int().min(0)).max(1024), added: z.array(z.number().int().min(0)).max(1024) })
      .strict()
      .nullable(),
  })
  .strict();

const pendingRegister = z
  .object({
    cseq: z.number().int().min(0),
    registrar: u32,
    contacts: z.array(z.object({ insidePort: port, publicAddr: u32, publicPort: port }).strict()).max(64),
    proto,
  })
  .strict();

const phonePort = z
  .object({ proto: z.number().int().min(0).max(255), insideAddr: u32, insidePort: port, publicAddr: u32, publicPort: port, expectation: id, expiresAt: z.number() })
  .strict();

export function sipStateSchema(maxEntries: number) {
  return z
    .object({
      v: z.literal(SIP_STATE_VERSION),
      calls: z.array(z.tuple([text, call])).max(maxEntries),
      pendingRegisters: z.array(z.tuple([text, pendingRegister])).max(maxEntries),
      registrations: z.array(z.tuple([text, z.array(id).max(64)])).max(maxEntries),
      phonePorts: z.array(phonePort).max(maxEntries),
    })
    .strict();
}

export type SipState = z.infer<ReturnType<typeof sipStateSchema>>;
export type SavedCall = SipState['calls'][number][1];
export type SavedPendingRegister = SipState['pendingRegisters'][number][1];
export type SavedPhonePort = SipState['phonePorts'][number];
