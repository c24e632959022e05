/**
 * Where the fields of a CU-SeeMe packet sit, as the ALG reads them: the packed
 * 26-byte header every packet starts with, and the OpenContinue payload
 * (data_type 101) with its list of 12-byte client_info entries. Network byte
 * order throughout. (The simulator's and the lab's CU-SeeMe peers in
 * src/lab/cuseeme/ have their own codec, written from the same table, so a
 * mistake here cannot hide behind the same mistake there.)
 */

/** Header field offsets. `addr`/`port` are the sender's own; `dest_*` the addressee's. */
export const CU = {
  DEST_FAMILY: 0,
  DEST_PORT: 2,
  DEST_ADDR: 4,
  FAMILY: 8,
  PORT: 10,
  ADDR: 12,
  SEQ: 16,
  MSG: 20,
  DATA_TYPE: 22,
  PACKET_LEN: 24,
} as const;

export const CU_HEADER = 26;

export const DATA_TYPE_OPEN_CONTINUE = 101;

/** OpenContinue payload: client_count (2), seq_no (4), user_name (20), reserved (4); then the entries. */
export const OC = {
  CLIENT_COUNT: 26,
  SEQ_NO: 28,
  USER_NAME: 32,
  RESERVED: 52,
} as const;

/** Where the first client_info entry starts. */
export const OC_ENTRIES = 56;

/** One client_info entry: the participant's address first, then 8 bytes. */
export const CLIENT_INFO = 12;
export const ENTRY_ADDR = 0;
/**
 * masq's reading of the two bytes after the address: the participant's port,
 * as the reflector learned it from that participant's header. The historical
 * modules called all 8 bytes "flags, pruning bitfield, packet counts" and
 * never read them; with several participants behind one public address, the
 * port is what tells them apart (docs/cuseeme.md).
 */
export const ENTRY_PORT = 4;

/** How many whole entries fit between OC_ENTRIES and `length`. */
export function entriesThatFit(length: number): number {
  return length <= OC_ENTRIES ? 0 : Math.floor((length - OC_ENTRIES) / CLIENT_INFO);
}
