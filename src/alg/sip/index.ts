/** SIP codec and rewriter: the byte-level layer of the SIP ALG and the SIP proxy. */
// The byte-level pieces the SIP API is made of (spans, edits) are shared with other text ALGs: src/alg/text/.
export type { Span } from '../text/span.js';
export { type SipHeader, type SipMessage, type ParseOptions, type ParseResult, type SipTransportKind, parseSipMessage, findHeader, findHeaders, headerValue, unfoldedValue, rawValue, MAX_HEADERS, MAX_CONTENT_LENGTH } from './message.js';
export { type RequestLine, type StatusLine, type StartLine, parseStartLine } from './start-line.js';
export { type FrameResult, frameSipStream, MAX_HEADER_SECTION, SipFrameProgress } from './framing.js';
export { COMPACT_FORMS, HEADER_NAMES, HeaderId, canonicalHeaderName, headerNameId } from './header-names.js';
export { type HostKind, type HostPort, parseHostPort, hostAddress, formatSipHost } from './host.js';
export { type Param, findParam, parseHeaderParams, parseUriParams } from './params.js';
export { type Uri, type UriScheme, parseUri, defaultSipPort } from './uri.js';
export { type AddressEntry, type AddressListResult, parseAddressList, parseSingleAddress } from './address.js';
export { type ViaEntry, type ViaListResult, parseViaList, parseTopVia } from './via.js';
export { type CSeq, type ContentType, parseCSeq, parseCallId, parseDeltaSeconds, paramDeltaSeconds, parseContentType, isSdpContentType, MAX_UINT32 } from './scalars.js';
export { type Edit, edit } from '../text/edit.js';
export { type ApplyResult, applyEdits } from '../text/apply-edits.js';
export type { AddressField, Endpoint, MediaKind, MediaStreamRequest, RewriteContext } from './context.js';
export type { ContactSummary, MediaStreamSummary, SipSummary } from './summary.js';
export { type RewriteResult, rewriteSipMessage } from './rewrite.js';
export { type ProcessResult, processSipMessage } from './process.js';
