/**
 * A hand-built H.225.0 call signalling message, for the NAT Slipstreaming v2
 * scenario: TPKT (RFC 1006), Q.931 Setup with a bearer capability, and the
 * user-user information element carrying an H323-UserInformation in aligned
 * PER (ITU-T X.691) whose Setup-UUIE names an h245Address. Only the fields a
 * Setup needs are written; the encoding follows the H.225.0 ASN.1 module
 * (version 4 protocol identifier 0.0.8.2250.0.4).
 */

/** Writes bits most significant first, and aligns to octets where aligned PER does. */
class PerWriter {
  private readonly bytes: number[] = [];
  private bits = 0;

  bit(b: number): this {
    if (this.bits % 8 === 0) this.bytes.push(0);
    if (b) this.bytes[this.bytes.length - 1] |= 0x80 >> this.bits % 8;
    this.bits++;
    return this;
  }

  number(value: number, width: number): this {
    for (let i = width - 1; i >= 0; i--) this.bit((value >> i) & 1);
    return this;
  }

  align(): this {
    this.bits = Math.ceil(this.bits / 8) * 8;
    return this;
  }

  octets(b: readonly number[]): this {
    this.align();
    this.bytes.push(...b);
    this.bits += 8 * b.length;
    return this;
  }

  done(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

function ipv4Octets(addr: string): number[] {
  return addr.split('.').map(Number);
}

/** The H323-UserInformation of a Setup naming `h245` as its H.245 address. */
export function setupUserInformation(h245: { address: string; port: number }, conferenceId: number[] = new Array(16).fill(0x5a)): Uint8Array {
  const w = new PerWriter();
  w.bit(0).bit(0); // H323-UserInformation: no extension, no user-data
  w.bit(0).bit(0); // H323-UU-PDU: no extension, no nonStandardData
  w.bit(0).number(0, 3); // h323-message-body: setup (0 of 7 root alternatives)
  // Setup-UUIE: no extension; OPTIONAL present: h245Address only (of h245Address, sourceAddress,
  // destinationAddress, destCallSignalAddress, destExtraCallInfo, destExtraCRV, callServices).
  w.bit(0).bit(1).number(0, 6);
  w.octets([6, 0x00, 0x08, 0x91, 0x4a, 0x00, 0x04]); // protocolIdentifier 0.0.8.2250.0.4, length-prefixed
  w.bit(0).number(0, 3); // h245Address: TransportAddress ipAddress (0 of 7)
  w.octets(ipv4Octets(h245.address)); // ip: OCTET STRING (SIZE(4))
  w.octets([h245.port >> 8, h245.port & 0xff]); // port: INTEGER (0..65535)
  w.bit(0).number(0, 6).bit(0).bit(0); // sourceInfo EndpointType: nothing optional, mc FALSE, undefinedNode FALSE
  w.bit(0); // activeMC FALSE
  w.octets(conferenceId); // conferenceID: OCTET STRING (SIZE(16))
  w.bit(0).number(0, 2); // conferenceGoal: create
  w.bit(0).number(0, 2); // callType: pointToPoint
  return w.done();
}

/** TPKT + Q.931 Setup (call reference `callRef`) carrying `uuie` in a user-user IE. */
export function q931Setup(uuie: Uint8Array, callRef = 0x1234): Uint8Array {
  const q931 = [0x08, 0x02, callRef >> 8, callRef & 0xff, 0x05]; // protocol discriminator, call reference, Setup
  q931.push(0x04, 0x03, 0x88, 0x90, 0xa5); // bearer capability: unrestricted digital, 64 kbit/s, H.221
  const uu = [0x05, ...uuie]; // user-user: protocol discriminator X.208/X.209 coded user information
  q931.push(0x7e, uu.length >> 8, uu.length & 0xff, ...uu);
  const total = 4 + q931.length;
  return Uint8Array.from([0x03, 0x00, total >> 8, total & 0xff, ...q931]);
}

/** A Setup whose H.245 address is `address:port`. */
export function h225Setup(address: string, port: number): Uint8Array {
  return q931Setup(setupUserInformation({ address, port }));
}
