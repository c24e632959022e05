/** The routing a gateway configuration asks for, in the terms of the TUN dataplane's routing plan. */
import type { LoadedGatewayConfig } from '../control/config/load.js';
import type { RoutingSpec } from '../dataplane/tun/gateway-routing.js';
import { ipv4ToString, prefixToString } from '../wire/address.js';
import { kernelOffloadSettings } from './kernel-offload.js';

export function routingSpecOf(loaded: LoadedGatewayConfig): RoutingSpec {
  const c = loaded.config;
  const offload = kernelOffloadSettings(c);
  return {
    insideInterfaces: c.interfaces.inside,
    outsideInterface: c.interfaces.outside,
    insidePrefixes: loaded.nat.inside.map(prefixToString),
    publicAddrs: loaded.nat.publicAddrs.map(ipv4ToString),
    publicDelivery: c.publicDelivery,
    tunInside: c.tun.inside,
    tunOutside: c.tun.outside,
    tunQueueLength: c.tun.queueLength,
    table: c.routing.table,
    priority: c.routing.priority,
    ...(offload ? { kernelOffload: { table: offload.table, markBit: offload.markBit } } : {}),
  };
}
