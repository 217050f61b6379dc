import {
  amountForVolume,
  type Currency,
  type Grade,
  maxVolumeForAmount,
  type PumpStateName,
  type Reason,
  type ReasonCode,
  reason,
  type SaleOutcome,
} from '@fuelpay/proto'

/**
 * The per-pump state machine: pure, no I/O, no clock of its own. The shell
 * (controller.ts) feeds it events from MQTT, the pump driver and a ticker,
 * and carries out the effects it returns. A refused event returns the very
 * same state object and no effects, so "bad input changes nothing" is a
 * property a test can check with `===`.
 *
 * States (design: pump states): idle, authorized (token accepted, nozzle not
 * yet lifted), fueling (nozzle up, fuel may flow), suspended (an operator's
 * emergency stop: the pump is blocked until resumed; a delivery in progress is
 * paused, not ended), completed (a session just ended; the pump takes a new
 * authorization once the nozzle is down), offline (the dispenser does not
 * answer), fault (the dispenser reported a fault).
 *
 * A delivery the controller ends itself (maximum session length, no flow, a
 * fault) is not over when the controller says so: the valve is closing and
 * fuel still moves. The session stays at the pump, `closing`, in the state it
 * ends in (`completed`, `suspended` or `fault`) until the dispenser says the
 * delivery is over (hang-up) or the valve has had `valveSettleMs` to shut;
 * only then is its sale made, from the totalizer (design: the cloud captures
 * exactly what was pumped).
 */

/** Limits a pump enforces on every session. */
export interface PumpLimits {
  /** Authorized but nozzle not lifted for this long: the authorization lapses (hold voided). */
  nozzleTimeoutMs: number
  /** Nozzle up but no fuel for this long: the session ends. */
  noFlowTimeoutMs: number
  /** A session (authorization to end) never lasts longer than this. */
  maxSessionMs: number
  /**
   * After the controller closes the valve, the longest it waits for the
   * dispenser's last reading (hang-up) before the sale is made from the last
   * flow report. Default DEFAULT_VALVE_SETTLE_MS.
   */
  valveSettleMs?: number
}

/** How long a closing valve is given when the limits do not say: real valves shut in well under this. */
export const DEFAULT_VALVE_SETTLE_MS = 3000

const valveSettleMs = (limits: PumpLimits): number =>
  limits.valveSettleMs ?? DEFAULT_VALVE_SETTLE_MS

/**
 * A delivery the controller ended whose last fuel is still being measured:
 * how it ended, and when the valve was told to close (the settle time counts from here).
 */
export interface SessionClosing {
  outcome: SaleOutcome
  code: ReasonCode
  valveClosedAtMs: number
}

/** A grade the session may dispense, with its price locked when the pump was authorized. */
export interface SessionGrade {
  grade: Grade
  unitPriceMilli: number
  /** The most this grade may dispense: min(volume the hold pays for, token's maxVolumeMilli). */
  presetVolumeMilli: number
}

/** One payment session on one pump, from authorization to its sale. */
export interface PumpSession {
  sessionId: string
  tokenId: string
  requestId: string
  vehicleId: string
  maxAmountMinor: number
  maxVolumeMilli: number
  currency: Currency
  /** Prices are locked here at authorization: a later price change never applies to this sale. */
  grades: SessionGrade[]
  authorizedAt: number
  /** Token expiry, epoch ms (used-token records are kept at least this long). */
  tokenExpMs: number
  /** Totalizer when the pump was authorized: what the sale's volume is measured from. */
  totalizerStartMilli: number
  /** Set once the nozzle is lifted. */
  grade?: Grade
  unitPriceMilli?: number
  presetVolumeMilli?: number
  startedAt?: number
  lastFlowAt?: number
  volumeMilli: number
  amountMinor: number
  totalizerMilli: number
  /** Set when the controller ended the delivery and the valve is closing (see SessionClosing). */
  closing?: SessionClosing
}

/** How the last session ended, shown while the pump is in `completed`. */
export interface SessionEnding {
  sessionId: string
  outcome: SaleOutcome
  reason?: Reason
  volumeMilli: number
  amountMinor: number
}

