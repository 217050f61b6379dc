import { setTimeout as sleep } from 'node:timers/promises'
import { type SaleReportResponse, signClientAssertion } from '@fuelpay/proto'
import type { Logger } from 'pino'
import {
  type CloudTarget,
  cloudSessionFacts,
  ledgerFact,
  startCloudTarget,
} from './cloud-target.ts'
import type { SimConfig } from './config.ts'
import {
  type CloudSessionFact,
  checkInvariants,
  type Facts,
  type PumpFact,
  type RunFact,
  type SaleFact,
} from './invariants.ts'
import { machineInfo } from './machine.ts'
import { createRng, type Rng } from './prng.ts'
import { createProgress } from './progress.ts'
import {
  createAdminClient,
  mapLimit,
  provisionWorld,
  type StationPlan,
  type VehiclePlan,
  type World,
} from './provision.ts'
import type { SimReport } from './report.ts'
import { createRunStats, type RunStats } from './run-stats.ts'
import { type Arrival, arrivals } from './scenario.ts'
import type { SimCar } from './sim-car.ts'
import { type StationSim, startStationSim } from './station-sim.ts'

/**
 * A load run: a cloud, M stations of K pumps running the real controller on
 * simulated dispensers, N cars, sessions arriving as a Poisson process with a
 * scenario mix; at the end, the invariants over everything that happened.
 *
 * @example const report = await runSimulation(config, { log, carFactory, stderr: process.stderr })
 */
export interface RunDeps {
  log: Logger
  /** Makes the car for a vehicle plan (the real agent in load runs). */
  carFactory: CarFactory
  stderr: NodeJS.WritableStream
  command?: string
  /** PGlite data directory for the in-process cloud (tests hand in a pre-initialised copy). */
  cloudDataDir?: string
  /** Called once the world is up (tests use it to look inside). */
  onReady?: (ctx: { target: CloudTarget; world: World; stations: StationSim[] }) => void
}

export type CarFactory = (ctx: {
  plan: VehiclePlan
  target: CloudTarget
  world: World
  timeScale: number
  log: Logger
}) => SimCar

interface SaleAnswer {
  status: number
  body: SaleReportResponse | undefined
  atMs: number
}

