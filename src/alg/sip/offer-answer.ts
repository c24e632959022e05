/**
 * Which SIP messages may carry an SDP offer or answer (RFC 3264 on SIP: RFC
 * 3261 13 for INVITE and ACK, RFC 3262 for PRACK, RFC 3311 for UPDATE): only
 * their bodies describe the media of a session, so only they are scanned and
 * rewritten. An SDP body in a message of a method that never negotiates a
 * session (a MESSAGE or NOTIFY carrying one, the capabilities in a 200 to
 * OPTIONS) or in a response that cannot hold an answer (100 Trying, a final
 * 3xx to 6xx) sets up nothing: it is passed as written and opens no pinhole.
 *
 * Extension methods not named here keep the old reading (scanned): a method
 * this table does not know may set up media, and the phone's own addresses
 * are the only ones a scan can map either way.
 */

/** Methods defined to never carry an offer or answer, nor their responses. */
const NEVER_NEGOTIATES = new Set([
  'REGISTER', // RFC 3261 10
  'OPTIONS', // RFC 3261 11: a body there lists capabilities
  'BYE', // RFC 3261 15
  'CANCEL', // RFC 3261 9
  'MESSAGE', // RFC 3428
  'INFO', // RFC 6086
  'SUBSCRIBE', // RFC 6665
  'NOTIFY', // RFC 6665
  'PUBLISH', // RFC 3903
  'REFER', // RFC 3515
]);

/**
 * The message may carry an offer or answer. A request: its `method` is not
 * one that never negotiates. A response (`status`): a provisional after 100
 * or a 2xx, to a request (`cseqMethod`, the method its CSeq names) that may
 * negotiate.
 */
export function carriesOfferAnswer(isRequest: boolean, method: string, status: number, cseqMethod: string): boolean {
  if (isRequest) return !NEVER_NEGOTIATES.has(method);
  return status > 100 && status < 300 && !NEVER_NEGOTIATES.has(cseqMethod);
}
