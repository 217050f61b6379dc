import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import type { Grade } from '@fuelpay/proto'
import type { DispenserReading, SessionGrade } from './pump.machine.ts'
import type { DriverEvent, PumpDriver } from './pump-driver.ts'

export type SimulatedFault = 'stuck-nozzle' | 'pulser-error' | 'comm-loss'

export interface SimulatedDispenserOptions {
  pump: number
  grades: readonly Grade[]
  /** Flow while the trigger is squeezed, in milli-units per second. */
  flowRateMilliPerS?: number
  /** How often flow is reported. */
  tickMs?: number
  /** Demo mode: lift the nozzle this long after an authorization (undefined: wait for `lift()`). */
  autoLiftAfterMs?: number
  /** Demo mode: stop after this volume (a full tank) or at the preset, then hang up. */
  autoFillMilli?: number
  /** Demo mode: hang up this long after flow stopped. */
  autoHangUpAfterMs?: number
  /** Where the totalizer is kept across restarts (the dispenser's own non-volatile memory). */
  stateFile?: string
  totalizerMilli?: number
}

/**
 * A simulated dispenser with the behaviour of real hardware that matters to
 * the controller: it flows only when armed and the nozzle is up, stops by
 * itself at the preset, keeps a monotonically increasing totalizer (on disk
 * when `stateFile` is given, so a restarted controller reads it again), and
 * can be made to fail: stuck nozzle, pulser error, communication loss.
 *
 * Tests and simulators drive it as a driver would: `lift()`, `release()`
 * (let go of the trigger), `squeeze()`, `hangUp()`, `injectFault()`.
 *
 * @example
 *   const d = createSimulatedDispenser({ pump: 1, grades: ['diesel'], flowRateMilliPerS: 20_000 })
 *   d.lift('diesel'); // ... flow events ... d.hangUp()
 */
export interface SimulatedDispenser extends PumpDriver {
  lift(grade?: Grade): boolean
  hangUp(): boolean
  /** Driver lets go of the trigger: no flow, nozzle stays up. */
  release(): void
  squeeze(): void
  injectFault(fault: SimulatedFault): void
  clearFault(fault: SimulatedFault): void
  readonly authorized: readonly SessionGrade[] | undefined
  readonly totalizerMilli: number
  readonly deliveryVolumeMilli: number
}

