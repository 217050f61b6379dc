import type { Rng } from './prng.ts'

/**
 * What a simulated session does. Each is a thing that happens on real
 * forecourts; the simulator drives it through the real agent and controller
 * and checks that money comes out right.
 *
 * - happy: say it, confirm, lift, fuel, hang up, captured.
 * - cancel: the driver cancels after the pump is authorized, before fuel flows (voided).
 * - declined: the card is declined (the vehicle's account has no funds).
 * - abandoned: the pump is authorized but nobody lifts the nozzle (lapses, voided).
 * - disconnect: the car loses its MQTT connection mid-fueling; the sale still completes and is captured.
 * - duplicate: the car's authorize is delivered twice (a QoS 1 redelivery); one activation only.
 * - station-offline: the station loses the cloud when the sale completes; store-and-forward delivers it later.
 */
export const SCENARIOS = [
  'happy',
  'cancel',
  'declined',
  'abandoned',
  'disconnect',
  'duplicate',
  'station-offline',
] as const
export type Scenario = (typeof SCENARIOS)[number]
export type ScenarioMix = Record<Scenario, number>

export const DEFAULT_MIX: Readonly<ScenarioMix> = Object.freeze({
  happy: 70,
  cancel: 6,
  declined: 6,
  abandoned: 4,
  disconnect: 5,
  duplicate: 5,
  'station-offline': 4,
})

/** Parses `happy=80,cancel=5` (unnamed scenarios get 0) or `default`. */
export function parseMix(text: string): ScenarioMix {
  if (text === 'default') return { ...DEFAULT_MIX }
  const mix = Object.fromEntries(SCENARIOS.map((s) => [s, 0])) as ScenarioMix
  const named = new Set<string>()
  for (const part of text.split(',')) {
    const m = /^\s*([a-z-]+)\s*=\s*(\d+(?:\.\d+)?)\s*$/.exec(part)
    if (!m || !(SCENARIOS as readonly string[]).includes(m[1] ?? ''))
      throw new RangeError(`bad scenario weight "${part}"; scenarios: ${SCENARIOS.join(', ')}`)
    if (named.has(m[1] as string)) throw new RangeError(`scenario "${m[1]}" weighted twice`)
    named.add(m[1] as string)
    mix[m[1] as Scenario] = Number(m[2])
  }
  if (Object.values(mix).every((w) => w === 0)) throw new RangeError('scenario mix is all zero')
  return mix
}

/** One planned arrival: when, what happens, how much fuel. Vehicle and pump are chosen when it starts. */
export interface Arrival {
  seq: number
  /** Offset from the start of the run, ms of wall-clock time. */
  atMs: number
  scenario: Scenario
  /** Fuel the driver means to take if nothing stops them, in milli-litres. */
  targetVolumeMilli: number
  /** Requested hold in minor units, or undefined for the account default. */
  amountMinor: number | undefined
  /** Simulated seconds between pump authorized and nozzle lift. */
  liftDelayS: number
  /** For disconnect: fraction of the fueling after which the car drops off. */
  disconnectAt: number
}

export interface ArrivalOptions {
  /** Mean arrivals per second of wall-clock time (a Poisson process). */
  ratePerS: number
  durationS: number
  mix: ScenarioMix
}

/**
 * The arrival process: exponential gaps at `ratePerS`, a scenario per arrival
 * by weight, and the driver's choices. Lazy, so a long run does not hold its
 * whole plan in memory. The same rng seed yields the same sequence.
 */
export function* arrivals(rng: Rng, opts: ArrivalOptions): Generator<Arrival> {
  const gaps = rng.fork('gaps')
  const what = rng.fork('what')
  let t = 0
  let seq = 0
  const endMs = opts.durationS * 1000
  for (;;) {
    t += gaps.exponential(opts.ratePerS) * 1000
    if (t >= endMs) return
    const scenario = what.weighted(opts.mix)
    yield {
      seq: ++seq,
      atMs: t,
      scenario,
      targetVolumeMilli: what.int(15_000, 60_000),
      amountMinor: what.chance(0.3) ? what.pick([3000, 5000, 8000]) : undefined,
      liftDelayS: what.int(3, 20),
      disconnectAt: 0.2 + what.next() * 0.6,
    }
  }
}
