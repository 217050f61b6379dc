import {
  type ControllerConfig,
  type MqttLink,
  type PumpController,
  type SimulatedDispenser,
  connectStationLink,
  createCloudClient,
  createPumpController,
  createSimulatedDispenser,
} from '@fuelpay/pump-controller'
import type { Grade, SaleReportResponse } from '@fuelpay/proto'
import type { Logger } from 'pino'
import { createMemoryJournal } from './memory-journal.ts'
import type { StationPlan } from './provision.ts'

/**
 * One simulated station: the REAL pump controller (state machines, offline
 * token checks, journal contract, store-and-forward) on simulated dispensers,
 * with a cloud link the simulator can cut (station-offline scenario) and
 * watch (when each sale was captured).
 *
 * @example const st = await startStationSim({ plan, httpUrl, log, timeScale: 60, onSaleAck })
 */
export interface StationSim {
  readonly plan: StationPlan
  readonly controller: PumpController
  readonly dispensers: Map<number, SimulatedDispenser>
  /** Totalizers when the station started, per pump. */
  readonly totalizerStart: Map<number, number>
  readonly journal: ReturnType<typeof createMemoryJournal>
  /** Cuts the station off the cloud's HTTP API (sales queue up) until `untilMs` (performance.now()). */
  goOffline(untilMs: number): void
  readonly offline: boolean
  stop(): Promise<void>
}

/** A real-time flow rate: 40 L/min on the forecourt, times the run's time scale. */
export const FORECOURT_FLOW_MILLI_PER_S = Math.round(40_000 / 60)

export async function startStationSim(opts: {
  plan: StationPlan
  httpUrl: string
  brokerUrl?: string
  log: Logger
  timeScale: number
  /** Called with every POST /v1/sales answer the cloud gives this station. */
  onSaleAnswer?: (answer: {
    status: number
    body: SaleReportResponse | undefined
    atMs: number
  }) => void
}): Promise<StationSim> {
  const { plan, timeScale } = opts
  const log = opts.log.child({ station: plan.id })
  let offlineUntil = 0
  const offline = () => performance.now() < offlineUntil
  // The controller's fetch, wrapped: refused while "offline" (as a dead uplink
  // refuses), and every sale answer reported to the simulator.
  const simFetch: typeof fetch = async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
    if (offline()) throw new TypeError('fetch failed (simulated uplink down)')
    const res = await fetch(input, init)
    if (opts.onSaleAnswer && url.endsWith('/v1/sales') && init?.method === 'POST') {
      const text = await res.clone().text()
      let body: SaleReportResponse | undefined
      try {
        body = JSON.parse(text) as SaleReportResponse
      } catch {
        body = undefined
      }
      opts.onSaleAnswer({ status: res.status, body, atMs: performance.now() })
    }
    return res
  }
  const cloud = createCloudClient({
    baseUrl: opts.httpUrl,
    stationId: plan.id,
    key: plan.key,
    fetch: simFetch,
  })
  const scaled = (ms: number) => Math.max(1000, Math.round(ms / timeScale))
  const config: ControllerConfig = {
    stationId: plan.id,
    currency: 'EUR',
    volumeUnit: 'L',
    pumps: plan.pumps.map((p) => ({
      pump: p.pump,
      prices: Object.fromEntries(p.grades.map((g) => [g.grade, g.unitPriceMilli])),
    })),
    limits: {
      nozzleTimeoutMs: scaled(60_000),
      noFlowTimeoutMs: scaled(120_000),
      maxSessionMs: scaled(15 * 60_000),
    },
    tickMs: 100,
    heartbeatMs: 30_000,
    progressIntervalMs: 1000,
  }
  const dispensers = new Map<number, SimulatedDispenser>()
  const totalizerStart = new Map<number, number>()
  for (const p of plan.pumps) {
    const start = 1_000_000 * p.pump
    totalizerStart.set(p.pump, start)
    dispensers.set(
      p.pump,
      createSimulatedDispenser({
        pump: p.pump,
        grades: p.grades.map((g) => g.grade as Grade),
        flowRateMilliPerS: Math.round(FORECOURT_FLOW_MILLI_PER_S * timeScale),
        tickMs: 100,
        totalizerMilli: start,
      }),
    )
  }
  const link: MqttLink = await connectStationLink({
    cloud,
    stationId: plan.id,
    pumps: plan.pumps.length,
    log,
    ...(opts.brokerUrl ? { brokerUrl: opts.brokerUrl } : {}),
  })
  const journal = createMemoryJournal()
  const controller = createPumpController({
    log,
    config,
    link,
    drivers: [...dispensers.values()],
    journal,
    cloud,
    stationKey: plan.key,
    retry: { baseDelayMs: 200, maxDelayMs: Math.max(1000, Math.round(60_000 / timeScale)) },
  })
  await controller.start()
  return {
    plan,
    controller,
    dispensers,
    totalizerStart,
    journal,
    goOffline(untilMs) {
      offlineUntil = Math.max(offlineUntil, untilMs)
    },
    get offline() {
      return offline()
    },
    async stop() {
      await controller.stop()
      await link.end()
      for (const d of dispensers.values()) await d.close()
    },
  }
}
