import {
  amountForVolume,
  maxVolumeForAmount,
  PUMP_STATES,
  type PumpStateName,
} from '@fuelpay/proto'
import t from 'tap'
import {
  type AuthorizeInput,
  initialPumpState,
  PUMP_EVENT_TYPES,
  type PumpEvent,
  type PumpEventType,
  DEFAULT_VALVE_SETTLE_MS,
  type PumpState,
  recover,
  transition,
} from '../../src/pump/pump.machine.ts'

const T0 = 1_700_000_000_000
const limits = { nozzleTimeoutMs: 60_000, noFlowTimeoutMs: 120_000, maxSessionMs: 900_000 }
const auth: AuthorizeInput = {
  sessionId: 'ses1',
  tokenId: 'tok00001',
  requestId: 'req1',
  vehicleId: 'car7',
  maxAmountMinor: 5000,
  maxVolumeMilli: 100_000,
  currency: 'EUR',
  grades: ['diesel'],
  tokenExpMs: T0 + 120_000,
}
const idle = initialPumpState({
  pump: 1,
  prices: { diesel: 1799, unleaded95: 1859 },
  currency: 'EUR',
  limits,
  totalizerMilli: 1_000_000,
})

function step(s: PumpState, e: PumpEvent): PumpState {
  const r = transition(s, e)
  if (r.refused) throw new Error(`fixture step refused: ${e.type} in ${s.name}: ${r.refused.code}`)
  return r.state
}
const authorized = step(idle, { type: 'authorize', auth, nowMs: T0 })
const lifted = step(authorized, {
  type: 'nozzle-lifted',
  grade: 'diesel',
  totalizerMilli: 1_000_000,
  nowMs: T0 + 100,
})
const fueling = step(lifted, {
  type: 'flow',
  volumeMilli: 1000,
  totalizerMilli: 1_001_000,
  nowMs: T0 + 200,
})
const suspended = step(fueling, { type: 'emergency-stop', nowMs: T0 + 300 })
const completed = step(
  step(fueling, { type: 'nozzle-hung-up', totalizerMilli: 1_001_000, nowMs: T0 + 400 }),
  { type: 'set-price', grade: 'diesel', unitPriceMilli: 1799, nowMs: T0 + 400 },
)
const offline = step(idle, { type: 'comm-lost', nowMs: T0 })
const fault = step(idle, { type: 'fault', fault: 'pulser-error', nowMs: T0 })

const STATES: Record<PumpStateName, PumpState> = {
  idle,
  authorized,
  fueling,
  suspended,
  completed,
  offline,
  fault,
}
const NOW = T0 + 1000
const EVENTS: Record<PumpEventType, (s: PumpState) => PumpEvent> = {
  authorize: () => ({
    type: 'authorize',
    auth: { ...auth, sessionId: 'ses2', tokenId: 'tok00002' },
    nowMs: NOW,
  }),
  cancel: () => ({ type: 'cancel', sessionId: 'ses1', vehicleId: 'car7', nowMs: NOW }),
  'nozzle-lifted': (s) => ({
    type: 'nozzle-lifted',
    grade: 'diesel',
    totalizerMilli: s.totalizerMilli,
    nowMs: NOW,
  }),
  flow: (s) => ({
    type: 'flow',
    volumeMilli: 1500,
    totalizerMilli: s.totalizerMilli + 500,
    nowMs: NOW,
  }),
  'nozzle-hung-up': (s) => ({
    type: 'nozzle-hung-up',
    totalizerMilli: s.totalizerMilli,
    nowMs: NOW,
  }),
  tick: () => ({ type: 'tick', nowMs: NOW }),
  'emergency-stop': () => ({ type: 'emergency-stop', nowMs: NOW }),
  resume: () => ({ type: 'resume', nowMs: NOW }),
  'set-price': () => ({ type: 'set-price', grade: 'diesel', unitPriceMilli: 1899, nowMs: NOW }),
  fault: () => ({ type: 'fault', fault: 'stuck-nozzle', nowMs: NOW }),
  'fault-cleared': () => ({ type: 'fault-cleared', nowMs: NOW }),
  'comm-lost': () => ({ type: 'comm-lost', nowMs: NOW }),
  'comm-restored': (s) => ({
    type: 'comm-restored',
    reading: { online: true, nozzleUp: false, totalizerMilli: s.totalizerMilli },
    nowMs: NOW,
  }),
}