export interface PumpState {
  pump: number
  name: PumpStateName
  nozzleUp: boolean
  /** Last totalizer reading, monotonic. */
  totalizerMilli: number
  /** Current unit prices by grade; changes never touch a session's locked prices. */
  prices: Partial<Record<Grade, number>>
  currency: Currency
  limits: PumpLimits
  session?: PumpSession
  /** How the last session ended (shown while `completed`). */
  ending?: SessionEnding
  fault?: string
  /**
   * The operator's emergency stop is in force: set by `emergency-stop`, cleared
   * only by `resume`. It outlives the states the pump passes through meanwhile
   * (a session ending, `offline`, `fault`, a restart: it is journaled with the
   * state), so a stopped pump comes back `suspended`, never `idle`.
   */
  stopped?: boolean
}

/** The operator's stop is in force (journals written before `stopped` existed say it by the name alone). */
export function isStopped(state: PumpState): boolean {
  return state.stopped === true || state.name === 'suspended'
}

/** Carries the stop into a state that is not named `suspended`. */
const keepStop = (state: PumpState): { stopped?: true } =>
  isStopped(state) ? { stopped: true } : {}

/** The pump driver's view of the dispenser, as read on recovery or when communication returns. */
export interface DispenserReading {
  online: boolean
  nozzleUp: boolean
  totalizerMilli: number
  fault?: string
  /** The grade of the nozzle that is up, if the dispenser knows. */
  grade?: Grade
}

/** Authorization data the shell has verified (signature, expiry, station, pump, vehicle, single use). */
export interface AuthorizeInput {
  sessionId: string
  tokenId: string
  requestId: string
  vehicleId: string
  maxAmountMinor: number
  maxVolumeMilli: number
  currency: Currency
  grades: Grade[]
  tokenExpMs: number
}

export type PumpEvent =
  | { type: 'authorize'; auth: AuthorizeInput; nowMs: number }
  | { type: 'cancel'; sessionId: string; vehicleId?: string; nowMs: number }
  | { type: 'nozzle-lifted'; grade: Grade; totalizerMilli: number; nowMs: number }
  | { type: 'flow'; volumeMilli: number; totalizerMilli: number; nowMs: number }
  | { type: 'nozzle-hung-up'; totalizerMilli: number; nowMs: number }
  | { type: 'tick'; nowMs: number }
  | { type: 'emergency-stop'; nowMs: number }
  | { type: 'resume'; nowMs: number }
  | { type: 'set-price'; grade: Grade; unitPriceMilli: number; nowMs: number }
  | { type: 'fault'; fault: string; nowMs: number }
  | { type: 'fault-cleared'; nowMs: number }
  | { type: 'comm-lost'; nowMs: number }
  | { type: 'comm-restored'; reading: DispenserReading; nowMs: number }

export type PumpEventType = PumpEvent['type']

export type PumpEffect =
  /** Tell the vehicle the pump is authorized. */
  | { type: 'reply-authorized'; session: PumpSession }
  /** Arm the dispenser with per-grade presets. */
  | { type: 'driver-authorize'; grades: SessionGrade[] }
  /** Disarm the dispenser before any fuel flowed. */
  | { type: 'driver-deauthorize' }
  /** Close the valve now (limit reached, timeout, emergency stop). */
  | { type: 'driver-stop' }
  /** Re-open after an operator's resume. */
  | { type: 'driver-resume' }
  /** Live volume and amount to the vehicle and the retained pump state. */
  | { type: 'progress'; session: PumpSession }
  /** The session is over: journal, sign and deliver its one sale record. */
  | { type: 'end-session'; session: PumpSession; ending: SessionEnding; endedAt: number }
  /** Publish the retained pump state. */
  | { type: 'publish-state' }

export interface Transition {
  state: PumpState
  effects: PumpEffect[]
  /** Set when the event was not allowed: state is the input state, effects empty. */
  refused?: Reason
}

/** A fresh idle pump. */
export function initialPumpState(opts: {
  pump: number
  prices: Partial<Record<Grade, number>>
  currency: Currency
  limits: PumpLimits
  totalizerMilli?: number
}): PumpState {
  return {
    pump: opts.pump,
    name: 'idle',
    nozzleUp: false,
    totalizerMilli: opts.totalizerMilli ?? 0,
    prices: { ...opts.prices },
    currency: opts.currency,
    limits: opts.limits,
  }
}

const refuse = (state: PumpState, code: ReasonCode, detail?: string): Transition => ({
  state,
  effects: [],
  refused: reason(code, detail),
})

const done = (state: PumpState, effects: PumpEffect[]): Transition => ({ state, effects })

