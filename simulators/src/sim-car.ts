import type { Reason } from '@fuelpay/proto'
import type { StationPlan, VehiclePlan } from './provision.ts'
import { createWireVehicle, type WireVehicle } from './wire-vehicle.ts'

/**
 * What a load run needs from a car, whichever code drives it: get the pump
 * authorized for a session, cancel, notice the sale, drop off the network.
 * Two implementations: the real vehicle agent driven by simulated voice
 * (agent-car.ts, what load runs use), and the protocol-level car
 * (wire-vehicle.ts) for benchmarks that isolate the cloud and the broker.
 *
 * @example const r = await car.startFueling({ station, pump: 2 }); if (r.ok) await car.cancel(r.sessionId)
 */
export interface SimCar {
  readonly plan: VehiclePlan
  connect(): Promise<void>
  startFueling(req: FuelingRequest): Promise<FuelingStart>
  cancel(sessionId: string): Promise<{ ok: boolean; detail: string }>
  /** Resolves with the sale as the car was told of it (completed or session-ended), or rejects on timeout. */
  waitSale(sessionId: string, timeoutMs: number): Promise<{ type: string; volumeMilli?: number }>
  drop(): void
  close(): Promise<void>
}

export interface FuelingRequest {
  station: StationPlan
  pump: number
  amountMinor?: number | undefined
  /** Deliver the authorize to the pump twice (a QoS 1 redelivery). */
  duplicate?: boolean
  timeoutMs?: number
}

export type FuelingStart =
  | {
      ok: true
      sessionId: string
      /** performance.now() when the hold came back, and when the pump said authorized. */
      heldAtMs: number
      authorizedAtMs: number
      presetAmountMinor: number
      grade: string | undefined
    }
  | { ok: false; stage: 'hold' | 'pump' | 'agent'; reason: Reason | undefined; detail: string }

/** A SimCar on the protocol-level vehicle. */
export function createWireCar(opts: {
  plan: VehiclePlan
  httpUrl: string
  brokerUrl?: string
}): SimCar & { wire: WireVehicle } {
  const wire = createWireVehicle(opts)
  const at = new Map<string, { stationId: string; pump: number }>()
  return {
    wire,
    plan: opts.plan,
    connect: () => wire.connect(),
    async startFueling(req) {
      const hold = await wire.requestAuthorization({
        stationId: req.station.id,
        pump: req.pump,
        ...(req.amountMinor !== undefined ? { amountMinor: req.amountMinor } : {}),
        position: { lat: req.station.lat, lon: req.station.lon, accuracyM: 10 },
      })
      const heldAtMs = performance.now()
      if (!hold.ok)
        return {
          ok: false,
          stage: 'hold',
          reason: hold.reason,
          detail: `hold refused (${hold.status})`,
        }
      const h = hold.value
      const answer = await wire.authorize(req.station.id, req.pump, h.token, {
        duplicate: req.duplicate === true,
        ...(req.timeoutMs ? { timeoutMs: req.timeoutMs } : {}),
      })
      const authorizedAtMs = performance.now()
      if (answer.type !== 'pump-authorized') {
        return {
          ok: false,
          stage: 'pump',
          reason: answer.type === 'pump-rejected' ? answer.reason : undefined,
          detail: `pump answered ${answer.type}`,
        }
      }
      at.set(h.sessionId, { stationId: req.station.id, pump: req.pump })
      return {
        ok: true,
        sessionId: h.sessionId,
        heldAtMs,
        authorizedAtMs,
        presetAmountMinor: answer.presetAmountMinor,
        grade: answer.grades[0],
      }
    },
    async cancel(sessionId) {
      const where = at.get(sessionId)
      if (!where) return { ok: false, detail: 'unknown session' }
      const m = await wire.cancel(where.stationId, where.pump, sessionId)
      return {
        ok: m.type === 'session-ended',
        detail: m.type === 'session-ended' ? m.reason.code : m.type,
      }
    },
    async waitSale(sessionId, timeoutMs) {
      const m = await wire.waitFor(sessionId, ['completed', 'session-ended'], timeoutMs)
      at.delete(sessionId)
      return m.type === 'completed'
        ? { type: m.type, volumeMilli: m.sale.volumeMilli }
        : { type: m.type }
    },
    drop: () => wire.drop(),
    close: () => wire.close(),
  }
}