// Expected: the next state's name, or 'x:CODE' for a refusal (state unchanged, no effects).
type Exp = PumpStateName | `x:${string}`
const TABLE: Record<PumpStateName, Record<PumpEventType, Exp>> = {
  idle: {
    authorize: 'authorized',
    cancel: 'x:SESSION_NOT_FOUND',
    'nozzle-lifted': 'idle',
    flow: 'x:SESSION_STATE_CONFLICT',
    'nozzle-hung-up': 'x:SESSION_STATE_CONFLICT',
    tick: 'idle',
    'emergency-stop': 'suspended',
    resume: 'x:SESSION_STATE_CONFLICT',
    'set-price': 'idle',
    fault: 'fault',
    'fault-cleared': 'x:SESSION_STATE_CONFLICT',
    'comm-lost': 'offline',
    'comm-restored': 'x:SESSION_STATE_CONFLICT',
  },
  authorized: {
    authorize: 'x:PUMP_BUSY',
    cancel: 'completed',
    'nozzle-lifted': 'fueling',
    flow: 'x:SESSION_STATE_CONFLICT',
    'nozzle-hung-up': 'x:SESSION_STATE_CONFLICT',
    tick: 'authorized',
    'emergency-stop': 'suspended',
    resume: 'x:SESSION_STATE_CONFLICT',
    'set-price': 'authorized',
    fault: 'fault',
    'fault-cleared': 'x:SESSION_STATE_CONFLICT',
    'comm-lost': 'offline',
    'comm-restored': 'x:SESSION_STATE_CONFLICT',
  },
  fueling: {
    authorize: 'x:PUMP_BUSY',
    cancel: 'x:FUEL_ALREADY_FLOWING',
    'nozzle-lifted': 'x:SESSION_STATE_CONFLICT',
    flow: 'fueling',
    'nozzle-hung-up': 'completed',
    tick: 'fueling',
    'emergency-stop': 'suspended',
    resume: 'x:SESSION_STATE_CONFLICT',
    'set-price': 'fueling',
    fault: 'fault',
    'fault-cleared': 'x:SESSION_STATE_CONFLICT',
    'comm-lost': 'offline',
    'comm-restored': 'x:SESSION_STATE_CONFLICT',
  },
  suspended: {
    authorize: 'x:PUMP_OUT_OF_SERVICE',
    cancel: 'x:FUEL_ALREADY_FLOWING',
    'nozzle-lifted': 'x:SESSION_STATE_CONFLICT',
    flow: 'suspended',
    'nozzle-hung-up': 'suspended',
    tick: 'suspended',
    'emergency-stop': 'x:SESSION_STATE_CONFLICT',
    resume: 'fueling',
    'set-price': 'suspended',
    fault: 'fault',
    'fault-cleared': 'x:SESSION_STATE_CONFLICT',
    'comm-lost': 'offline',
    'comm-restored': 'x:SESSION_STATE_CONFLICT',
  },
  completed: {
    authorize: 'authorized',
    cancel: 'x:SESSION_NOT_FOUND',
    'nozzle-lifted': 'completed',
    flow: 'x:SESSION_STATE_CONFLICT',
    'nozzle-hung-up': 'x:SESSION_STATE_CONFLICT',
    tick: 'idle',
    'emergency-stop': 'suspended',
    resume: 'x:SESSION_STATE_CONFLICT',
    'set-price': 'completed',
    fault: 'fault',
    'fault-cleared': 'x:SESSION_STATE_CONFLICT',
    'comm-lost': 'offline',
    'comm-restored': 'x:SESSION_STATE_CONFLICT',
  },
  offline: {
    authorize: 'x:PUMP_OFFLINE',
    cancel: 'x:SESSION_NOT_FOUND',
    'nozzle-lifted': 'x:SESSION_STATE_CONFLICT',
    flow: 'x:SESSION_STATE_CONFLICT',
    'nozzle-hung-up': 'x:PUMP_OFFLINE',
    tick: 'offline',
    'emergency-stop': 'offline',
    resume: 'x:SESSION_STATE_CONFLICT',
    'set-price': 'offline',
    fault: 'fault',
    'fault-cleared': 'x:SESSION_STATE_CONFLICT',
    'comm-lost': 'x:PUMP_OFFLINE',
    'comm-restored': 'idle',
  },
  fault: {
    authorize: 'x:PUMP_FAULT',
    cancel: 'x:SESSION_NOT_FOUND',
    'nozzle-lifted': 'fault',
    flow: 'x:SESSION_STATE_CONFLICT',
    'nozzle-hung-up': 'x:SESSION_STATE_CONFLICT',
    tick: 'fault',
    'emergency-stop': 'fault',
    resume: 'x:SESSION_STATE_CONFLICT',
    'set-price': 'fault',
    fault: 'x:PUMP_FAULT',
    'fault-cleared': 'idle',
    'comm-lost': 'offline',
    'comm-restored': 'x:SESSION_STATE_CONFLICT',
  },
}

t.test('fixtures are in the states they claim', async (t) => {
  for (const name of PUMP_STATES) t.equal(STATES[name].name, name)
})

