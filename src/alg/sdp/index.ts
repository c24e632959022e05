/** SDP parsed to offsets. */
export { type Sdp, type SdpAttribute, type SdpConnection, type SdpMedia, type SdpOrigin, type SdpResult, type SdpRtcp, parseSdp, sdpAttributes } from './sdp.js';
