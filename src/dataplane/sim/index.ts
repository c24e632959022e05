/**
 * masq's simulated network: virtual hosts, links and NAT boxes running the masq
 * engine on a virtual clock. Use it to test P2P code against every kind of NAT:
 * hosts expose the same UdpSocket/NetEnv interface as real sockets.
 */
export { Simulator, type SimulatorOptions, type NatBoxOptions } from './network.js';
export { Segment, type LinkOptions, type PacketTap } from './segment.js';
export { SimHost, AddressInUseError, type ReceivedIcmpError } from './host.js';
export { SimRouter } from './router.js';
export { SimNatBox } from './nat-box.js';
export { SimNode, type SimInterface, type Route } from './node.js';
export { SimTcpConnection, SimTcpStack, type TcpState, type SimTcpListener } from './tcp.js';
export { VirtualScheduler } from './scheduler.js';
export { NAT_PROFILES, natProfile, type NatProfile, type NatProfileName } from './profiles.js';
export { seededRandom } from './random.js';