t.test('every state x every event', async (t) => {
  t.same(Object.keys(TABLE).sort(), [...PUMP_STATES].sort(), 'table covers every state')
  for (const name of PUMP_STATES) {
    t.same(
      Object.keys(TABLE[name]).sort(),
      [...PUMP_EVENT_TYPES].sort(),
      `${name}: table covers every event`,
    )
    for (const ev of PUMP_EVENT_TYPES) {
      const state = STATES[name]
      const snapshot = structuredClone(state)
      const r = transition(state, EVENTS[ev](state))
      const exp = TABLE[name][ev]
      if (exp.startsWith('x:')) {
        t.equal(r.refused?.code, exp.slice(2), `${name} + ${ev} refused with ${exp.slice(2)}`)
        t.equal(r.state, state, `${name} + ${ev}: same state object`)
        t.same(r.effects, [], `${name} + ${ev}: no effects`)
      } else {
        t.notOk(r.refused, `${name} + ${ev} allowed`)
        t.equal(r.state.name, exp, `${name} + ${ev} -> ${exp}`)
      }
      t.same(state, snapshot, `${name} + ${ev}: input not mutated`)
    }
  }
})

const ends = (r: ReturnType<typeof transition>) => r.effects.find((e) => e.type === 'end-session')

t.test('authorization presets never exceed the hold nor the token volume', async (t) => {
  const s = authorized.session
  t.ok(s)
  const g = s?.grades[0]
  t.equal(g?.grade, 'diesel')
  t.equal(g?.presetVolumeMilli, maxVolumeForAmount(5000, 1799, 'EUR'))
  t.ok(amountForVolume(g?.presetVolumeMilli ?? 0, 1799, 'EUR') <= 5000)
  const small = transition(idle, {
    type: 'authorize',
    auth: { ...auth, maxVolumeMilli: 1234 },
    nowMs: T0,
  }).state
  t.equal(small.session?.grades[0]?.presetVolumeMilli, 1234, 'token volume caps the preset')
  const noGrade = transition(idle, {
    type: 'authorize',
    auth: { ...auth, grades: ['lpg'] },
    nowMs: T0,
  })
  t.equal(noGrade.refused?.code, 'GRADE_NOT_ALLOWED')
  const cur = transition(idle, { type: 'authorize', auth: { ...auth, currency: 'USD' }, nowMs: T0 })
  t.equal(cur.refused?.code, 'CURRENCY_MISMATCH')
  const r = transition(idle, { type: 'authorize', auth, nowMs: T0 })
  t.same(
    r.effects.map((e) => e.type),
    ['driver-authorize', 'reply-authorized', 'publish-state'],
  )
})

t.test('a grade the token does not allow does not start fueling', async (t) => {
  const r = transition(authorized, {
    type: 'nozzle-lifted',
    grade: 'unleaded95',
    totalizerMilli: 1_000_000,
    nowMs: T0 + 5,
  })
  t.equal(r.refused?.code, 'GRADE_NOT_ALLOWED')
  t.equal(r.state, authorized)
})

t.test('nozzle timeout lapses the authorization with a zero sale', async (t) => {
  const early = transition(authorized, { type: 'tick', nowMs: T0 + limits.nozzleTimeoutMs - 1 })
  t.equal(early.state, authorized)
  const r = transition(authorized, { type: 'tick', nowMs: T0 + limits.nozzleTimeoutMs })
  t.equal(r.state.name, 'completed')
  const e = ends(r)
  t.equal(e?.type === 'end-session' && e.ending.outcome, 'lapsed')
  t.equal(e?.type === 'end-session' && e.ending.reason?.code, 'NOZZLE_TIMEOUT')
  t.equal(e?.type === 'end-session' && e.session.volumeMilli, 0)
  t.ok(r.effects.some((x) => x.type === 'driver-deauthorize'))
})

t.test('no flow and maximum session length end the session', async (t) => {
  const noFlowAt = T0 + 200 + limits.noFlowTimeoutMs
  const noFlow = transition(fueling, { type: 'tick', nowMs: noFlowAt })
  t.ok(noFlow.effects.some((x) => x.type === 'driver-stop'))
  t.notOk(ends(noFlow), 'the sale waits for the valve to close')
  const settled = transition(noFlow.state, {
    type: 'tick',
    nowMs: noFlowAt + DEFAULT_VALVE_SETTLE_MS,
  })
  const e = ends(settled)
  t.equal(e?.type === 'end-session' && e.ending.reason?.code, 'NO_FLOW_TIMEOUT')
  t.equal(e?.type === 'end-session' && e.ending.outcome, 'timeout')
  t.equal(e?.type === 'end-session' && e.session.volumeMilli, 1000)
  const longS = { ...fueling, limits: { ...limits, noFlowTimeoutMs: 10_000_000 } }
  const tooLong = transition(longS, { type: 'tick', nowMs: T0 + limits.maxSessionMs })
  t.ok(tooLong.effects.some((x) => x.type === 'driver-stop'))
  const e2 = ends(
    transition(tooLong.state, {
      type: 'nozzle-hung-up',
      totalizerMilli: tooLong.state.totalizerMilli,
      nowMs: T0 + limits.maxSessionMs + 1,
    }),
  )
  t.equal(e2?.type === 'end-session' && e2.ending.reason?.code, 'MAX_DURATION')
})

