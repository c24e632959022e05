/** masq's relay: the fallback path between peers that cannot reach each other directly. */
export { RelayServer, type RelayServerOptions, type RelayCounters } from './relay-server.js';
