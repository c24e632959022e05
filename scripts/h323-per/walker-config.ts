/**
 * What the generated walkers report and where they may stop: the paths of
 * H.225.0 and H.245 that lead to transport addresses and to the values the
 * ALG acts on. Type ids are "MODULE.Type"; a component of an inline type is
 * "MODULE.Type.component".
 */
import type { CTX, EV } from '../../src/alg/h323/per-events.js';

export const H225 = 'H323-MESSAGES';
export const H245 = 'MULTIMEDIA-SYSTEM-CONTROL';
export const H235 = 'H235-SECURITY-MESSAGES';

/** The entry points, and the names they are exported under. */
export const ROOTS: Record<string, string> = {
  [`${H225}.H323-UserInformation`]: 'walkH323UserInformation',
  [`${H225}.RasMessage`]: 'walkRasMessage',
  [`${H245}.MultimediaSystemControlMessage`]: 'walkMultimediaSystemControlMessage',
  [`${H245}.OpenLogicalChannel`]: 'walkOpenLogicalChannel',
};

/** CHOICE alternatives that are an IPv4 transport address: 4 octets, then a 16-bit port. */
export const ADDRESS_ALTERNATIVES: Record<string, string> = {
  [`${H225}.TransportAddress`]: 'ipAddress',
  [`${H245}.UnicastAddress`]: 'iPAddress',
};

/** Types that report their addresses under the component that names them (mediaChannel, not unicastAddress). */
export const FIELD_TRANSPARENT = new Set([`${H225}.TransportAddress`, `${H245}.TransportAddress`, `${H245}.UnicastAddress`]);

/** Components, by name wherever they occur, whose contents carry a context flag. */
export const CONTEXT_COMPONENTS: Record<string, keyof typeof CTX> = {
  fastStart: 'FAST_START',
  h245Control: 'H245_CONTROL',
  parallelH245Control: 'PARALLEL_H245',
  forwardLogicalChannelParameters: 'FORWARD',
  reverseLogicalChannelParameters: 'REVERSE',
  separateStack: 'SEPARATE_STACK',
  forwardMultiplexAckParameters: 'FORWARD_ACK',
};

/** SEQUENCE OF OCTET STRING components of H.225.0 whose octets are an encoding of an H.245 type. */
export const NESTED_COMPONENTS: Record<string, string> = {
  fastStart: `${H245}.OpenLogicalChannel`,
  h245Control: `${H245}.MultimediaSystemControlMessage`,
  parallelH245Control: `${H245}.MultimediaSystemControlMessage`,
};

/** CHOICEs (a type, or an inline component) whose alternative is reported. */
export const CHOICE_EVENTS: Record<string, keyof typeof EV> = {
  [`${H225}.H323-UU-PDU.h323-message-body`]: 'BODY',
  [`${H225}.RasMessage`]: 'RAS',
  [`${H225}.FacilityReason`]: 'FACILITY_REASON',
  [`${H245}.MultimediaSystemControlMessage`]: 'H245_KIND',
  [`${H245}.RequestMessage`]: 'H245_REQUEST',
  [`${H245}.ResponseMessage`]: 'H245_RESPONSE',
  [`${H245}.CommandMessage`]: 'H245_COMMAND',
  [`${H245}.IndicationMessage`]: 'H245_INDICATION',
  [`${H245}.DataType`]: 'DATA_TYPE',
};

/** INTEGER and BOOLEAN values reported: a type (every use), or a component. */
export const VALUE_EVENTS: Record<string, keyof typeof EV> = {
  [`${H225}.RequestSeqNum`]: 'SEQNUM',
  [`${H225}.TimeToLive`]: 'TTL',
  [`${H225}.RegistrationRequest.keepAlive`]: 'KEEPALIVE',
  [`${H225}.GenericIdentifier.standard`]: 'GENERIC_STD',
  [`${H245}.OpenLogicalChannel.forwardLogicalChannelNumber`]: 'LCN',
  [`${H245}.OpenLogicalChannelAck.forwardLogicalChannelNumber`]: 'LCN',
  [`${H245}.CloseLogicalChannel.forwardLogicalChannelNumber`]: 'LCN',
};

/** OBJECT IDENTIFIER components that may name an H.460 feature. */
export const OID_EVENTS = new Set([`${H225}.GenericIdentifier.oid`, `${H245}.CapabilityIdentifier.standard`]);

/**
 * Top-level CHOICEs, and the alternatives the ALG needs walked. Each of
 * these ends its encoding, so with nothing following (a RAS datagram, one
 * tunnelled H.245 message) the walk may stop at any other alternative
 * instead of walking through it (a TerminalCapabilitySet tunnelled in a
 * Setup). Where more may follow (H.245 messages on their own connection),
 * every alternative is walked.
 */
export const STOP_CHOICES: Record<string, readonly string[]> = {
  [`${H225}.RasMessage`]: [
    'gatekeeperRequest',
    'gatekeeperConfirm',
    'registrationRequest',
    'registrationConfirm',
    'registrationReject',
    'unregistrationRequest',
    'unregistrationConfirm',
    'admissionRequest',
    'admissionConfirm',
    'locationRequest',
    'locationConfirm',
    'infoRequestResponse',
  ],
  [`${H245}.RequestMessage`]: ['openLogicalChannel', 'closeLogicalChannel'],
  [`${H245}.ResponseMessage`]: ['openLogicalChannelAck'],
  [`${H245}.CommandMessage`]: [],
  [`${H245}.IndicationMessage`]: [],
};

/** Field names the ALG compares against (exported as constants; every name has an id in FIELD_NAMES). */
export const FIELD_CONSTANTS = [
  'h245Address',
  'sourceCallSignalAddress',
  'destCallSignalAddress',
  'srcCallSignalAddress',
  'callSignalAddress',
  'rasAddress',
  'replyAddress',
  'alternativeAddress',
  'mediaChannel',
  'mediaControlChannel',
  'localAreaAddress',
];