t.test('a delivery the controller ends is sold to its last drop', async (t) => {
  const endAt = T0 + limits.maxSessionMs
  const price = (v: number) => amountForVolume(v, 1799, 'EUR')
  const sale = (r: ReturnType<typeof transition>) => {
    const e = ends(r)
    return e?.type === 'end-session' ? e : undefined
  }
  // Maximum session length: the valve closes, fuel still moves, the hang-up carries the final totalizer.
  const stopping = transition(fueling, { type: 'tick', nowMs: endAt })
  t.equal(stopping.state.name, 'completed')
  t.equal(stopping.state.session?.closing?.outcome, 'timeout', 'the session is closing')
  t.equal(
    transition(stopping.state, { type: 'authorize', auth, nowMs: endAt }).refused?.code,
    'PUMP_BUSY',
    'no new authorization while the last one is closing',
  )
  const late = transition(stopping.state, {
    type: 'flow',
    volumeMilli: 1900,
    totalizerMilli: 1_001_900,
    nowMs: endAt + 50,
  })
  t.notOk(late.refused, 'flow through the closing valve is taken')
  t.equal(late.state.session?.volumeMilli, 1900)
  const hung = transition(late.state, {
    type: 'nozzle-hung-up',
    totalizerMilli: 1_002_000,
    nowMs: endAt + 100,
  })
  const s1 = sale(hung)
  t.equal(s1?.ending.outcome, 'timeout')
  t.equal(s1?.ending.reason?.code, 'MAX_DURATION')
  t.equal(s1?.session.volumeMilli, 2000, 'volume = totalizer at hang-up - totalizer at start')
  t.equal(s1?.session.totalizerMilli, 1_002_000)
  t.equal(s1?.session.amountMinor, price(2000))
  t.equal(s1?.ending.amountMinor, price(2000))
  t.equal(s1?.endedAt, endAt + 100, 'ended when the delivery really ended')
  t.equal(s1?.session.closing, undefined, 'the sale carries no closing marker')
  const next = step(step(hung.state, { type: 'tick', nowMs: endAt + 200 }), {
    type: 'authorize',
    auth: { ...auth, sessionId: 'ses2', tokenId: 'tok00002' },
    nowMs: endAt + 300,
  })
  t.equal(next.session?.totalizerStartMilli, 1_002_000, 'the next session starts where this ended')

  // No final reading: the settle time bounds the wait; the sale is the last reading.
  const quiet = transition(late.state, {
    type: 'tick',
    nowMs: endAt + DEFAULT_VALVE_SETTLE_MS - 1,
  })
  t.notOk(sale(quiet), 'still settling')
  const timedOut = transition(late.state, { type: 'tick', nowMs: endAt + DEFAULT_VALVE_SETTLE_MS })
  t.equal(sale(timedOut)?.session.volumeMilli, 1900)
  t.equal(timedOut.state.name, 'completed')
  t.equal(
    transition(
      { ...late.state, limits: { ...limits, valveSettleMs: 100 } },
      { type: 'tick', nowMs: endAt + 100 },
    ).effects.some((e) => e.type === 'end-session'),
    true,
    'valveSettleMs sets the bound',
  )

  // A dispenser fault: the pump is faulted at once, the sale waits for the final reading.
  const faulted = transition(fueling, { type: 'fault', fault: 'pulser-error', nowMs: NOW })
  t.equal(faulted.state.name, 'fault')
  t.notOk(sale(faulted))
  t.ok(faulted.effects.some((x) => x.type === 'driver-stop'))
  const faultSale = transition(faulted.state, {
    type: 'nozzle-hung-up',
    totalizerMilli: 1_001_300,
    nowMs: NOW + 10,
  })
  t.equal(sale(faultSale)?.ending.outcome, 'fault')
  t.equal(sale(faultSale)?.session.volumeMilli, 1300)
  t.equal(faultSale.state.name, 'fault', 'still faulted')
  const cleared = step(faulted.state, { type: 'fault-cleared', nowMs: NOW + 5 })
  t.equal(cleared.name, 'completed', 'fault cleared while closing: the session still closes')
  t.equal(cleared.session?.closing?.outcome, 'fault')

  // The operator's resume does not reopen a delivery the controller ended.
  const stoppedThenLong = transition(suspended, { type: 'tick', nowMs: endAt })
  t.equal(stoppedThenLong.state.name, 'suspended')
  const resumed = transition(stoppedThenLong.state, { type: 'resume', nowMs: endAt + 1 })
  t.equal(resumed.state.name, 'completed')
  t.notOk(
    resumed.effects.some((x) => x.type === 'driver-resume'),
    'the valve stays shut',
  )
  t.equal(
    sale(
      transition(resumed.state, {
        type: 'nozzle-hung-up',
        totalizerMilli: 1_001_500,
        nowMs: endAt + 2,
      }),
    )?.session.volumeMilli,
    1500,
  )

  // The controller dies between the stop and the hang-up: the journaled state is read back.
  const journaled = JSON.parse(JSON.stringify(late.state)) as PumpState
  const rd = { online: true, nozzleUp: false, totalizerMilli: 1_002_400 }
  const r = recover(journaled, rd, endAt + 60_000)
  t.equal(sale(r)?.ending.outcome, 'timeout', 'the outcome survives the restart')
  t.equal(sale(r)?.session.volumeMilli, 2400, 'all of it, from the totalizer')
  t.equal(r.state.name, 'completed')
  const stillUp = recover(journaled, { ...rd, nozzleUp: true }, endAt + 500)
  t.notOk(sale(stillUp), 'nozzle still up, within the settle time: still closing')
  t.ok(
    stillUp.effects.some((x) => x.type === 'driver-stop'),
    'the valve is closed again',
  )
  t.equal(stillUp.state.session?.volumeMilli, 2400)
  // ... or the dispenser link drops while closing: the totalizer settles it when it returns.
  const off = step(late.state, { type: 'comm-lost', nowMs: endAt + 60 })
  t.notOk(sale(transition(off, { type: 'tick', nowMs: endAt + 60_000 })), 'offline: waits')
  const back = transition(off, { type: 'comm-restored', reading: rd, nowMs: endAt + 60_000 })
  t.equal(sale(back)?.session.volumeMilli, 2400)
  t.equal(sale(back)?.ending.outcome, 'timeout')

  // Past the preset (a dispenser that overran): recorded honestly, priced by the one rule.
  const preset = lifted.session?.presetVolumeMilli ?? 0
  const atPreset = step(lifted, {
    type: 'flow',
    volumeMilli: preset - 10,
    totalizerMilli: 1_000_000 + preset - 10,
    nowMs: NOW,
  })
  const over = sale(
    transition(step(atPreset, { type: 'tick', nowMs: endAt }), {
      type: 'nozzle-hung-up',
      totalizerMilli: 1_000_000 + preset + 50,
      nowMs: endAt + 1,
    }),
  )
  t.equal(over?.session.volumeMilli, preset + 50, 'the volume is what the totalizer says')
  t.equal(over?.session.amountMinor, price(preset + 50), 'its amount is volume x price')
})

