/**
 * A span: where a piece of a message lies in the message's bytes. Codecs
 * record spans instead of copying text, so a rewrite can replace exactly the
 * bytes a field occupies and leave every other byte as it was.
 */

/** A half-open byte range [start, end) into the message buffer. */
export interface Span {
  start: number;
  end: number;
}
