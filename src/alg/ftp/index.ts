/** The FTP ALG and its codec: control-connection framing and the data addresses it announces. */
export { ftpAlg } from './definition.js';
export { FtpAlg, type FtpAlgOptions } from './alg.js';
export { frameFtpStream, MAX_COMMAND_LINE, MAX_REPLY } from './framing.js';
export { type AnnouncementResult, type DataAnnouncement, type HostPortNumbers, parseCommandAnnouncement, parseReplyAnnouncement, hostPortText } from './announcements.js';