t.test('cancel: only the same vehicle, only before fuel flows', async (t) => {
  const other = transition(authorized, {
    type: 'cancel',
    sessionId: 'ses1',
    vehicleId: 'car8',
    nowMs: NOW,
  })
  t.equal(other.refused?.code, 'SESSION_NOT_FOUND')
  const wrong = transition(authorized, {
    type: 'cancel',
    sessionId: 'nope',
    vehicleId: 'car7',
    nowMs: NOW,
  })
  t.equal(wrong.refused?.code, 'SESSION_NOT_FOUND')
  const ok = transition(authorized, {
    type: 'cancel',
    sessionId: 'ses1',
    vehicleId: 'car7',
    nowMs: NOW,
  })
  const e = ends(ok)
  t.equal(e?.type === 'end-session' && e.ending.outcome, 'cancelled')
  const late = transition(fueling, {
    type: 'cancel',
    sessionId: 'ses1',
    vehicleId: 'car7',
    nowMs: NOW,
  })
  t.equal(late.refused?.code, 'FUEL_ALREADY_FLOWING')
})

t.test('a price change never applies to a session in progress', async (t) => {
  const changed = step(authorized, {
    type: 'set-price',
    grade: 'diesel',
    unitPriceMilli: 2500,
    nowMs: NOW,
  })
  t.equal(changed.prices.diesel, 2500)
  const f = step(changed, {
    type: 'nozzle-lifted',
    grade: 'diesel',
    totalizerMilli: 1_000_000,
    nowMs: NOW,
  })
  t.equal(f.session?.unitPriceMilli, 1799, 'locked at authorization')
  const f2 = step(
    step(f, { type: 'flow', volumeMilli: 10_000, totalizerMilli: 1_010_000, nowMs: NOW }),
    { type: 'set-price', grade: 'diesel', unitPriceMilli: 9999, nowMs: NOW },
  )
  const done = transition(f2, { type: 'nozzle-hung-up', totalizerMilli: 1_010_000, nowMs: NOW })
  const e = ends(done)
  t.equal(e?.type === 'end-session' && e.session.amountMinor, amountForVolume(10_000, 1799, 'EUR'))
  const next = step(step(done.state, { type: 'tick', nowMs: NOW }), {
    type: 'authorize',
    auth: { ...auth, sessionId: 'ses3', tokenId: 'tok00003' },
    nowMs: NOW,
  })
  t.equal(next.session?.grades[0]?.unitPriceMilli, 9999, 'the next session gets the new price')
})