function busyReason(state: PumpState): ReasonCode {
  if (state.name === 'fault') return 'PUMP_FAULT'
  if (state.name === 'offline') return 'PUMP_OFFLINE'
  if (state.name === 'suspended') return 'PUMP_OUT_OF_SERVICE'
  return 'PUMP_BUSY'
}

/** Per-grade presets: never more than the hold pays for at the locked price, nor the token's volume. */
export function sessionGrades(
  prices: Partial<Record<Grade, number>>,
  allowed: Grade[],
  maxAmountMinor: number,
  maxVolumeMilli: number,
  currency: Currency,
): SessionGrade[] {
  const out: SessionGrade[] = []
  for (const grade of allowed) {
    const unitPriceMilli = prices[grade]
    if (unitPriceMilli === undefined) continue
    const byAmount = maxVolumeForAmount(maxAmountMinor, unitPriceMilli, currency)
    out.push({ grade, unitPriceMilli, presetVolumeMilli: Math.min(byAmount, maxVolumeMilli) })
  }
  return out
}

function withVolume(session: PumpSession, totalizerMilli: number, nowMs: number): PumpSession {
  const total = Math.max(totalizerMilli, session.totalizerMilli)
  const volumeMilli = Math.max(0, total - session.totalizerStartMilli)
  const amountMinor =
    session.unitPriceMilli === undefined
      ? 0
      : amountForVolume(volumeMilli, session.unitPriceMilli, session.currency)
  const flowed = volumeMilli > session.volumeMilli
  return {
    ...session,
    totalizerMilli: total,
    volumeMilli,
    amountMinor,
    ...(flowed ? { lastFlowAt: nowMs } : {}),
  }
}

/** Ends the session: the pump goes to `completed` (or stays blocked) and one sale is made. */
function endSession(
  state: PumpState,
  session: PumpSession,
  outcome: SaleOutcome,
  code: ReasonCode | undefined,
  nowMs: number,
  pre: PumpEffect[] = [],
  next: PumpStateName = 'completed',
): Transition {
  const ending: SessionEnding = {
    sessionId: session.sessionId,
    outcome,
    ...(code ? { reason: reason(code) } : {}),
    volumeMilli: session.volumeMilli,
    amountMinor: session.amountMinor,
  }
  const { session: _drop, ...rest } = state
  const s: PumpState = {
    ...rest,
    // A session that ends while the operator's stop is in force leaves the pump stopped.
    name: next === 'completed' && isStopped(state) ? 'suspended' : next,
    totalizerMilli: Math.max(state.totalizerMilli, session.totalizerMilli),
    ending,
  }
  return done(s, [
    ...pre,
    { type: 'end-session', session, ending, endedAt: nowMs },
    { type: 'publish-state' },
  ])
}

/**
 * The controller ends a delivery (timeout, fault): the valve closes, but the
 * sale waits for the dispenser's last reading, so fuel that flows while the
 * valve shuts is sold too. A session nothing can flow on any more (nozzle
 * never lifted, or already down) ends at once.
 */
function stopDelivery(
  state: PumpState,
  session: PumpSession,
  outcome: SaleOutcome,
  code: ReasonCode,
  nowMs: number,
  pre: PumpEffect[],
  next: 'completed' | 'fault',
): Transition {
  // Ended at once, so disarmed too: this sale settles the hold, and a stop only closes the
  // valve of a delivery (a dispenser left armed would still start one on the next lift).
  if (session.startedAt === undefined || !state.nozzleUp)
    return endSession(
      state,
      session,
      outcome,
      code,
      nowMs,
      [...pre, { type: 'driver-deauthorize' }],
      next,
    )
  const closing: SessionClosing = { outcome, code, valveClosedAtMs: nowMs }
  return done(
    {
      ...state,
      ...keepStop(state),
      name: next === 'completed' && isStopped(state) ? 'suspended' : next,
      session: { ...session, closing },
    },
    [...pre, { type: 'publish-state' }],
  )
}

/** The closing delivery is over (hang-up, settle time): its one sale, as the controller ended it. */
function finishClosing(state: PumpState, session: PumpSession, nowMs: number): Transition {
  const { closing, ...s } = session
  if (!closing) throw new Error('finishClosing: the session is not closing')
  const next: PumpStateName = state.name === 'fault' ? 'fault' : 'completed'
  return endSession(state, s, closing.outcome, closing.code, nowMs, [], next)
}

