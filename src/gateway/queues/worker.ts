/**
 * One queue of a multi-queue gateway, on its own thread: its own NAT engine
 * (public ports from its slice only) and ALGs, one queue of each TUN device,
 * the packet loop and the timer that ages its tables. The main thread
 * (queues/gateway.ts) owns routing, steering and the status endpoint, and
 * asks this thread for its counters and listings by message.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { parseGatewayConfig } from '../../control/config/load.js';
import { createLogger, logNatEvent } from '../../control/logging.js';
import { DroppedLogLines } from '../../control/log-dropped.js';
import { logOutputCounters } from '../../control/log-output.js';
import { expectationToJson, flowToJson } from '../../control/status-model.js';
import { openTun, type TunDevice } from '../../dataplane/tun/device.js';
import { GatewayLoop } from '../../dataplane/tun/gateway-loop.js';
import { NatEngine } from '../../nat/engine.js';
import { systemClock } from '../../util/clock.js';
import { cryptoUniform } from '../../util/random.js';
import { kernelOffloadSettings, startKernelOffload } from '../kernel-offload.js';
import { activeAlgs, attachConfiguredAlgs } from '../reload.js';
import type { EngineSlice } from '../../dataplane/tun/steering.js';
import { slicedNatConfig } from './plan.js';
import type { QueueReply, QueueRequest, QueueWorkerData } from './messages.js';

const TICK_MS = 1000;

function main(port: NonNullable<typeof parentPort>, data: QueueWorkerData): void {
  const loaded = parseGatewayConfig(data.configText, data.source);
  const c = loaded.config;
  const clock = systemClock;
  const slice: EngineSlice = data.slice;
  const engineErrors: string[] = [];
  // The engine's events (forwards used, refusals, ALG calls) in the same log, marked with the queue.
  const log = createLogger(c.log.level).child({ queue: data.queue });
  const engine = new NatEngine(slicedNatConfig(loaded.nat, slice), { clock, random: cryptoUniform(), onEvent: (e) => logNatEvent(log, e) });
  const algs = attachConfiguredAlgs(engine, loaded);
  const tun = { multiQueue: true, mtu: c.tun.mtu, batchSize: c.tun.batchSize, offload: c.tun.offload };
  const devices: TunDevice[] = [];
  const close = () => {
    for (const d of devices.splice(0)) d.close();
  };
  const post = (m: QueueReply) => port.postMessage(m);
  let inside: TunDevice;
  let outside: TunDevice;
  try {
    inside = openTun({ name: c.tun.inside, ...tun });
    devices.push(inside);
    outside = openTun({ name: c.tun.outside, ...tun });
    devices.push(outside);
  } catch (err) {
    close();
    post({ type: 'failed', message: (err as Error).message });
    return;
  }
  for (const d of devices) d.onError((err) => post({ type: 'device-error', device: d.name, message: err.message }));
  // Each queue hands its own flows to the kernel, with marks of its own; the main thread made the table.
  const offloadSettings = kernelOffloadSettings(c);
  const kernel = offloadSettings ? startKernelOffload(engine, offloadSettings, data.queue, clock, log) : null;
  const loop = new GatewayLoop(engine, inside, outside, clock, {
    singleHop: c.tun.singleHop,
    mtu: c.tun.mtu,
    coalesceUdp: c.tun.coalesceUdp && inside.offloads?.uso === true && outside.offloads?.uso === true,
    busyPollUs: c.tun.busyPollUs,
    ...(kernel ? { offload: kernel.offload } : {}),
    onEngineError: (err) => {
      if (engineErrors.length < 8) engineErrors.push(String((err as Error)?.stack ?? err));
    },
  });
  loop.start();
  const droppedLogLines = new DroppedLogLines();
  const timer = setInterval(() => {
    engine.tick(clock.now());
    loop.sendEmitted();
    droppedLogLines.check(log, clock.now());
  }, TICK_MS);

  const report = () => ({
    engine: engine.counters.snapshot(),
    loop: loop.counters.snapshot(),
    tun: { inside: inside.stats(), outside: outside.stats() },
    algs: activeAlgs(algs, loaded).map((a) => ({ name: a.name, counters: a.counters() })),
    flows: engine.sizes().flows,
    expectations: engine.sizes().expectations,
    kernelOffload: kernel?.stats() ?? null,
    log: logOutputCounters(),
    engineErrors: engineErrors.splice(0),
  });

  port.on('message', (m: QueueRequest) => {
    const now = clock.now();
    switch (m.type) {
      case 'report':
        post({ type: 'reply', id: m.id, data: report() });
        break;
      case 'flows': {
        const page = engine.flowPage(m.limit, now);
        const name = (id: number) => engine.helperName(id);
        post({ type: 'reply', id: m.id, data: { total: page.total, flows: page.flows.map((f) => flowToJson(f, now, name)) } });
        break;
      }
      case 'expectations':
        post({ type: 'reply', id: m.id, data: engine.listExpectations(now).map((e) => expectationToJson(e, now)) });
        break;
      case 'stop':
        clearInterval(timer);
        kernel?.stop();
        post({ type: 'stopped', data: report() });
        close();
        port.close();
        break;
    }
  });
  post({ type: 'opened', insideFd: inside.fd, outsideFd: outside.fd, uso: loop.coalescingUdp, offload: inside.offloads !== undefined });
}

if (parentPort) main(parentPort, workerData as QueueWorkerData);