t.test(
  'emergency stop pauses fueling; resume continues; hang-up while stopped ends it',
  async (t) => {
    t.ok(
      transition(fueling, { type: 'emergency-stop', nowMs: NOW }).effects.some(
        (e) => e.type === 'driver-stop',
      ),
    )
    const resumed = transition(suspended, { type: 'resume', nowMs: NOW })
    t.ok(resumed.effects.some((e) => e.type === 'driver-resume'))
    const hung = transition(suspended, {
      type: 'nozzle-hung-up',
      totalizerMilli: suspended.totalizerMilli,
      nowMs: NOW,
    })
    const e = ends(hung)
    t.equal(e?.type === 'end-session' && e.ending.outcome, 'emergency-stop')
    t.equal(hung.state.name, 'suspended', 'still blocked until resumed')
    const idleAgain = transition(hung.state, { type: 'resume', nowMs: NOW })
    t.equal(idleAgain.state.name, 'idle')
    const estopAuth = transition(authorized, { type: 'emergency-stop', nowMs: NOW })
    const e2 = ends(estopAuth)
    t.equal(e2?.type === 'end-session' && e2.ending.outcome, 'emergency-stop')
  },
)

t.test('the controller guards the preset behind the dispenser', async (t) => {
  const preset = lifted.session?.presetVolumeMilli ?? 0
  const r = transition(lifted, {
    type: 'flow',
    volumeMilli: preset,
    totalizerMilli: 1_000_000 + preset,
    nowMs: NOW,
  })
  t.equal(r.effects[0]?.type, 'driver-stop')
})

t.test('recovery after a restart', async (t) => {
  const rd = (over: Partial<{ online: boolean; nozzleUp: boolean; totalizerMilli: number }>) => ({
    online: true,
    nozzleUp: false,
    totalizerMilli: 1_000_000,
    ...over,
  })
  const r1 = recover(fueling, rd({ totalizerMilli: 1_020_000 }), NOW)
  const e = ends(r1)
  t.equal(r1.state.name, 'completed')
  t.equal(
    e?.type === 'end-session' && e.session.volumeMilli,
    20_000,
    'volume read from the totalizer',
  )
  t.equal(e?.type === 'end-session' && e.session.amountMinor, amountForVolume(20_000, 1799, 'EUR'))
  const r2 = recover(fueling, rd({ totalizerMilli: 1_020_000, nozzleUp: true }), NOW)
  t.equal(r2.state.name, 'fueling')
  t.equal(r2.state.session?.volumeMilli, 20_000)
  const r3 = recover(authorized, rd({}), NOW)
  t.equal(r3.state.name, 'authorized')
  t.ok(
    r3.effects.some((x) => x.type === 'driver-authorize'),
    're-armed',
  )
  const r4 = recover(authorized, rd({ totalizerMilli: 1_005_000 }), NOW)
  const e4 = ends(r4)
  t.equal(
    e4?.type === 'end-session' && e4.session.volumeMilli,
    5000,
    'fuel that flowed unseen is sold',
  )
  t.equal(e4?.type === 'end-session' && e4.session.grade, 'diesel')
  const r5 = recover(fueling, rd({ online: false }), NOW)
  t.equal(r5.state.name, 'offline')
  t.equal(r5.state.session?.sessionId, 'ses1', 'session kept while the pump does not answer')
  const back = transition(r5.state, {
    type: 'comm-restored',
    reading: rd({ totalizerMilli: 1_030_000 }),
    nowMs: NOW,
  })
  const e6 = ends(back)
  t.equal(e6?.type === 'end-session' && e6.session.volumeMilli, 30_000)
  t.equal(recover(idle, rd({}), NOW).state.name, 'idle')
})