/** Brings a session up to date with what the dispenser says after a restart or lost link. */
function reconcile(state: PumpState, reading: DispenserReading, nowMs: number): Transition {
  const base: PumpState = {
    ...state,
    ...keepStop(state),
    nozzleUp: reading.nozzleUp,
    totalizerMilli: Math.max(state.totalizerMilli, reading.totalizerMilli),
  }
  const session = state.session
  const stopped = isStopped(state)
  if (!reading.online) return done({ ...base, name: 'offline' }, [{ type: 'publish-state' }])
  if (!session) {
    if (reading.fault)
      return done({ ...base, name: 'fault', fault: reading.fault }, [{ type: 'publish-state' }])
    const name: PumpStateName = stopped ? 'suspended' : 'idle'
    const { fault: _f, ...clean } = base
    return done({ ...clean, name }, [{ type: 'publish-state' }])
  }
  let s = session
  if (
    s.grade === undefined &&
    (reading.nozzleUp || reading.totalizerMilli > s.totalizerStartMilli)
  ) {
    // Fuel moved (or is about to) without us seeing the lift: price it at the grade that was up.
    const g = s.grades.find((x) => x.grade === reading.grade) ?? s.grades[0]
    if (g)
      s = {
        ...s,
        grade: g.grade,
        unitPriceMilli: g.unitPriceMilli,
        presetVolumeMilli: g.presetVolumeMilli,
      }
  }
  s = withVolume(s, reading.totalizerMilli, nowMs)
  if (s.closing) {
    // The controller had ended this delivery: it stays ended, measured by the totalizer.
    const { fault: _f, ...clean } = base
    const next: PumpStateName = reading.fault ? 'fault' : stopped ? 'suspended' : 'completed'
    const named: PumpState = {
      ...(reading.fault ? { ...base, fault: reading.fault } : clean),
      name: next,
      session: s,
    }
    if (!reading.nozzleUp || nowMs - s.closing.valveClosedAtMs >= valveSettleMs(state.limits))
      return finishClosing(named, s, nowMs)
    // The dispenser may have restarted and forgotten the stop (stop() is idempotent).
    return done(named, [{ type: 'driver-stop' }, { type: 'publish-state' }])
  }
  const started = s.startedAt !== undefined || s.volumeMilli > 0
  if (reading.fault) {
    return endSession(
      { ...base, fault: reading.fault },
      s,
      'fault',
      'PUMP_FAULT',
      nowMs,
      [{ type: 'driver-stop' }, ...(started ? [] : [{ type: 'driver-deauthorize' } as PumpEffect])],
      'fault',
    )
  }
  if (!started && !reading.nozzleUp) {
    // Stopped meanwhile (an operator's stop taken while the pump was away): as a stop of an
    // authorized pump, the authorization ends with a zero sale and the pump stays blocked.
    if (stopped)
      return endSession(
        base,
        s,
        'emergency-stop',
        'EMERGENCY_STOP',
        nowMs,
        [{ type: 'driver-deauthorize' }],
        'suspended',
      )
    // Nothing flowed: the authorization still stands; re-arm the dispenser (it may have restarted).
    return done({ ...base, name: 'authorized', session: s }, [
      { type: 'driver-authorize', grades: s.grades },
      { type: 'publish-state' },
    ])
  }
  if (reading.nozzleUp) {
    // Still dispensing (or about to): carry on, with the elapsed time still counted.
    const started2: PumpSession =
      s.startedAt === undefined ? { ...s, startedAt: nowMs, lastFlowAt: nowMs } : s
    const name: PumpStateName = stopped ? 'suspended' : 'fueling'
    return done({ ...base, name, session: started2 }, [
      // The dispenser may have restarted and forgotten the stop (stop() is idempotent).
      ...(stopped ? [{ type: 'driver-stop' } as PumpEffect] : []),
      { type: 'progress', session: started2 },
      { type: 'publish-state' },
    ])
  }
  // The nozzle went back while we could not see it: the delivery is over, read from the totalizer.
  const outcome: SaleOutcome = stopped ? 'emergency-stop' : 'completed'
  return endSession(base, s, outcome, outcome === 'completed' ? undefined : 'EMERGENCY_STOP', nowMs)
}