export async function runSimulation(cfg: Readonly<SimConfig>, deps: RunDeps): Promise<SimReport> {
  const { log } = deps
  const startedAt = new Date().toISOString()
  const notes: string[] = []
  const rng = createRng(cfg.seed)
  // Every connected car is one socket here, and one more in the broker when it runs in this process.
  const fdLimit = openFileSoftLimit()
  const fdsNeeded =
    (cfg.connectAll ? cfg.vehicles : Math.min(cfg.vehicles, Math.ceil(cfg.ratePerS * 30))) *
      (cfg.cloudUrl || cfg.spawnCloud ? 1 : 2) +
    cfg.stations * 3 +
    256
  if (fdsNeeded > fdLimit) {
    const msg = `about ${fdsNeeded} open files needed, the limit is ${fdLimit}${cfg.cloudUrl || cfg.spawnCloud ? '' : '; --spawn-cloud moves the broker side of every connection to the cloud process'}`
    if (cfg.connectAll) throw new Error(msg)
    notes.push(msg)
  }
  const target = await startCloudTarget({
    mode: cfg.cloudUrl ? 'external' : cfg.spawnCloud ? 'spawn' : 'in-process',
    databaseUrl: cfg.databaseUrl,
    httpUrl: cfg.cloudUrl,
    mqttUrl: cfg.brokerUrl,
    adminToken: cfg.adminToken,
    log,
    logLevel: cfg.logLevel,
    dataDir: deps.cloudDataDir,
    // BENCH_CLOUD_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles a spawned cloud here too.
    nodeArgs: process.env.BENCH_CLOUD_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? [],
  })
  const stations: StationSim[] = []
  const cars: SimCar[] = []
  const answers = new Map<string, SaleAnswer>()
  const answerWaiters = new Map<string, (a: SaleAnswer | undefined) => void>()
  let closing = false
  const onSaleAnswer = (a: SaleAnswer) => {
    const id = a.body?.sessionId
    if (!id || (a.status !== 200 && a.status !== 201)) return
    // The first acknowledgement is the capture; a retried delivery's answer is the stored one.
    if (answers.has(id)) return
    answers.set(id, a)
    answerWaiters.get(id)?.(a)
  }
  const waitAnswer = (sessionId: string, timeoutMs: number): Promise<SaleAnswer | undefined> => {
    const have = answers.get(sessionId)
    if (have || closing) return Promise.resolve(have)
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        answerWaiters.delete(sessionId)
        resolve(undefined)
      }, timeoutMs)
      answerWaiters.set(sessionId, (a) => {
        clearTimeout(timer)
        answerWaiters.delete(sessionId)
        resolve(a)
      })
    })
  }
  try {
    const say = (t: string) => deps.stderr.write(`${t}\n`)
    say(`cloud ${target.mode} at ${target.httpUrl} (broker ${target.mqttUrl})`)
    const admin = createAdminClient({ httpUrl: target.httpUrl, adminToken: target.adminToken })
    const t0 = performance.now()
    const world = await provisionWorld({
      admin,
      rng: rng.fork('world'),
      stations: cfg.stations,
      pumpsPerStation: cfg.pumpsPerStation,
      vehicles: cfg.vehicles,
      brokeShare: cfg.mix.declined > 0 ? Math.max(0.02, Math.min(0.2, cfg.mix.declined / 100)) : 0,
    })
    say(
      `provisioned ${cfg.stations} stations x ${cfg.pumpsPerStation} pumps and ${cfg.vehicles} vehicles in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    )

    const t1 = performance.now()
    await mapLimit(world.stations, 4, async (plan) => {
      stations.push(
        await startStationSim({
          plan,
          httpUrl: target.httpUrl,
          brokerUrl: target.mqttUrl,
          log,
          timeScale: cfg.timeScale,
          onSaleAnswer,
        }),
      )
    })
    say(
      `started ${stations.length} pump controllers in ${((performance.now() - t1) / 1000).toFixed(1)} s`,
    )
    const stationById = new Map(stations.map((s) => [s.plan.id, s]))

    for (const plan of world.vehicles)
      cars.push(deps.carFactory({ plan, target, world, timeScale: cfg.timeScale, log }))
    if (cfg.connectAll) {
      const t2 = performance.now()
      const mem0 = process.memoryUsage().rss
      await mapLimit(cars, 64, (c) => c.connect())
      const perCar = (process.memoryUsage().rss - mem0) / Math.max(1, cars.length)
      say(
        `connected ${cars.length} vehicles in ${((performance.now() - t2) / 1000).toFixed(1)} s (~${(perCar / 1024).toFixed(1)} KB RSS each)`,
      )
      notes.push(
        `connected all ${cars.length} vehicles at start; RSS grew ~${(perCar / 1024).toFixed(1)} KB per vehicle`,
      )
    }
    deps.onReady?.({ target, world, stations })

    const stats = createRunStats()
    const pool = createPools(world, stations, rng.fork('pick'))
    let active = 0
    const progress = createProgress({
      stream: deps.stderr as NodeJS.WriteStream,
      totalS: cfg.durationS,
      enabled: cfg.progress,
      read: () => ({
        ...stats.live(),
        active,
        phase: stats.elapsedMs() > cfg.durationS * 1000 ? 'draining' : undefined,
      }),
    })
    progress.start()
    const sessions: Promise<void>[] = []
    const ctx: SessionCtx = { cfg, stats, cars, stationById, waitAnswer, log, pool }
    for (const a of arrivals(rng.fork('arrivals'), {
      ratePerS: cfg.ratePerS,
      durationS: cfg.durationS,
      mix: cfg.mix,
    })) {
      const wait = a.atMs - stats.elapsedMs()
      if (wait > 0) await sleep(wait)
      active++
      sessions.push(
        runSession(ctx, a)
          .catch((err: unknown) => {
            stats.error('SIM_CRASH')
            log.error({ err, seq: a.seq }, 'session script failed')
          })
          .finally(() => {
            active--
          }),
      )
    }
    const rest = cfg.durationS * 1000 - stats.elapsedMs()
    if (rest > 0) await sleep(rest)
    // Drain: sessions in flight finish (each of their waits is bounded too).
    // The drain's timer is cancelled when the sessions finish first, or it
    // would keep the process alive for the rest of the drain.
    const drainTimer = new AbortController()
    const drained = await Promise.race([
      Promise.all(sessions).then(() => true),
      sleep(cfg.drainS * 1000, false, { signal: drainTimer.signal }).catch(() => false),
    ])
    drainTimer.abort()
    const inFlight = drained ? 0 : active
    if (!drained)
      notes.push(`drain timed out after ${cfg.drainS} s with ${inFlight} sessions in flight`)
    // Then every station's store-and-forward backlog empties.
    const backlogDeadline = performance.now() + cfg.drainS * 1000
    let undelivered = 0
    for (;;) {
      undelivered = (await Promise.all(stations.map((s) => s.journal.backlog()))).reduce(
        (a, b) => a + b,
        0,
      )
      if (undelivered === 0) break
      if (performance.now() > backlogDeadline) {
        notes.push(`${undelivered} sales still undelivered after the drain`)
        break
      }
      await sleep(200)
    }
    progress.stop()

    const statsReport = stats.report()
    const facts = await gatherFacts(target, stations, {
      started: statsReport.totals.started ?? 0,
      finished: statsReport.totals.finished ?? 0,
      crashed: statsReport.errors.SIM_CRASH ?? 0,
      inFlight,
      undelivered,
    })
    const invariants = checkInvariants(facts)
    return {
      tool: 'fuelpay-simulator',
      name: cfg.name ?? `sim-${startedAt.replace(/[:.]/g, '-')}`,
      startedAt,
      command: deps.command ?? '',
      config: {
        ...cfg,
        adminToken: cfg.adminToken ? '[redacted]' : undefined,
        cloudMode: target.mode,
      },
      machine: machineInfo(),
      stats: statsReport,
      invariants,
      ok: invariants.every((i) => i.ok),
      notes,
      extra: {
        salesInJournals: facts.sales.length,
        cloudSessions: facts.cloudSessions.length,
        memoryRssMb: Math.round(process.memoryUsage().rss / 1048576),
      },
    }
  } finally {
    // Sessions the drain gave up on stop waiting for their sale now, or
    // their timers (up to the offline time plus 30 s) would keep the process alive.
    closing = true
    for (const release of [...answerWaiters.values()]) release(undefined)
    await mapLimit(cars, 64, (c) => c.close().catch(() => {}))
    await Promise.all(stations.map((s) => s.stop().catch(() => {})))
    await target.close()
  }
}

// Picking who arrives where ----------------------------------------------------

interface Pools {
  takeVehicle(broke: boolean): VehiclePlan | undefined
  giveVehicle(v: VehiclePlan): void
  takePump(): { station: StationPlan; pump: number } | undefined
  givePump(stationId: string, pump: number): void
}

/** Free cars and free pumps, picked at random from the seeded stream. */
function createPools(world: World, stations: StationSim[], rng: Rng): Pools {
  const freeCars = {
    normal: world.vehicles.filter((v) => !v.broke),
    broke: world.vehicles.filter((v) => v.broke),
  }
  const byId = new Map(stations.map((s) => [s.plan.id, s.plan]))
  const freePumps: Array<[string, number]> = stations.flatMap((s) =>
    s.plan.pumps.map((p) => [s.plan.id, p.pump] as [string, number]),
  )
  const takeRandom = <T>(list: T[]): T | undefined => {
    if (list.length === 0) return undefined
    const i = rng.int(0, list.length - 1)
    const item = list[i] as T
    list[i] = list[list.length - 1] as T
    list.pop()
    return item
  }
  return {
    takeVehicle: (broke) => takeRandom(broke ? freeCars.broke : freeCars.normal),
    giveVehicle: (v) => (v.broke ? freeCars.broke : freeCars.normal).push(v),
    takePump() {
      const p = takeRandom(freePumps)
      return p ? { station: byId.get(p[0]) as StationPlan, pump: p[1] } : undefined
    },
    givePump: (stationId, pump) => freePumps.push([stationId, pump]),
  }
}

// One session's script ----------------------------------------------------------

/**
 * Sessions that arrive after this are also counted in the `.steady`
 * latencies: the first seconds of a run pay for warm-up (JIT, new database
 * connections, first statements prepared), which a long-running service pays once.
 */
const STEADY_AFTER_MS = 2000

interface SessionCtx {
  cfg: Readonly<SimConfig>
  stats: RunStats
  cars: SimCar[]
  stationById: Map<string, StationSim>
  waitAnswer(sessionId: string, timeoutMs: number): Promise<SaleAnswer | undefined>
  log: Logger
  pool: Pools
}

async function runSession(ctx: SessionCtx, a: Arrival): Promise<void> {
  const { stats, pool, cfg } = ctx
  const broke = a.scenario === 'declined'
  const vehicle = pool.takeVehicle(broke)
  if (!vehicle) {
    stats.count('skipped')
    stats.outcome(a.scenario, 'no-free-vehicle')
    return
  }
  const spot = pool.takePump()
  if (!spot) {
    pool.giveVehicle(vehicle)
    stats.count('skipped')
    stats.outcome(a.scenario, 'no-free-pump')
    return
  }
  const car = ctx.cars[vehicle.index] as SimCar
  const station = ctx.stationById.get(spot.station.id) as StationSim
  const dispenser = station.dispensers.get(spot.pump)
  const scaledMs = (simS: number) => (simS * 1000) / cfg.timeScale
  // Longest a sale may take to reach the cloud: a station-offline outage plus retries.
  const settleMs = scaledMs(cfg.offlineS) + 30_000
  try {
    stats.count('started')
    const t0 = performance.now()
    const start = await car.startFueling({
      station: spot.station,
      pump: spot.pump,
      amountMinor: a.amountMinor,
      duplicate: a.scenario === 'duplicate',
      timeoutMs: 20_000,
    })
    if (!start.ok) {
      const code = start.reason?.code ?? 'SIM_NO_REASON'
      if (
        broke &&
        start.stage === 'hold' &&
        ['INSUFFICIENT_FUNDS', 'DECLINED', 'CARD_EXPIRED'].includes(code)
      ) {
        stats.latency('declined', performance.now() - t0)
        stats.outcome(a.scenario, 'declined')
        stats.count('finished')
        return
      }
      stats.error(start.reason ? code : `SIM_${start.stage.toUpperCase()}_FAILED`)
      stats.outcome(a.scenario, `failed:${code}`)
      ctx.log.warn(
        { scenario: a.scenario, stage: start.stage, detail: start.detail, reason: start.reason },
        'session did not start',
      )
      return
    }
    if (broke) {
      stats.error('SIM_DECLINE_EXPECTED')
      stats.outcome(a.scenario, 'approved-unexpectedly')
    }
    stats.latency('authorize', start.authorizedAtMs - t0)
    if (a.atMs >= STEADY_AFTER_MS) stats.latency('authorize.steady', start.authorizedAtMs - t0)
    stats.latency('hold', start.heldAtMs - t0)
    stats.count('authorized')
    const sessionId = start.sessionId

    if (a.scenario === 'cancel') {
      await sleep(scaledMs(2))
      const c = await car.cancel(sessionId)
      if (!c.ok) stats.error(`SIM_CANCEL_${c.detail}`)
      const ans = await ctx.waitAnswer(sessionId, settleMs)
      recordSettled(ctx, a, ans, undefined, 'voided')
      return
    }
    if (a.scenario === 'abandoned') {
      const ans = await ctx.waitAnswer(sessionId, scaledMs(60) + settleMs)
      recordSettled(ctx, a, ans, undefined, 'voided')
      return
    }
    if (!dispenser) throw new Error(`no dispenser ${spot.station.id}/${spot.pump}`)
    await sleep(scaledMs(a.liftDelayS))
    if (!dispenser.lift()) {
      stats.error('SIM_LIFT_REFUSED')
      stats.outcome(a.scenario, 'lift-refused')
      return
    }
    await fill(dispenser, a, () => car.drop(), scaledMs(900))
    if (a.scenario === 'station-offline')
      station.goOffline(performance.now() + scaledMs(cfg.offlineS))
    const hungUpAt = performance.now()
    if (!dispenser.hangUp()) stats.error('SIM_HANGUP_REFUSED')
    const ans = await ctx.waitAnswer(sessionId, settleMs)
    recordSettled(ctx, a, ans, hungUpAt, 'captured')
    if (a.scenario !== 'disconnect') {
      // The car hears of its sale too (not checked for a car that dropped off).
      await car.waitSale(sessionId, 5000).catch(() => stats.error('SIM_CAR_NOT_TOLD'))
    }
  } finally {
    pool.givePump(spot.station.id, spot.pump)
    pool.giveVehicle(vehicle)
  }
}

function recordSettled(
  ctx: SessionCtx,
  a: Arrival,
  ans: SaleAnswer | undefined,
  hungUpAt: number | undefined,
  expect: 'captured' | 'voided',
) {
  const { stats } = ctx
  if (!ans) {
    stats.error('SIM_SALE_NOT_SETTLED')
    stats.outcome(a.scenario, 'unsettled')
    return
  }
  const state = ans.body?.state ?? 'unknown'
  if (hungUpAt !== undefined && state === 'captured' && a.scenario !== 'station-offline') {
    stats.latency('capture', ans.atMs - hungUpAt)
    if (a.atMs >= STEADY_AFTER_MS) stats.latency('capture.steady', ans.atMs - hungUpAt)
  }
  if (state === 'captured') stats.count('captured')
  if (state !== expect)
    stats.error(`SIM_EXPECTED_${expect.toUpperCase()}_GOT_${state.toUpperCase()}`)
  stats.outcome(a.scenario, state)
  stats.count('finished')
}

/** Holds the trigger until the driver's target volume, the preset stop, or `maxMs`. */
async function fill(
  d: StationSim['dispensers'] extends Map<number, infer D> ? D : never,
  a: Arrival,
  drop: () => void,
  maxMs: number,
): Promise<void> {
  const end = performance.now() + maxMs
  let last = -1
  let still = 0
  let dropped = a.scenario !== 'disconnect'
  while (performance.now() < end) {
    await sleep(50)
    const v = d.deliveryVolumeMilli
    if (!dropped && v >= a.targetVolumeMilli * a.disconnectAt) {
      drop()
      dropped = true
    }
    if (v >= a.targetVolumeMilli) {
      d.release()
      return
    }
    // The pump stopped at the preset (the hold's worth): the driver notices and hangs up.
    still = v === last && v > 0 ? still + 1 : 0
    if (still >= 4) return
    last = v
  }
}

// Facts -------------------------------------------------------------------------

async function gatherFacts(
  target: CloudTarget,
  stations: StationSim[],
  run: RunFact,
): Promise<Facts> {
  const sales: SaleFact[] = []
  const pumps: PumpFact[] = []
  for (const s of stations) {
    for (const row of s.journal.sales()) {
      sales.push({
        sessionId: row.sessionId,
        stationId: row.sale.stationId,
        pump: row.sale.pump,
        outcome: row.sale.outcome,
        volumeMilli: row.sale.volumeMilli,
        amountMinor: row.sale.amountMinor,
      })
    }
    for (const [pump, d] of s.dispensers) {
      pumps.push({
        stationId: s.plan.id,
        pump,
        totalizerStartMilli: s.totalizerStart.get(pump) ?? 0,
        totalizerEndMilli: d.totalizerMilli,
        state: s.controller.state(pump)?.name ?? 'unknown',
      })
    }
  }
  const ids = stations.map((s) => s.plan.id)
  let cloudSessions: CloudSessionFact[]
  if (target.sql) cloudSessions = await cloudSessionFacts(target.sql, ids)
  else cloudSessions = await sessionFactsOverHttp(target, stations, sales)
  return { sales, pumps, cloudSessions, ledger: await ledgerFact(target), run }
}

/** Without database access: each sale's session as its station sees it (capture count inferred, weaker). */
async function sessionFactsOverHttp(
  target: CloudTarget,
  stations: StationSim[],
  sales: SaleFact[],
): Promise<CloudSessionFact[]> {
  const byStation = new Map(stations.map((s) => [s.plan.id, s.plan]))
  return mapLimit(sales, 16, async (sale) => {
    const plan = byStation.get(sale.stationId) as StationPlan
    const res = await fetch(`${target.httpUrl}/v1/sessions/${sale.sessionId}`, {
      headers: {
        authorization: `Bearer ${await signClientAssertion({ role: 'station', id: plan.id }, plan.key)}`,
      },
      signal: AbortSignal.timeout(10_000),
    })
    const v = (await res.json()) as {
      state?: string
      holdAmountMinor?: number
      capturedMinor?: number
    }
    const state = v.state ?? `http-${res.status}`
    return {
      sessionId: sale.sessionId,
      state,
      holdAmountMinor: v.holdAmountMinor ?? 0,
      capturedMinor: v.capturedMinor ?? 0,
      captures: state === 'captured' ? 1 : 0,
      ...(state === 'captured' ? { volumeMilli: sale.volumeMilli } : {}),
    }
  })
}

function openFileSoftLimit(): number {
  const m = /^(\d+)/.exec(machineInfo().openFileLimit)
  return m ? Number(m[1]) : Number.POSITIVE_INFINITY
}