t.test('an emergency stop holds until resume, whatever the pump goes through', async (t) => {
  const next = { ...auth, sessionId: 'ses9', tokenId: 'tok00009', requestId: 'req9' }
  const blocked = (s: PumpState, what: string) => {
    t.not(s.name, 'idle', `${what}: not offered`)
    t.equal(
      transition(s, { type: 'authorize', auth: next, nowMs: NOW + 1_000_000 }).refused?.code,
      s.name === 'suspended'
        ? 'PUMP_OUT_OF_SERVICE'
        : s.name === 'offline'
          ? 'PUMP_OFFLINE'
          : 'PUMP_FAULT',
      `${what}: a new authorization is refused`,
    )
  }
  const ticked = (s: PumpState, nowMs: number) => step(s, { type: 'tick', nowMs })

  // The session ends on the maximum length while stopped: its sale is made, the stop stays.
  const stopping = transition(suspended, { type: 'tick', nowMs: T0 + limits.maxSessionMs })
  t.equal(stopping.state.name, 'suspended')
  const long = transition(stopping.state, {
    type: 'tick',
    nowMs: T0 + limits.maxSessionMs + DEFAULT_VALVE_SETTLE_MS,
  })
  const e = ends(long)
  t.equal(e?.type === 'end-session' && e.ending.outcome, 'timeout')
  t.equal(e?.type === 'end-session' && e.session.volumeMilli, 1000, 'what was pumped is sold')
  t.equal(long.state.name, 'suspended')
  const hung = step(long.state, {
    type: 'nozzle-hung-up',
    totalizerMilli: long.state.totalizerMilli,
    nowMs: T0 + limits.maxSessionMs + DEFAULT_VALVE_SETTLE_MS + 1,
  })
  const later = T0 + limits.maxSessionMs + DEFAULT_VALVE_SETTLE_MS
  blocked(ticked(ticked(hung, later + 2), later + 3), 'after a max-session end')
  t.equal(step(hung, { type: 'resume', nowMs: NOW }).name, 'idle', 'resume frees it')

  // An idle pump stopped, then the dispenser link drops and returns.
  const idleStop = step(idle, { type: 'emergency-stop', nowMs: NOW })
  const off = step(idleStop, { type: 'comm-lost', nowMs: NOW })
  blocked(off, 'offline')
  // The offline state is what the journal holds: a restart reads it back as JSON.
  const journaled = JSON.parse(JSON.stringify(off)) as PumpState
  const rd = { online: true, nozzleUp: false, totalizerMilli: idle.totalizerMilli }
  const back = step(off, { type: 'comm-restored', reading: rd, nowMs: NOW })
  t.equal(back.name, 'suspended', 'link back: still stopped')
  t.equal(
    recover(journaled, rd, NOW).state.name,
    'suspended',
    'restart while offline: still stopped',
  )
  t.equal(
    recover(journaled, { ...rd, online: false }, NOW).state.stopped,
    true,
    'restart with the dispenser still away: the stop is kept',
  )

  // A fault and its clearing.
  const faulted = step(idleStop, { type: 'fault', fault: 'pulser-error', nowMs: NOW })
  blocked(faulted, 'fault')
  blocked(step(faulted, { type: 'fault-cleared', nowMs: NOW }), 'fault cleared')
  const faultMid = transition(
    step(suspended, { type: 'fault', fault: 'pulser-error', nowMs: NOW }),
    { type: 'nozzle-hung-up', totalizerMilli: suspended.totalizerMilli, nowMs: NOW },
  )
  t.equal(ends(faultMid)?.type, 'end-session', 'a fault ends the paused delivery')
  blocked(step(faultMid.state, { type: 'fault-cleared', nowMs: NOW }), 'fault mid-delivery cleared')

  // Stopped mid-delivery, link lost and back with the nozzle still up: still paused, resume works.
  const offMid = step(suspended, { type: 'comm-lost', nowMs: NOW })
  const backMid = transition(offMid, {
    type: 'comm-restored',
    reading: { ...rd, nozzleUp: true, totalizerMilli: suspended.totalizerMilli, grade: 'diesel' },
    nowMs: NOW,
  })
  t.equal(backMid.state.name, 'suspended')
  t.equal(backMid.state.session?.sessionId, 'ses1', 'the delivery is kept')
  t.ok(
    backMid.effects.some((x) => x.type === 'driver-stop'),
    'the valve is closed again',
  )
  const resumed = transition(backMid.state, { type: 'resume', nowMs: NOW })
  t.equal(resumed.state.name, 'fueling')
  t.notOk(resumed.state.stopped)
  // ... or back with the nozzle down: the sale is an emergency stop, the pump stays stopped.
  const backDown = transition(offMid, {
    type: 'comm-restored',
    reading: { ...rd, totalizerMilli: suspended.totalizerMilli + 500 },
    nowMs: NOW,
  })
  const e2 = ends(backDown)
  t.equal(e2?.type === 'end-session' && e2.ending.outcome, 'emergency-stop')
  t.equal(e2?.type === 'end-session' && e2.session.volumeMilli, 1500)
  blocked(ticked(backDown.state, NOW), 'ended while the link was down')

  // A journal written before `stopped` existed says the stop by the name alone.
  const { stopped: _s, ...legacy } = idleStop
  blocked(
    step(step(legacy, { type: 'comm-lost', nowMs: NOW }), {
      type: 'comm-restored',
      reading: rd,
      nowMs: NOW,
    }),
    'legacy journal',
  )
})

