import { amountForVolume, type Grade } from '@fuelpay/proto'
import fc from 'fast-check'
import t from 'tap'
import {
  initialPumpState,
  type PumpEvent,
  type PumpState,
  transition,
} from '../../src/pump/pump.machine.ts'

/**
 * Random event sequences against the machine. Properties that must hold
 * whatever the order: refusals change nothing, a session ends exactly once,
 * every sale is priced by the one rounding rule at the locked price, the
 * totalizer never goes back, a session exists only in states that have one,
 * and every millilitre the totalizer counts is in exactly one sale or the open
 * session (fuel still moving while a valve closes included).
 */
const limits = {
  nozzleTimeoutMs: 1000,
  noFlowTimeoutMs: 1000,
  maxSessionMs: 5000,
  valveSettleMs: 2500,
}

/**
 * The physical dispenser, as far as the sequence needs it: whether a delivery
 * is armed and the nozzle up, its preset's totalizer, and when the controller
 * last closed its valve. A closing valve still lets fuel through for a while.
 */
interface Dispenser {
  delivering: boolean
  limitTotalMilli: number
  valveClosedAtMs?: number
}

type Maker = (s: PumpState, now: number, d: Dispenser) => PumpEvent

const eventArb = (i: number): fc.Arbitrary<Maker> =>
  fc.oneof(
    {
      weight: 3,
      arbitrary: fc
        .record({
          grades: fc.subarray<Grade>(['diesel', 'unleaded95', 'lpg'], { minLength: 1 }),
          amount: fc.integer({ min: 1, max: 20_000 }),
          vol: fc.integer({ min: 0, max: 100_000 }),
        })
        .map(
          ({ grades, amount, vol }) =>
            (_s: PumpState, now: number): PumpEvent => ({
              type: 'authorize',
              nowMs: now,
              auth: {
                sessionId: `s${i}`,
                tokenId: `tok-${i}-xxxx`,
                requestId: `r${i}`,
                vehicleId: 'car7',
                maxAmountMinor: amount,
                maxVolumeMilli: vol,
                currency: 'EUR',
                grades,
                tokenExpMs: now + 120_000,
              },
            }),
        ),
    },
    {
      weight: 3,
      arbitrary: fc.constantFrom<Grade>('diesel', 'unleaded95').map(
        (grade) =>
          (s: PumpState, now: number): PumpEvent => ({
            type: 'nozzle-lifted',
            grade,
            totalizerMilli: s.totalizerMilli,
            nowMs: now,
          }),
      ),
    },
    {
      weight: 4,
      arbitrary: fc
        .integer({ min: 0, max: 30_000 })
        .map((add) => (s: PumpState, now: number): PumpEvent => {
          const preset = s.session?.presetVolumeMilli ?? 0
          const start = s.session?.totalizerStartMilli ?? s.totalizerMilli
          // A dispenser never passes its preset.
          const total = Math.min(s.totalizerMilli + add, start + preset)
          return {
            type: 'flow',
            volumeMilli: Math.max(0, total - start),
            totalizerMilli: Math.max(total, s.totalizerMilli),
            nowMs: now,
          }
        }),
    },
    {
      weight: 2,
      arbitrary: fc
        .integer({ min: 1, max: 500 })
        .map((drip) => (s: PumpState, now: number, d: Dispenser): PumpEvent => {
          // The last drops through a valve still closing (or open), never past the preset.
          const closing =
            d.delivering &&
            (d.valveClosedAtMs === undefined || now - d.valveClosedAtMs < limits.valveSettleMs)
          const total = closing
            ? Math.max(s.totalizerMilli, Math.min(s.totalizerMilli + drip, d.limitTotalMilli))
            : s.totalizerMilli
          return { type: 'nozzle-hung-up', totalizerMilli: total, nowMs: now }
        }),
    },
    fc.constant(
      (s: PumpState, now: number): PumpEvent => ({
        type: 'cancel',
        sessionId: s.session?.sessionId ?? 'none',
        vehicleId: 'car7',
        nowMs: now,
      }),
    ),
    {
      weight: 3,
      arbitrary: fc.constant(
        (_s: PumpState, now: number): PumpEvent => ({ type: 'tick', nowMs: now }),
      ),
    },
    fc.constant(
      (_s: PumpState, now: number): PumpEvent => ({ type: 'emergency-stop', nowMs: now }),
    ),
    fc.constant((_s: PumpState, now: number): PumpEvent => ({ type: 'resume', nowMs: now })),
    fc.integer({ min: 1, max: 9999 }).map(
      (p) =>
        (_s: PumpState, now: number): PumpEvent => ({
          type: 'set-price',
          grade: 'diesel',
          unitPriceMilli: p,
          nowMs: now,
        }),
    ),
    fc.constant(
      (_s: PumpState, now: number): PumpEvent => ({
        type: 'fault',
        fault: 'pulser-error',
        nowMs: now,
      }),
    ),
    fc.constant((_s: PumpState, now: number): PumpEvent => ({ type: 'fault-cleared', nowMs: now })),
    fc.constant((_s: PumpState, now: number): PumpEvent => ({ type: 'comm-lost', nowMs: now })),
    fc.boolean().map(
      (up) =>
        (s: PumpState, now: number): PumpEvent => ({
          type: 'comm-restored',
          reading: { online: true, nozzleUp: up && s.nozzleUp, totalizerMilli: s.totalizerMilli },
          nowMs: now,
        }),
    ),
  )

