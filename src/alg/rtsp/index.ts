/** The RTSP ALG and its codec: framing, messages, Transport specs. */
export { rtspAlg } from './definition.js';
export { RtspAlg, type RtspAlgOptions, MAX_STREAMS_PER_SESSION } from './alg.js';
export { frameRtspStream, MAX_RTSP_BODY, MAX_RTSP_HEADER } from './framing.js';
export { type RtspMessage, type RtspParse, type SessionHeader, parseRtspMessage, cseqOf, sessionOf } from './message.js';
export { type TransportSpec, type PortRange, type AddressParam, parseTransport, MAX_TRANSPORT_SPECS } from './transport.js';
