/**
 * The 1999 behaviour, for comparison (`mode: historical`): what Linux's
 * ip_masq_cuseeme and FreeBSD's alias_cuseeme did. Outbound, a non-zero
 * sender address becomes the public address (the port is left as written);
 * inbound, a non-zero `dest_addr` becomes the inside host's, and in an
 * OpenContinue the first entry equal to the public address becomes the
 * inside address. Both read `client_count` without converting its byte
 * order: on the x86 gateways of the time that is a little-endian read, which
 * the datagram's length then bounds. Reproduced here, so the simulator shows
 * what the HOWTO's users lived with: one CU-SeeMe user per LAN.
 */
import { read16, read32, write32 } from '../../wire/ipv4.js';
import type { AlgFlow, HandleResult } from '../helper.js';
import { rewriteIfChanged } from './rewrite.js';
import { CLIENT_INFO, CU, CU_HEADER, DATA_TYPE_OPEN_CONTINUE, ENTRY_ADDR, entriesThatFit, OC, OC_ENTRIES } from './layout.js';

export function rewriteHistorical(flow: AlgFlow, msg: Uint8Array): HandleResult {
  if (msg.length < CU_HEADER) return { kind: 'pass' };
  const out = new Uint8Array(msg); // a copy: msg may be a Buffer, whose slice() is a view
  if (flow.outbound) {
    if (read32(out, CU.ADDR) !== 0) write32(out, CU.ADDR, flow.publicAddr);
  } else {
    if (read32(out, CU.DEST_ADDR) !== 0) write32(out, CU.DEST_ADDR, flow.insideAddr);
    if (read16(out, CU.DATA_TYPE) === DATA_TYPE_OPEN_CONTINUE && out.length >= OC_ENTRIES) {
      const hostOrderCount = out[OC.CLIENT_COUNT] | (out[OC.CLIENT_COUNT + 1] << 8);
      const n = Math.min(hostOrderCount, entriesThatFit(out.length));
      for (let i = 0, e = OC_ENTRIES; i < n; i++, e += CLIENT_INFO) {
        if (read32(out, e + ENTRY_ADDR) === flow.publicAddr) {
          write32(out, e + ENTRY_ADDR, flow.insideAddr);
          break;
        }
      }
    }
  }
  return rewriteIfChanged(msg, out);
}