t.test('machine invariants under random event sequences', async (t) => {
  const outcomes = new Map<string, number>()
  fc.assert(
    fc.property(
      fc
        .array(fc.tuple(fc.nat(40), fc.integer({ min: 0, max: 1500 })), {
          minLength: 10,
          maxLength: 80,
        })
        .chain((steps) =>
          fc.tuple(fc.constant(steps), fc.tuple(...steps.map((_, i) => eventArb(i)))),
        ),
      ([steps, makers]) => {
        let s = initialPumpState({
          pump: 1,
          prices: { diesel: 1799, unleaded95: 1859 },
          currency: 'EUR',
          limits,
          totalizerMilli: 10_000,
        })
        let now = 1_000_000
        const ended = new Set<string>()
        const opened = new Set<string>()
        // The operator's stop holds from an accepted emergency-stop to an accepted resume.
        let stopped = false
        const firstTotalizer = s.totalizerMilli
        let soldMilli = 0
        const d: Dispenser = { delivering: false, limitTotalMilli: 0 }
        for (let i = 0; i < steps.length; i++) {
          now += steps[i]?.[1] ?? 0
          const ev = (makers[i] as Maker)(s, now, d)
          const before = JSON.stringify(s)
          const r = transition(s, ev)
          if (r.refused) {
            if (r.state !== s || r.effects.length !== 0 || JSON.stringify(s) !== before)
              return false
            continue
          }
          if (r.state.totalizerMilli < s.totalizerMilli) return false
          if (ev.type === 'emergency-stop') stopped = true
          if (ev.type === 'resume') stopped = false
          if (stopped && (ev.type === 'authorize' || r.state.name === 'idle')) return false
          for (const e of r.effects) {
            if (e.type === 'end-session') {
              if (ended.has(e.session.sessionId)) return false
              ended.add(e.session.sessionId)
              soldMilli += e.session.volumeMilli
              // The sale is measured up to the pump's totalizer when it is made.
              if (e.session.totalizerMilli !== r.state.totalizerMilli) return false
              outcomes.set(e.ending.outcome, (outcomes.get(e.ending.outcome) ?? 0) + 1)
              const sess = e.session
              const expected =
                sess.unitPriceMilli === undefined
                  ? 0
                  : amountForVolume(sess.volumeMilli, sess.unitPriceMilli, 'EUR')
              if (e.ending.amountMinor !== expected) return false
              // The preset holds the sale within the hold and the token's volume.
              if (
                sess.volumeMilli > sess.maxVolumeMilli ||
                e.ending.amountMinor > sess.maxAmountMinor
              )
                return false
              if (
                (e.ending.outcome === 'lapsed' || e.ending.outcome === 'cancelled') &&
                sess.volumeMilli !== 0
              )
                return false
              if (
                sess.unitPriceMilli !== undefined &&
                sess.grades.find((g) => g.grade === sess.grade)?.unitPriceMilli !==
                  sess.unitPriceMilli
              )
                return false
            }
          }
          const sess = r.state.session
          if (sess) {
            opened.add(sess.sessionId)
            // A delivery the controller ended stays at the pump, closing, in the state it ends in.
            const states = sess.closing
              ? ['completed', 'suspended', 'fault', 'offline']
              : ['authorized', 'fueling', 'suspended', 'offline']
            if (!states.includes(r.state.name)) return false
          } else if (['authorized', 'fueling'].includes(r.state.name)) return false
          // Every millilitre counted is sold, or in the session still open.
          if (firstTotalizer + soldMilli + (sess?.volumeMilli ?? 0) !== r.state.totalizerMilli)
            return false
          // The dispenser follows what the controller told it.
          if (ev.type === 'nozzle-lifted' && r.state.name === 'fueling' && sess) {
            d.delivering = true
            d.limitTotalMilli = sess.totalizerStartMilli + (sess.presetVolumeMilli ?? 0)
            d.valveClosedAtMs = undefined
          }
          for (const e of r.effects) {
            if (e.type === 'driver-stop' || e.type === 'end-session') d.valveClosedAtMs ??= now
            if (e.type === 'driver-resume') d.valveClosedAtMs = undefined
          }
          if (!r.state.nozzleUp) d.delivering = false
          s = r.state
        }
        return true
      },
    ),
    { numRuns: 600 },
  )
  t.comment(JSON.stringify([...outcomes]))
  // The generator must reach the interesting endings, or the properties prove little.
  for (const o of ['completed', 'cancelled', 'lapsed', 'fault', 'timeout', 'emergency-stop'])
    t.ok((outcomes.get(o) ?? 0) > 0, `sequences reached ${o}`)
})