/**
 * The transition function. Every (state, event) pair is defined: either a new
 * state with effects, or a refusal that leaves the state untouched.
 *
 * @example
 *   const r = transition(idle, { type: 'authorize', auth, nowMs })
 *   // r.state.name === 'authorized'; r.effects includes { type: 'reply-authorized' }
 */
export function transition(state: PumpState, event: PumpEvent): Transition {
  const session = state.session
  switch (event.type) {
    case 'authorize': {
      const idleLike =
        state.name === 'idle' || (state.name === 'completed' && !state.nozzleUp && !session)
      if (!idleLike) return refuse(state, busyReason(state))
      // Not reachable through transition (a stopped pump is never idle); a guard for hand-made states.
      if (isStopped(state)) return refuse(state, 'PUMP_OUT_OF_SERVICE')
      if (state.nozzleUp) return refuse(state, 'PUMP_BUSY', 'a nozzle is out of its holster')
      const a = event.auth
      if (a.currency !== state.currency) return refuse(state, 'CURRENCY_MISMATCH')
      const grades = sessionGrades(
        state.prices,
        a.grades,
        a.maxAmountMinor,
        a.maxVolumeMilli,
        a.currency,
      )
      if (grades.length === 0)
        return refuse(state, 'GRADE_NOT_ALLOWED', 'this pump sells none of the authorized grades')
      const s: PumpSession = {
        sessionId: a.sessionId,
        tokenId: a.tokenId,
        requestId: a.requestId,
        vehicleId: a.vehicleId,
        maxAmountMinor: a.maxAmountMinor,
        maxVolumeMilli: a.maxVolumeMilli,
        currency: a.currency,
        grades,
        authorizedAt: event.nowMs,
        tokenExpMs: a.tokenExpMs,
        totalizerStartMilli: state.totalizerMilli,
        totalizerMilli: state.totalizerMilli,
        volumeMilli: 0,
        amountMinor: 0,
      }
      const { ending: _e, fault: _f, ...rest } = state
      return done({ ...rest, name: 'authorized', session: s }, [
        { type: 'driver-authorize', grades },
        { type: 'reply-authorized', session: s },
        { type: 'publish-state' },
      ])
    }

    case 'cancel': {
      if (!session || session.sessionId !== event.sessionId)
        return refuse(state, 'SESSION_NOT_FOUND')
      if (event.vehicleId !== undefined && event.vehicleId !== session.vehicleId)
        return refuse(state, 'SESSION_NOT_FOUND')
      if (state.name !== 'authorized' || session.volumeMilli > 0)
        return refuse(state, 'FUEL_ALREADY_FLOWING')
      return endSession(state, session, 'cancelled', 'CANCELLED', event.nowMs, [
        { type: 'driver-deauthorize' },
      ])
    }

    case 'nozzle-lifted': {
      if (state.nozzleUp) return refuse(state, 'SESSION_STATE_CONFLICT', 'nozzle already lifted')
      const up: PumpState = {
        ...state,
        nozzleUp: true,
        totalizerMilli: Math.max(state.totalizerMilli, event.totalizerMilli),
      }
      if (state.name === 'authorized' && session) {
        const g = session.grades.find((x) => x.grade === event.grade)
        if (!g) return refuse(state, 'GRADE_NOT_ALLOWED', `${event.grade} is not authorized`)
        const s: PumpSession = {
          ...session,
          grade: g.grade,
          unitPriceMilli: g.unitPriceMilli,
          presetVolumeMilli: g.presetVolumeMilli,
          startedAt: event.nowMs,
          lastFlowAt: event.nowMs,
        }
        return done({ ...up, name: 'fueling', session: s }, [
          { type: 'progress', session: s },
          { type: 'publish-state' },
        ])
      }
      // A nozzle lifted at an idle or blocked pump dispenses nothing; remember it so the pump is not offered.
      if (
        state.name === 'idle' ||
        state.name === 'completed' ||
        state.name === 'suspended' ||
        state.name === 'fault'
      )
        return done(up, [{ type: 'publish-state' }])
      return refuse(state, 'SESSION_STATE_CONFLICT', `nozzle lifted while ${state.name}`)
    }

    case 'flow': {
      if (session?.closing && state.name !== 'offline') {
        // The last fuel through the closing valve: it is sold with the session.
        const s = withVolume(session, event.totalizerMilli, event.nowMs)
        return done(
          {
            ...state,
            session: s,
            totalizerMilli: Math.max(state.totalizerMilli, s.totalizerMilli),
          },
          [{ type: 'progress', session: s }],
        )
      }
      if (
        (state.name !== 'fueling' && state.name !== 'suspended') ||
        !session ||
        session.startedAt === undefined
      )
        return refuse(state, 'SESSION_STATE_CONFLICT', `flow while ${state.name}`)
      const s = withVolume(session, event.totalizerMilli, event.nowMs)
      const next: PumpState = {
        ...state,
        session: s,
        totalizerMilli: Math.max(state.totalizerMilli, s.totalizerMilli),
      }
      const effects: PumpEffect[] = [{ type: 'progress', session: s }]
      // The dispenser stops itself at the preset; this is the controller's own guard behind it.
      if (
        s.presetVolumeMilli !== undefined &&
        s.volumeMilli >= s.presetVolumeMilli &&
        session.volumeMilli < s.presetVolumeMilli
      )
        effects.unshift({ type: 'driver-stop' })
      return done(next, effects)
    }

    case 'nozzle-hung-up': {
      const down: PumpState = {
        ...state,
        nozzleUp: false,
        totalizerMilli: Math.max(state.totalizerMilli, event.totalizerMilli),
      }
      if (session?.closing && state.name !== 'offline')
        return finishClosing(
          down,
          withVolume(session, event.totalizerMilli, event.nowMs),
          event.nowMs,
        )
      if ((state.name === 'fueling' || state.name === 'suspended') && session) {
        const s = withVolume(session, event.totalizerMilli, event.nowMs)
        const outcome: SaleOutcome = state.name === 'suspended' ? 'emergency-stop' : 'completed'
        const next: PumpStateName = state.name === 'suspended' ? 'suspended' : 'completed'
        return endSession(
          down,
          s,
          outcome,
          outcome === 'completed' ? undefined : 'EMERGENCY_STOP',
          event.nowMs,
          [],
          next,
        )
      }
      if (state.name === 'offline') return refuse(state, 'PUMP_OFFLINE')
      if (!state.nozzleUp) return refuse(state, 'SESSION_STATE_CONFLICT', 'nozzle already hung up')
      return done(down, [{ type: 'publish-state' }])
    }

    case 'tick': {
      const now = event.nowMs
      // `completed` is shown until the next tick once the nozzle is back; then the pump is offered again.
      if (state.name === 'completed' && !state.nozzleUp && !session)
        return done({ ...state, name: 'idle' }, [{ type: 'publish-state' }])
      if (!session) return done(state, [])
      if (session.closing) {
        // No final reading in time: the sale is what the dispenser reported. Offline: the totalizer decides later.
        if (
          state.name !== 'offline' &&
          now - session.closing.valveClosedAtMs >= valveSettleMs(state.limits)
        )
          return finishClosing(state, session, now)
        return done(state, [])
      }
      if (state.name === 'authorized' && now - session.authorizedAt >= state.limits.nozzleTimeoutMs)
        return endSession(state, session, 'lapsed', 'NOZZLE_TIMEOUT', now, [
          { type: 'driver-deauthorize' },
        ])
      const live =
        state.name === 'fueling' || state.name === 'suspended' || state.name === 'authorized'
      if (live && now - session.authorizedAt >= state.limits.maxSessionMs) {
        const outcome: SaleOutcome =
          session.volumeMilli > 0 || state.name !== 'authorized' ? 'timeout' : 'lapsed'
        return stopDelivery(
          state,
          session,
          outcome,
          'MAX_DURATION',
          now,
          [{ type: 'driver-stop' }],
          'completed',
        )
      }
      if (
        state.name === 'fueling' &&
        now - (session.lastFlowAt ?? session.authorizedAt) >= state.limits.noFlowTimeoutMs
      )
        return stopDelivery(
          state,
          session,
          'timeout',
          'NO_FLOW_TIMEOUT',
          now,
          [{ type: 'driver-stop' }],
          'completed',
        )
      return done(state, [])
    }

    case 'emergency-stop': {
      if (state.name === 'suspended')
        return refuse(state, 'SESSION_STATE_CONFLICT', 'already stopped')
      if (isStopped(state)) return refuse(state, 'SESSION_STATE_CONFLICT', 'already stopped')
      // The operator blocks a pump that cannot serve now, so that it stays blocked when it can:
      // the flag rides through offline and fault, and the pump comes back suspended.
      if (state.name === 'offline')
        // The dispenser does not answer; a delivery still open has its valve closed when it does (reconcile).
        return done({ ...state, stopped: true }, [{ type: 'publish-state' }])
      if (state.name === 'fault')
        return done({ ...state, stopped: true }, [
          { type: 'driver-stop' },
          { type: 'publish-state' },
        ])
      if (state.name === 'authorized' && session)
        return endSession(
          { ...state, stopped: true },
          session,
          'emergency-stop',
          'EMERGENCY_STOP',
          event.nowMs,
          [{ type: 'driver-deauthorize' }],
          'suspended',
        )
      // Fueling: the valve closes and the delivery pauses; resume continues it, hang-up ends it.
      return done({ ...state, name: 'suspended', stopped: true }, [
        { type: 'driver-stop' },
        { type: 'publish-state' },
      ])
    }

    case 'resume': {
      if (state.name !== 'suspended')
        return refuse(state, 'SESSION_STATE_CONFLICT', `resume while ${state.name}`)
      const { stopped: _s, ...free } = state
      // A delivery the controller ended stays ended: the valve stays shut until its sale is made.
      if (session?.closing) return done({ ...free, name: 'completed' }, [{ type: 'publish-state' }])
      if (session && session.startedAt !== undefined) {
        const s: PumpSession = { ...session, lastFlowAt: event.nowMs }
        return done({ ...free, name: 'fueling', session: s }, [
          { type: 'driver-resume' },
          { type: 'publish-state' },
        ])
      }
      return done({ ...free, name: 'idle' }, [{ type: 'publish-state' }])
    }

    case 'set-price': {
      // Always allowed; a session in progress keeps the price it was authorized at.
      return done({ ...state, prices: { ...state.prices, [event.grade]: event.unitPriceMilli } }, [
        { type: 'publish-state' },
      ])
    }

    case 'fault': {
      if (state.name === 'fault') return refuse(state, 'PUMP_FAULT')
      // Already closing: the delivery keeps the reason it ended for.
      if (session?.closing)
        return done({ ...state, ...keepStop(state), name: 'fault', fault: event.fault }, [
          { type: 'publish-state' },
        ])
      if (session)
        return stopDelivery(
          { ...state, ...keepStop(state), fault: event.fault },
          session,
          'fault',
          'PUMP_FAULT',
          event.nowMs,
          [{ type: 'driver-stop' }],
          'fault',
        )
      return done({ ...state, ...keepStop(state), name: 'fault', fault: event.fault }, [
        { type: 'publish-state' },
      ])
    }

    case 'fault-cleared': {
      if (state.name !== 'fault')
        return refuse(state, 'SESSION_STATE_CONFLICT', 'no fault to clear')
      const { fault: _f, ...rest } = state
      const free: PumpStateName = session?.closing ? 'completed' : 'idle'
      return done({ ...rest, name: isStopped(state) ? 'suspended' : free }, [
        { type: 'publish-state' },
      ])
    }

    case 'comm-lost': {
      if (state.name === 'offline') return refuse(state, 'PUMP_OFFLINE')
      return done({ ...state, ...keepStop(state), name: 'offline' }, [{ type: 'publish-state' }])
    }

    case 'comm-restored': {
      if (state.name !== 'offline')
        return refuse(state, 'SESSION_STATE_CONFLICT', 'pump is not offline')
      // The stop (if any) rides on `stopped`: reconcile brings a stopped pump back suspended.
      return reconcile(
        { ...state, name: session?.startedAt !== undefined ? 'fueling' : state.name },
        event.reading,
        event.nowMs,
      )
    }
  }
}

/**
 * Recovery after a restart: the journaled state meets a fresh dispenser reading.
 * A pump that was fueling when the controller died is read again (totalizer)
 * and its sale completed; an authorization nothing flowed on is re-armed.
 */
export function recover(state: PumpState, reading: DispenserReading, nowMs: number): Transition {
  return reconcile(state, reading, nowMs)
}

export const PUMP_EVENT_TYPES: PumpEventType[] = [
  'authorize',
  'cancel',
  'nozzle-lifted',
  'flow',
  'nozzle-hung-up',
  'tick',
  'emergency-stop',
  'resume',
  'set-price',
  'fault',
  'fault-cleared',
  'comm-lost',
  'comm-restored',
]