export function createSimulatedDispenser(opts: SimulatedDispenserOptions): SimulatedDispenser {
  const rate = opts.flowRateMilliPerS ?? 10_000
  const tickMs = opts.tickMs ?? 100
  const listeners = new Set<(e: DriverEvent) => void>()
  let totalizer = opts.totalizerMilli ?? loadTotalizer(opts.stateFile) ?? 0
  let armed: SessionGrade[] | undefined
  let nozzle: Grade | undefined
  let delivery = 0
  let valveOpen = false
  let squeezed = true
  let stopped = false
  let faults = new Set<SimulatedFault>()
  let timer: NodeJS.Timeout | undefined
  let autoTimer: NodeJS.Timeout | undefined
  let lastTick = Date.now()
  let closed = false

  const emit = (e: DriverEvent) => {
    // A dispenser that lost its link reports nothing; the totalizer tells the story later.
    if (faults.has('comm-loss') && e.type !== 'comm-lost') return
    for (const l of listeners) l(e)
  }
  const save = () => {
    if (!opts.stateFile) return
    const tmp = `${opts.stateFile}.tmp`
    writeFileSync(tmp, JSON.stringify({ totalizerMilli: totalizer }))
    renameSync(tmp, opts.stateFile)
  }
  const preset = () => armed?.find((g) => g.grade === nozzle)?.presetVolumeMilli ?? 0
  const flowing = () =>
    nozzle !== undefined &&
    valveOpen &&
    squeezed &&
    !stopped &&
    faults.size === (faults.has('comm-loss') ? 1 : 0)

  const clearAuto = () => {
    if (autoTimer) clearTimeout(autoTimer)
    autoTimer = undefined
  }
  const auto = (ms: number | undefined, fn: () => void) => {
    clearAuto()
    if (ms === undefined || closed) return
    autoTimer = setTimeout(fn, ms)
    autoTimer.unref?.()
  }

  const tick = () => {
    const now = Date.now()
    const dt = Math.max(0, now - lastTick)
    lastTick = now
    if (!flowing()) return
    const limit = Math.min(preset(), opts.autoFillMilli ?? Number.MAX_SAFE_INTEGER)
    const step = Math.max(1, Math.floor((rate * dt) / 1000))
    const add = Math.min(step, Math.max(0, limit - delivery))
    if (add > 0) {
      delivery += add
      totalizer += add
      save()
      emit({ type: 'flow', volumeMilli: delivery, totalizerMilli: totalizer })
    }
    if (delivery >= limit) {
      // The hardware preset: the valve shuts by itself.
      valveOpen = false
      auto(opts.autoLiftAfterMs !== undefined ? (opts.autoHangUpAfterMs ?? 300) : undefined, () => {
        d.hangUp()
      })
    }
  }
  const startTicking = () => {
    if (timer || closed) return
    lastTick = Date.now()
    timer = setInterval(tick, tickMs)
    timer.unref?.()
  }
  const stopTicking = () => {
    if (timer) clearInterval(timer)
    timer = undefined
  }
  const checkLink = () => {
    if (faults.has('comm-loss')) throw new Error(`pump ${opts.pump}: no answer from dispenser`)
  }

  const d: SimulatedDispenser = {
    pump: opts.pump,
    grades: opts.grades,
    get authorized() {
      return armed
    },
    get totalizerMilli() {
      return totalizer
    },
    get deliveryVolumeMilli() {
      return delivery
    },
    async read(): Promise<DispenserReading> {
      if (faults.has('comm-loss'))
        return { online: false, nozzleUp: nozzle !== undefined, totalizerMilli: totalizer }
      const fault = faults.has('stuck-nozzle')
        ? 'stuck-nozzle'
        : faults.has('pulser-error')
          ? 'pulser-error'
          : undefined
      return {
        online: true,
        nozzleUp: nozzle !== undefined,
        totalizerMilli: totalizer,
        ...(nozzle ? { grade: nozzle } : {}),
        ...(fault ? { fault } : {}),
      }
    },
    async authorize(grades) {
      checkLink()
      armed = grades.map((g) => ({ ...g }))
      stopped = false
      auto(opts.autoLiftAfterMs, () => {
        d.lift()
      })
    },
    async deauthorize() {
      checkLink()
      armed = undefined
      valveOpen = false
      clearAuto()
    },
    async stop() {
      checkLink()
      stopped = true
      tick()
    },
    async resume() {
      checkLink()
      stopped = false
      lastTick = Date.now()
    },
    subscribe(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    async close() {
      closed = true
      stopTicking()
      clearAuto()
      listeners.clear()
    },
    lift(grade) {
      if (nozzle !== undefined || closed) return false
      const g = grade ?? armed?.[0]?.grade ?? opts.grades[0]
      if (!g || !opts.grades.includes(g)) return false
      nozzle = g
      delivery = 0
      squeezed = true
      valveOpen = armed?.some((a) => a.grade === g) === true && !stopped
      emit({ type: 'nozzle-lifted', grade: g, totalizerMilli: totalizer })
      if (valveOpen) startTicking()
      return true
    },
    hangUp() {
      if (nozzle === undefined) return false
      if (faults.has('stuck-nozzle')) return false
      tick()
      nozzle = undefined
      valveOpen = false
      armed = undefined
      stopTicking()
      clearAuto()
      emit({ type: 'nozzle-hung-up', volumeMilli: delivery, totalizerMilli: totalizer })
      return true
    },
    release() {
      tick()
      squeezed = false
    },
    squeeze() {
      lastTick = Date.now()
      squeezed = true
    },
    injectFault(fault) {
      if (faults.has(fault)) return
      tick()
      faults = new Set([...faults, fault])
      if (fault === 'comm-loss') emit({ type: 'comm-lost' })
      else {
        valveOpen = false
        for (const l of listeners) if (!faults.has('comm-loss')) l({ type: 'fault', fault })
      }
    },
    clearFault(fault) {
      if (!faults.has(fault)) return
      faults.delete(fault)
      if (fault === 'comm-loss') {
        void d.read().then((reading) => {
          for (const l of listeners) l({ type: 'comm-restored', reading })
        })
      } else if (![...faults].some((f) => f !== 'comm-loss')) {
        emit({ type: 'fault-cleared' })
      }
    },
  }
  return d
}

function loadTotalizer(file: string | undefined): number | undefined {
  if (!file) return undefined
  try {
    const v = (JSON.parse(readFileSync(file, 'utf8')) as { totalizerMilli?: unknown })
      .totalizerMilli
    return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined
  } catch {
    return undefined
  }
}
