import { createAgentCar } from '../agent-car.ts'
import { createRng } from '../prng.ts'
import { createAdminClient, mapLimit, provisionWorld } from '../provision.ts'
import type { SimCar } from '../sim-car.ts'
import {
  benchCloud,
  benchEnv,
  benchLog,
  envNumber,
  fmt,
  forceGc,
  header,
  rssOf,
  saveResult,
} from './bench-common.ts'

/**
 * Memory per simulated vehicle: BENCH_VEHICLES real vehicle agents (dialogue,
 * cloud client, pump link) created and connected to the cloud's broker from
 * this one process, the cloud in its own process. The target is 10,000 in
 * one simulator process (the broker takes at most 10,000 connections per
 * process, its own limit, and the open-file hard limit here is 20,000).
 *
 *   node --expose-gc --import tsx simulators/src/bench/vehicles.bench.ts        (BENCH_VEHICLES=9990 for the target)
 */
const env = benchEnv()
const vehicles = envNumber('BENCH_VEHICLES', 1000)
const machine = header(
  `vehicles: memory per simulated vehicle (real agents), ${vehicles} connected in one process`,
)
const { cloud, close } = await benchCloud(env)
const cars: SimCar[] = []
try {
  const admin = createAdminClient({ httpUrl: cloud.httpUrl, adminToken: cloud.adminToken })
  const tP = performance.now()
  const world = await provisionWorld({
    admin,
    rng: createRng(3),
    stations: 1,
    pumpsPerStation: 2,
    vehicles,
    brokeShare: 0,
    concurrency: 24,
  })
  process.stdout.write(
    `provisioned ${vehicles} vehicles in ${fmt((performance.now() - tP) / 1000)} s\n`,
  )
  await forceGc()
  const m0 = process.memoryUsage()
  for (const plan of world.vehicles)
    cars.push(
      createAgentCar({ plan, httpUrl: cloud.httpUrl, brokerUrl: cloud.mqttUrl, log: benchLog }),
    )
  await forceGc()
  const m1 = process.memoryUsage()
  const tC = performance.now()
  let failed = 0
  await mapLimit(cars, 32, (c) => c.connect().catch(() => void failed++))
  const connectS = (performance.now() - tC) / 1000
  await new Promise((r) => setTimeout(r, 2000))
  await forceGc()
  const m2 = process.memoryUsage()
  const brokerRss = cloud.pid ? rssOf(cloud.pid) : Number.NaN
  const n = Math.max(1, vehicles - failed)
  const kb = (b: number) => fmt(b / 1024)
  process.stdout.write(
    [
      `connected ${vehicles - failed} of ${vehicles} agents in ${fmt(connectS)} s (${fmt((vehicles - failed) / connectS)}/s)`,
      `per vehicle, agent only (not connected): ${kb((m1.heapUsed - m0.heapUsed) / vehicles)} KB heap, ${kb((m1.rss - m0.rss) / vehicles)} KB RSS`,
      `per vehicle, connected (agent + MQTT client + socket): ${kb((m2.heapUsed - m0.heapUsed) / n)} KB heap, ${kb((m2.rss - m0.rss) / n)} KB RSS`,
      `simulator process: ${fmt(m2.rss / 1048576)} MB RSS, ${fmt(m2.heapUsed / 1048576)} MB heap; cloud process (broker side): ${fmt(brokerRss / 1048576)} MB RSS`,
      `gc exposed: ${typeof (globalThis as { gc?: unknown }).gc === 'function' ? 'yes' : 'no (run with node --expose-gc for steadier figures)'}`,
      '',
    ].join('\n'),
  )
  await saveResult('vehicles', {
    machine,
    vehicles,
    failed,
    connectS,
    before: m0,
    agents: m1,
    connected: m2,
    brokerRss,
    perVehicle: {
      agentHeap: (m1.heapUsed - m0.heapUsed) / vehicles,
      agentRss: (m1.rss - m0.rss) / vehicles,
      connectedHeap: (m2.heapUsed - m0.heapUsed) / n,
      connectedRss: (m2.rss - m0.rss) / n,
    },
  })
  if (failed > 0) process.exitCode = 1
} finally {
  await mapLimit(cars, 64, (c) => c.close().catch(() => {}))
  await close()
}

// Figures are printed and saved: do not wait on a socket some component forgot to close.
setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref()
