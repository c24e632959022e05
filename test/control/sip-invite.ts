/** A SIP INVITE with an SDP offer (audio on port 30000) from an inside phone: opens RTP and RTCP pinholes through the SIP ALG. */
export const SIP_PROXY = '198.51.100.10';

export function sipInvite(phone: string, callId: string, proxy = SIP_PROXY): string {
  const body = ['v=0', `o=- 1 1 IN IP4 ${phone}`, 's=-', `c=IN IP4 ${phone}`, 't=0 0', 'm=audio 30000 RTP/AVP 0', ''].join('\r\n');
  return [
    `INVITE sip:bob@${proxy} SIP/2.0`,
    `Via: SIP/2.0/UDP ${phone}:5060;branch=z9hG4bK${callId};rport`,
    `From: <sip:alice@${proxy}>;tag=a1`,
    `To: <sip:bob@${proxy}>`,
    `Call-ID: ${callId}`,
    'CSeq: 1 INVITE',
    `Contact: <sip:alice@${phone}:5060>`,
    'Content-Type: application/sdp',
    `Content-Length: ${body.length}`,
    '',
    body,
  ].join('\r\n');
}
