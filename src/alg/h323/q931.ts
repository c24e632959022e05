/**
 * Q.931 as H.225.0 carries it after the TPKT header: protocol discriminator
 * 0x08, call reference (a length octet, then the value with the flag in its
 * top bit), message type, information elements. Single-octet elements have
 * the top bit set; the others are an identifier, a length octet and their
 * contents, except the User-User element (0x7E), which H.225.0 gives a
 * 16-bit length. Its contents are a protocol discriminator (5: X.208/X.209
 * coded user information) and the PER-encoded H323-UserInformation.
 *
 * Shifts (Q.931 4.5.2-4.5.3) move later elements to another codeset; only
 * codeset 0's User-User element is H.225.0's. Every length is checked
 * against the message end; a User-User element with no contents at all is
 * refused (the kernel once read the protocol discriminator from before its
 * start: CVE-2026-23455).
 */

export const Q931_DISCRIMINATOR = 0x08;
export const IE_USER_USER = 0x7e;

/** Q.931 message types H.225.0 uses. */
export const Q931 = {
  ALERTING: 0x01,
  CALL_PROCEEDING: 0x02,
  PROGRESS: 0x03,
  SETUP: 0x05,
  CONNECT: 0x07,
  SETUP_ACKNOWLEDGE: 0x0d,
  RELEASE_COMPLETE: 0x5a,
  FACILITY: 0x62,
  NOTIFY: 0x6e,
  STATUS_ENQUIRY: 0x75,
  INFORMATION: 0x7b,
  STATUS: 0x7d,
} as const;

export interface Q931Message {
  /** The call reference value without its flag bit. */
  callReference: number;
  /** The flag: 0 from the side that allocated the call reference, 1 from the other. */
  fromDestination: boolean;
  messageType: number;
  /** Where the PER encoding in the User-User element begins and ends (after its discriminator); -1 with none. */
  userInfoStart: number;
  userInfoEnd: number;
}

/** Parses the Q.931 message in b[start, end); a string says why it is not one. */
export function parseQ931(b: Uint8Array, start: number, end: number): Q931Message | string {
  if (end - start < 3) return 'Q.931 message shorter than its header';
  if (b[start] !== Q931_DISCRIMINATOR) return `Q.931 protocol discriminator ${b[start]}, not 8`;
  const crLength = b[start + 1] & 0x0f;
  if (b[start + 1] & 0xf0) return 'Q.931 call reference length octet has its spare bits set';
  if (crLength > 4) return `Q.931 call reference of ${crLength} octets`;
  let p = start + 2;
  if (p + crLength + 1 > end) return 'Q.931 message ends inside its call reference';
  let callReference = 0;
  let fromDestination = false;
  for (let i = 0; i < crLength; i++) {
    let v = b[p + i];
    if (i === 0) {
      fromDestination = (v & 0x80) !== 0;
      v &= 0x7f;
    }
    callReference = callReference * 256 + v;
  }
  p += crLength;
  const messageType = b[p++];
  if (messageType & 0x80) return `Q.931 message type ${messageType} has its top bit set`;
  let userInfoStart = -1;
  let userInfoEnd = -1;
  let codeset = 0;
  let nextCodeset = -1; // a non-locking shift: the next element only
  while (p < end) {
    const id = b[p];
    const current = nextCodeset >= 0 ? nextCodeset : codeset;
    nextCodeset = -1;
    if (id & 0x80) {
      // A single-octet element; 0x9X is a shift (bit 3: non-locking).
      if ((id & 0xf0) === 0x90) {
        if (id & 0x08) nextCodeset = id & 0x07;
        else codeset = id & 0x07;
      }
      p++;
      continue;
    }
    if (id === IE_USER_USER && current === 0) {
      if (p + 3 > end) return 'Q.931 message ends inside the User-User element header';
      const length = (b[p + 1] << 8) | b[p + 2];
      const contents = p + 3;
      if (contents + length > end) return `User-User element of ${length} octets runs past the message`;
      if (length < 1) return 'User-User element with no protocol discriminator';
      if (userInfoStart >= 0) return 'two User-User elements';
      userInfoStart = contents + 1;
      userInfoEnd = contents + length;
      p = contents + length;
      continue;
    }
    if (p + 2 > end) return 'Q.931 message ends inside an element header';
    const length = b[p + 1];
    if (p + 2 + length > end) return `Q.931 element 0x${id.toString(16)} of ${length} octets runs past the message`;
    p += 2 + length;
  }
  return { callReference, fromDestination, messageType, userInfoStart, userInfoEnd };
}
