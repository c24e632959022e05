/**
 * The event log of the long-running services (`masq stun serve`, `masq
 * rendezvous serve`, `masq relay serve`): one line per event on stdout, as
 * JSON with --json-log or as `time event key=value ...` for people.
 */
export type LogFields = Record<string, unknown>;

export function makeLogger(json: boolean): (event: string, fields?: LogFields) => void {
  return (event: string, fields: LogFields = {}) => {
    if (json) {
      process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), event, ...fields })}\n`);
    } else {
      const rest = Object.entries(fields)
        .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
        .join(' ');
      process.stdout.write(`${new Date().toISOString()} ${event}${rest ? ` ${rest}` : ''}\n`);
    }
  };
}
