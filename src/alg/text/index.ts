/**
 * Byte-preserving text pieces for the ALGs of text protocols (SIP, SDP, FTP,
 * RTSP): spans, character classes, in-place compares and numbers, line and
 * byte scanning, strings when needed, and edits applied in one copy. Hot
 * code imports the modules themselves and copies what it uses into local
 * consts (see "Module bindings" in README.md); this index is for the rest.
 */
export type { Span } from './span.js';
export { CR, LF, SP, HT, COLON, SEMI, COMMA, SLASH, EQUAL, DQUOTE, BACKSLASH, LAQUOT, RAQUOT, AT, QUESTION, LBRACKET, RBRACKET, DOT, STAR } from './ascii.js';
export { isTokenChar, isToken, isDigit, isHexDigit, isAlpha, HOST_CHAR } from './char-class.js';
export { isWsp, isLws, skipLws, trimLwsEnd } from './whitespace.js';
export { lowerAscii, spanEqualsLower } from './case.js';
export { parseUint } from './decimal.js';
export { latin1, flatLatin1, lowerLatin1, asciiBytes } from './latin1.js';
export { internLatin1 } from './intern.js';
export { findLineBreak, findByte, wordView } from './byte-search.js';
export { leadingCrlfLength, crlfLineEnd, BARE_LINE_BREAK, NO_LINE_END } from './crlf-lines.js';
export { isIpv4, isIpv6, isHostname } from './host-text.js';
export { type Edit, edit, editText, numberText } from './edit.js';
export { type ApplyResult, applyEdits } from './apply-edits.js';