t.test('an emergency stop is taken while the pump is offline or faulted, and holds', async (t) => {
  const rd = { online: true, nozzleUp: false, totalizerMilli: idle.totalizerMilli }
  const next = { ...auth, sessionId: 'ses8', tokenId: 'tok00008', requestId: 'req8' }
  const refusedAuth = (s: PumpState) =>
    transition(s, { type: 'authorize', auth: next, nowMs: NOW }).refused?.code

  // Faulted: stopped at once (the valve told to stay shut); the fault clears to suspended.
  const f = transition(fault, { type: 'emergency-stop', nowMs: NOW })
  t.notOk(f.refused, 'accepted while faulted')
  t.equal(f.state.name, 'fault')
  t.equal(f.state.stopped, true)
  t.ok(f.effects.some((e) => e.type === 'driver-stop'))
  t.equal(
    transition(f.state, { type: 'emergency-stop', nowMs: NOW }).refused?.code,
    'SESSION_STATE_CONFLICT',
    'already stopped',
  )
  const cleared = step(f.state, { type: 'fault-cleared', nowMs: NOW })
  t.equal(cleared.name, 'suspended', 'the fault clears to a blocked pump')
  t.equal(refusedAuth(cleared), 'PUMP_OUT_OF_SERVICE')
  t.equal(step(cleared, { type: 'resume', nowMs: NOW }).name, 'idle', 'resume frees it')

  // Offline: journaled with the state; the link (or a restart) brings it back suspended.
  const o = transition(offline, { type: 'emergency-stop', nowMs: NOW })
  t.notOk(o.refused, 'accepted while offline')
  t.equal(o.state.name, 'offline')
  t.equal(o.state.stopped, true)
  t.notOk(
    o.effects.some((e) => e.type === 'driver-stop'),
    'no command to a dispenser that does not answer',
  )
  t.equal(step(o.state, { type: 'comm-restored', reading: rd, nowMs: NOW }).name, 'suspended')
  const journaled = JSON.parse(JSON.stringify(o.state)) as PumpState
  t.equal(recover(journaled, rd, NOW).state.name, 'suspended', 'after a restart too')
  const faultBack = recover(journaled, { ...rd, fault: 'pulser-error' }, NOW).state
  t.equal(faultBack.name, 'fault')
  t.equal(step(faultBack, { type: 'fault-cleared', nowMs: NOW }).name, 'suspended')

  // Offline mid-delivery: the delivery comes back paused, its valve closed.
  const offMid = step(fueling, { type: 'comm-lost', nowMs: NOW })
  const stoppedMid = step(offMid, { type: 'emergency-stop', nowMs: NOW })
  const backMid = transition(stoppedMid, {
    type: 'comm-restored',
    reading: { ...rd, nozzleUp: true, totalizerMilli: fueling.totalizerMilli, grade: 'diesel' },
    nowMs: NOW,
  })
  t.equal(backMid.state.name, 'suspended')
  t.ok(backMid.effects.some((e) => e.type === 'driver-stop'))
  t.equal(step(backMid.state, { type: 'resume', nowMs: NOW }).name, 'fueling')

  // Offline with an authorization nothing flowed on: it ends as a stop of an authorized pump does.
  const offAuth = step(step(authorized, { type: 'comm-lost', nowMs: NOW }), {
    type: 'emergency-stop',
    nowMs: NOW,
  })
  t.equal(offAuth.session?.sessionId, 'ses1', 'kept while the dispenser cannot be disarmed')
  const backAuth = transition(offAuth, { type: 'comm-restored', reading: rd, nowMs: NOW })
  const e = ends(backAuth)
  t.equal(e?.type === 'end-session' && e.ending.outcome, 'emergency-stop')
  t.equal(e?.type === 'end-session' && e.session.volumeMilli, 0)
  t.ok(backAuth.effects.some((x) => x.type === 'driver-deauthorize'))
  t.equal(backAuth.state.name, 'suspended')
  t.notOk(backAuth.state.session)
  t.equal(step(backAuth.state, { type: 'resume', nowMs: NOW }).name, 'idle')
  // ... unless fuel flowed unseen: then it is sold.
  const unseen = ends(
    transition(offAuth, {
      type: 'comm-restored',
      reading: { ...rd, totalizerMilli: idle.totalizerMilli + 800 },
      nowMs: NOW,
    }),
  )
  t.equal(unseen?.type === 'end-session' && unseen.ending.outcome, 'emergency-stop')
  t.equal(unseen?.type === 'end-session' && unseen.session.volumeMilli, 800)
})

t.test('a session that ends before its nozzle was lifted disarms the dispenser', async (t) => {
  // The hold is voided by its zero sale: the dispenser must not keep the authorization
  // (a stop only closes the valve of a delivery; an armed pump would still start one).
  const disarms = (r: ReturnType<typeof transition>, what: string) => {
    t.equal(ends(r)?.type, 'end-session', `${what}: the session ends`)
    t.ok(
      r.effects.some((e) => e.type === 'driver-deauthorize'),
      `${what}: the dispenser is disarmed`,
    )
  }
  disarms(transition(authorized, { type: 'fault', fault: 'pulser-error', nowMs: NOW }), 'fault')
  const longNozzle = {
    ...authorized,
    limits: { ...limits, nozzleTimeoutMs: 2 * limits.maxSessionMs },
  }
  disarms(
    transition(longNozzle, { type: 'tick', nowMs: T0 + limits.maxSessionMs }),
    'maximum session length',
  )
  disarms(
    recover(
      authorized,
      {
        online: true,
        nozzleUp: false,
        totalizerMilli: idle.totalizerMilli,
        fault: 'pulser-error',
      },
      NOW,
    ),
    'a fault found on restart',
  )
})
