import {
  type Currency,
  type FuelAuthorizationRequest,
  type FuelAuthorizationResponse,
  formatAmount,
  formatVolume,
  type Grade,
  isCurrency,
  parseAmount,
  type Position,
  type ProgressMessage,
  type Reason,
  type ReasonCode,
  type Receipt,
  type SaleRecord,
  type SessionView,
  type StationSummary,
} from '@fuelpay/proto'
import { extractVoiceCode, type ParsedUtterance, type Slots } from '../intent/intent.parser.ts'
import type { Lang } from '../intent/numbers.ts'
import { type MessageKey, type MessageParams, type SlotName, say } from './catalog.ts'

/**
 * The conversation and the payment session as one pure state machine:
 * `transition(state, event) -> { state, effects }`. The agent shell
 * (agent.ts) performs the effects (HTTP, MQTT, timers, speech) and feeds
 * their results back as events. Nothing here does I/O, reads a clock or
 * makes an id, so the simulators run it thousands of times in one process.
 *
 * The hold is requested before the read-back, so that the driver hears the
 * amount the bank actually approved (partial approvals happen); the pump is
 * activated only after a "yes"; a "no" voids the hold (design: step 1).
 */
export type Phase =
  | 'idle'
  | 'locating'
  | 'collecting'
  | 'requesting_hold'
  | 'voice_code'
  | 'confirming'
  | 'authorizing'
  | 'pump_ready'
  | 'fueling'
  | 'settling'
  | 'done'

/** Why a conversation ended without a payment, when it was not a proto refusal. */
export type LocalCode = 'NOT_UNDERSTOOD'
export type OutcomeCode = ReasonCode | LocalCode

export interface Outcome {
  paid: boolean
  code?: OutcomeCode
  message?: string
  sessionId?: string
  receipt?: Receipt
  sale?: SaleRecord
}

export interface DialogueLimits {
  /** How long the agent waits for the driver's yes/no or a missing slot. */
  answerTimeoutMs: number
  /** How long for pump-authorized/pump-rejected after publishing authorize. */
  pumpReplyTimeoutMs: number
  /** Added to the pump's own nozzle timeout before the agent gives up. */
  nozzleGraceMs: number
  /** Longest fueling the agent waits for (progress resets nothing: this is a backstop). */
  maxFuelingMs: number
  /**
   * After this long fueling without news from the pump, and when the pump
   * seems never to have been used, the car asks the cloud how the session
   * stands: a station message lost while the car's link was down must not
   * leave the driver without the sale, or cancel a delivery in progress.
   */
  quietCheckMs: number
  /** How long for the sale verification and the receipt. */
  settleTimeoutMs: number
  /** After this long without the bank's answer the driver is told the car is still asking (the cloud may take 30 s). */
  holdNoticeMs: number
  maxUnknown: number
  maxVoiceCodeAttempts: number
}

export const DEFAULT_LIMITS: DialogueLimits = Object.freeze({
  answerTimeoutMs: 60_000,
  pumpReplyTimeoutMs: 15_000,
  nozzleGraceMs: 15_000,
  maxFuelingMs: 20 * 60_000,
  quietCheckMs: 30_000,
  settleTimeoutMs: 60_000,
  holdNoticeMs: 3000,
  maxUnknown: 3,
  maxVoiceCodeAttempts: 3,
})

export interface DialogueState {
  phase: Phase
  lang: Lang
  limits: DialogueLimits
  slots: Slots
  awaiting?: 'pump' | 'grade' | undefined
  station?: StationSummary | undefined
  /** The pump proposed by the strongest pump beacon. */
  beaconPump?: number | undefined
  /** Where the car was when it located the station; sent with the hold so the cloud checks the geofence. */
  position?: Position | undefined
  pumpFromBeacon: boolean
  grades?: Grade[] | undefined
  amountMinor?: number | undefined
  voiceCode?: string | undefined
  voiceCodeAttempts: number
  unknownCount: number
  hold?: FuelAuthorizationResponse | undefined
  /** Set when the driver cancels while a hold request is in flight. */
  cancelOnHold: boolean
  progress?: ProgressMessage | undefined
  sale?: SaleRecord | undefined
  saleJws?: string | undefined
  endReason?: Reason | undefined
  outcome?: Outcome | undefined
}

export type TimerName = 'answer' | 'hold' | 'pump-reply' | 'nozzle' | 'fueling' | 'settle' | 'quiet'

export type DialogueEvent =
  | { type: 'utterance'; parsed: ParsedUtterance }
  | { type: 'located'; station?: StationSummary; beaconPump?: number; position?: Position; reason?: Reason }
  | { type: 'hold-granted'; hold: FuelAuthorizationResponse }
  | { type: 'hold-declined'; reason: Reason }
  | { type: 'pump-authorized'; sessionId: string; nozzleTimeoutMs: number }
  | { type: 'pump-rejected'; reason: Reason }
  | { type: 'progress'; message: ProgressMessage }
  | { type: 'completed'; sale: SaleRecord; saleJws: string }
  | { type: 'session-ended'; reason: Reason; saleJws?: string }
  /** `sale`: what the station signed, once verified (a session-ended carries only the signed form). */
  | { type: 'sale-verified'; ok: boolean; reason?: Reason; sale?: SaleRecord }
  | { type: 'receipt'; receipt: Receipt }
  | { type: 'receipt-failed'; reason: Reason }
  /** The cloud's view of the session, asked after a quiet spell; undefined when the cloud did not answer. */
  | { type: 'session-checked'; view?: SessionView }
  | { type: 'timeout'; timer: TimerName }

export type Effect =
  | { type: 'say'; key: MessageKey; text: string; lang: Lang }
  | { type: 'show'; text: string }
  | { type: 'locate' }
  | { type: 'request-hold'; request: FuelAuthorizationRequest }
  | { type: 'authorize-pump'; stationId: string; pump: number; sessionId: string; token: string }
  | { type: 'cancel-pump'; stationId: string; pump: number; sessionId: string }
  | { type: 'cancel-session'; sessionId: string }
  /** Check the signed sale against what the car authorized: the hold's station, pump and session. */
  | { type: 'verify-sale'; stationId: string; pump: number; sessionId: string; saleJws: string }
  | { type: 'fetch-receipt'; sessionId: string }
  /** Ask the cloud how the session stands (answered by session-checked). */
  | { type: 'check-session'; sessionId: string }
  | { type: 'start-timer'; timer: TimerName; ms: number }
  | { type: 'clear-timer'; timer: TimerName }
  | { type: 'finished'; outcome: Outcome }

export interface Step {
  state: DialogueState
  effects: Effect[]
}

/** A fresh conversation. @example initialState({ lang: 'de' }) */
export function initialState(opts: { lang?: Lang; limits?: Partial<DialogueLimits> } = {}): DialogueState {
  return {
    phase: 'idle',
    lang: opts.lang ?? 'en',
    limits: { ...DEFAULT_LIMITS, ...opts.limits },
    slots: {},
    pumpFromBeacon: false,
    voiceCodeAttempts: 0,
    unknownCount: 0,
    cancelOnHold: false,
  }
}

export const DRIVER_TURN_PHASES: readonly Phase[] = ['idle', 'collecting', 'voice_code', 'confirming']

export function isTerminal(state: DialogueState): boolean {
  return state.phase === 'done'
}

function sayFx<K extends MessageKey>(s: DialogueState, key: K, params: MessageParams[K]): Effect {
  return { type: 'say', key, text: say(s.lang, key, params), lang: s.lang }
}

function finish(s: DialogueState, outcome: Outcome, effects: Effect[]): Step {
  const out: Outcome = { ...outcome, ...(s.hold ? { sessionId: s.hold.sessionId } : {}) }
  if (outcome.receipt) out.receipt = outcome.receipt
  const timers: Effect[] = (['answer', 'hold', 'pump-reply', 'nozzle', 'fueling', 'settle', 'quiet'] as TimerName[]).map((timer) => ({ type: 'clear-timer', timer }))
  return { state: { ...s, phase: 'done', outcome: out }, effects: [...effects, ...timers, { type: 'finished', outcome: out }] }
}

function mergeSlots(a: Slots, b: Slots): Slots {
  const out: Slots = { ...a }
  if (b.pump !== undefined) out.pump = b.pump
  if (b.amount) out.amount = b.amount
  if (b.grade) out.grade = b.grade
  if (b.paymentMethod) out.paymentMethod = b.paymentMethod
  return out
}

function stationPump(station: StationSummary, pump: number) {
  return station.pumps.find((p) => p.pump === pump)
}

/**
 * With a station known, checks the slots and either asks for what is
 * missing or requests the hold. A pump not at the station is refused
 * (design: where am I).
 */
function proceed(s0: DialogueState, pre: Effect[] = []): Step {
  const station = s0.station
  if (!station) return { state: { ...s0, phase: 'locating' }, effects: [...pre, { type: 'locate' }] }
  let s = s0
  const effects: Effect[] = [...pre]
  const pumpNumbers = station.pumps.map((p) => p.pump)
  if (s.slots.pump !== undefined && !stationPump(station, s.slots.pump)) {
    effects.push(sayFx(s, 'pumpNotAtStation', { pump: s.slots.pump, station: station.name }))
    const { pump: _dropped, ...rest } = s.slots
    s = { ...s, slots: rest, pumpFromBeacon: false }
  }
  const beaconPump = s.beaconPump
  if (s.slots.pump === undefined && beaconPump !== undefined && stationPump(station, beaconPump)) {
    s = { ...s, slots: { ...s.slots, pump: beaconPump }, pumpFromBeacon: true }
    effects.push(sayFx(s, 'pumpProposed', { pump: beaconPump }))
  }
  if (s.slots.pump === undefined) {
    effects.push(sayFx(s, 'askPump', { pumps: pumpNumbers }), { type: 'start-timer', timer: 'answer', ms: s.limits.answerTimeoutMs })
    return { state: { ...s, phase: 'collecting', awaiting: 'pump' }, effects }
  }
  const pump = stationPump(station, s.slots.pump)
  const sold = (pump?.grades ?? []).map((g) => g.grade)
  let grades: Grade[] | undefined
  if (s.slots.grade) {
    const pick = s.slots.grade.grades.find((g) => sold.includes(g))
    if (!pick) {
      effects.push(sayFx(s, 'gradeNotSold', { said: s.slots.grade.said, grades: sold }), { type: 'start-timer', timer: 'answer', ms: s.limits.answerTimeoutMs })
      const { grade: _dropped, ...rest } = s.slots
      return { state: { ...s, slots: rest, phase: 'collecting', awaiting: 'grade' }, effects }
    }
    grades = [pick]
  }
  let amountMinor: number | undefined
  const currency = station.currency as Currency
  if (s.slots.amount) {
    const said = s.slots.amount.currencies
    if (said && !said.includes(currency)) {
      effects.push(sayFx(s, 'currencyMismatch', { currency }))
    } else if (isCurrency(currency)) {
      const parsed = parseAmount(s.slots.amount.text, currency)
      if (parsed.ok && parsed.value >= 1) amountMinor = parsed.value
    }
  }
  s = { ...s, grades, amountMinor, awaiting: undefined }
  return requestHold(s, effects)
}

function requestHold(s: DialogueState, pre: Effect[]): Step {
  const station = s.station as StationSummary
  const request: FuelAuthorizationRequest = {
    stationId: station.id,
    pump: s.slots.pump as number,
    ...(s.grades?.length === 1 ? { grade: s.grades[0] as Grade } : {}),
    ...(s.amountMinor !== undefined ? { amountMinor: s.amountMinor, currency: station.currency } : {}),
    ...(s.slots.paymentMethod ? { paymentMethodName: s.slots.paymentMethod } : {}),
    ...(s.voiceCode ? { voiceCode: s.voiceCode } : {}),
    ...(s.position ? { position: requestPosition(s.position) } : {}),
  }
  return {
    state: { ...s, phase: 'requesting_hold' },
    effects: [...pre, { type: 'clear-timer', timer: 'answer' }, { type: 'request-hold', request }, { type: 'start-timer', timer: 'hold', ms: s.limits.holdNoticeMs }],
  }
}

/** The position as the request schema takes it: whole metres of accuracy (rounded up), within its bounds. */
function requestPosition(p: Position): Position {
  const accuracyM = p.accuracyM !== undefined && Number.isFinite(p.accuracyM) ? Math.min(100_000, Math.max(0, Math.ceil(p.accuracyM))) : undefined
  return { lat: p.lat, lon: p.lon, ...(accuracyM !== undefined ? { accuracyM } : {}) }
}

function cancelEverything(s: DialogueState, pumpToo: boolean): Effect[] {
  if (!s.hold) return []
  const fx: Effect[] = []
  if (pumpToo) fx.push({ type: 'cancel-pump', stationId: s.hold.station.id, pump: s.hold.pump, sessionId: s.hold.sessionId })
  fx.push({ type: 'cancel-session', sessionId: s.hold.sessionId })
  return fx
}

function onUnknown(s: DialogueState, reprompt: Effect[]): Step {
  const unknownCount = s.unknownCount + 1
  const next = { ...s, unknownCount }
  if (unknownCount >= s.limits.maxUnknown && s.phase !== 'idle') {
    return finish(next, { paid: false, code: 'NOT_UNDERSTOOD' }, [...cancelEverything(s, false), sayFx(s, 'notUnderstood', {})])
  }
  if (s.phase === 'idle') {
    const fx = [sayFx(s, 'notUnderstood', {})]
    if (unknownCount >= s.limits.maxUnknown) return finish(next, { paid: false, code: 'NOT_UNDERSTOOD' }, fx)
    return { state: next, effects: fx }
  }
  return { state: next, effects: [sayFx(s, 'notUnderstood', {}), ...reprompt] }
}

function onUtterance(s0: DialogueState, p: ParsedUtterance): Step {
  // Replies follow the driver's language, but a lone "ok" keeps the conversation's.
  const s: DialogueState = { ...s0, lang: p.intent === 'unknown' ? s0.lang : p.lang }
  const fueling = s.phase === 'fueling'
  if (p.intent === 'cancel' || (p.intent === 'deny' && s.phase !== 'confirming' && s.phase !== 'idle' && s.phase !== 'fueling' && s.phase !== 'done')) {
    switch (s.phase) {
      case 'idle':
        return { state: s, effects: [sayFx(s, 'statusNone', {})] }
      case 'done':
        return { state: s, effects: [] }
      case 'fueling':
        return { state: s, effects: [sayFx(s, 'cannotCancelFlowing', {})] }
      case 'requesting_hold':
        return { state: { ...s, cancelOnHold: true }, effects: [] }
      case 'settling':
        return { state: s, effects: [sayFx(s, 'cannotCancelFlowing', {})] }
      default: {
        const pumpToo = s.phase === 'authorizing' || s.phase === 'pump_ready'
        return finish(s, { paid: false, code: 'CANCELLED' }, [...cancelEverything(s, pumpToo), sayFx(s, 'cancelled', {})])
      }
    }
  }
  if (p.intent === 'status') {
    if ((fueling || s.phase === 'settling' || s.phase === 'pump_ready') && s.progress) {
      const unit = s.hold?.volumeUnit ?? 'L'
      const m = s.progress
      return { state: s, effects: [sayFx(s, 'statusFueling', { volumeMilli: m.volumeMilli, unit, amountMinor: m.amountMinor, currency: m.currency as Currency })] }
    }
    if (s.phase === 'authorizing' || s.phase === 'pump_ready' || s.phase === 'requesting_hold') return { state: s, effects: [sayFx(s, 'statusWaiting', {})] }
    if (s.phase === 'idle' || s.phase === 'done') return { state: s, effects: [sayFx(s, 'statusNone', {})] }
  }
  switch (s.phase) {
    case 'idle': {
      if (p.intent === 'pay_fuel') {
        return { state: { ...s, phase: 'locating', slots: p.slots, unknownCount: 0 }, effects: [{ type: 'locate' }] }
      }
      if (p.intent === 'confirm' || p.intent === 'deny') return { state: s, effects: [sayFx(s, 'nothingToConfirm', {})] }
      return onUnknown(s, [])
    }
    case 'collecting': {
      const slots = mergeSlots(s.slots, p.slots)
      // A bare number answers the question asked: "two" for "which pump?".
      const bare = p.numbers[0]
      if (s.awaiting === 'pump' && slots.pump === undefined && bare && !bare.text.includes('.') && bare.value >= 1 && bare.value <= 99) slots.pump = bare.value
      const answered = (s.awaiting === 'pump' && slots.pump !== undefined) || (s.awaiting === 'grade' && slots.grade !== undefined)
      if (!answered) {
        const again = s.awaiting === 'pump'
          ? [sayFx(s, 'askPump', { pumps: (s.station?.pumps ?? []).map((x) => x.pump) })]
          : [sayFx(s, 'askGrade', { grades: (s.station?.pumps.find((x) => x.pump === s.slots.pump)?.grades ?? []).map((g) => g.grade) })]
        return onUnknown(s, again)
      }
      return proceed({ ...s, slots, pumpFromBeacon: p.slots.pump === undefined && s.pumpFromBeacon })
    }
    case 'voice_code': {
      const code = extractVoiceCode(p.text, s.lang)
      if (!code) return onUnknown(s, [sayFx(s, 'askVoiceCode', {})])
      return requestHold({ ...s, voiceCode: code }, [])
    }
    case 'confirming': {
      const differs = p.intent === 'confirm' ? slotsNotHeld(s, p.slots) : []
      if (differs.length > 0) {
        // "Yes, pump 3" to a read-back of pump 2 is not a yes to pump 2: the
        // held pump is not activated. The hold does not match what the driver
        // wants, so it is released and one for the changed slots is asked
        // for; its read-back asks again.
        const voided = cancelEverything(s, false)
        const next: DialogueState = { ...s, hold: undefined, slots: mergeSlots(s.slots, p.slots), pumpFromBeacon: p.slots.pump === undefined && s.pumpFromBeacon }
        return proceed(next, [{ type: 'clear-timer', timer: 'answer' }, ...voided, sayFx(s, 'confirmDiffers', { slots: differs })])
      }
      if (p.intent === 'confirm') {
        const h = s.hold as FuelAuthorizationResponse
        return {
          state: { ...s, phase: 'authorizing' },
          effects: [
            { type: 'clear-timer', timer: 'answer' },
            sayFx(s, 'activating', { pump: h.pump }),
            { type: 'authorize-pump', stationId: h.station.id, pump: h.pump, sessionId: h.sessionId, token: h.token },
            { type: 'start-timer', timer: 'pump-reply', ms: s.limits.pumpReplyTimeoutMs },
          ],
        }
      }
      const changes = p.slots.pump !== undefined || p.slots.grade !== undefined || p.slots.amount !== undefined || p.slots.paymentMethod !== undefined
      if ((p.intent === 'deny' || p.intent === 'pay_fuel') && changes) {
        // "No, pump 3": void this hold and ask for one that matches.
        const voided = cancelEverything(s, false)
        const next: DialogueState = { ...s, hold: undefined, slots: mergeSlots(s.slots, p.slots), pumpFromBeacon: p.slots.pump === undefined && s.pumpFromBeacon }
        return proceed(next, [{ type: 'clear-timer', timer: 'answer' }, ...voided, sayFx(s, 'changing', {})])
      }
      if (p.intent === 'deny') {
        return finish(s, { paid: false, code: 'CANCELLED' }, [...cancelEverything(s, false), sayFx(s, 'cancelled', {})])
      }
      return onUnknown(s, [sayFx(s, 'answerYesNo', {})])
    }
    case 'authorizing':
    case 'pump_ready':
    case 'fueling':
    case 'settling':
    case 'requesting_hold':
    case 'locating':
      if (p.intent === 'unknown') return { state: s, effects: [sayFx(s, 'notUnderstood', {})] }
      return { state: s, effects: [] }
    case 'done':
      return { state: s, effects: [] }
  }
}

/**
 * The slots of a confirm that name something other than the hold read back:
 * another pump, a fuel the hold does not allow, another amount, another card.
 * A slot that says what the hold already is ("yes, pump 2" to pump 2) is no change.
 */
function slotsNotHeld(s: DialogueState, said: Slots): SlotName[] {
  const h = s.hold
  if (!h) return []
  const out: SlotName[] = []
  if (said.pump !== undefined && said.pump !== h.pump) out.push('pump')
  if (said.grade) {
    // The grade the pump would give for these words (as proceed picks it) must be one the hold allows.
    const sold = (s.station ? stationPump(s.station, h.pump)?.grades ?? [] : []).map((g) => g.grade)
    const pick = said.grade.grades.find((g) => sold.includes(g))
    if (pick === undefined || !h.grades.includes(pick)) out.push('grade')
  }
  if (said.amount) {
    const currencyOk = !said.amount.currencies || (isCurrency(h.currency) && said.amount.currencies.includes(h.currency))
    const parsed = isCurrency(h.currency) ? parseAmount(said.amount.text, h.currency) : undefined
    if (!currencyOk || !parsed?.ok || parsed.value !== h.holdAmountMinor) out.push('amount')
  }
  if (said.paymentMethod) {
    const name = said.paymentMethod.toLowerCase()
    const held = [s.slots.paymentMethod, h.paymentMethod.name, h.paymentMethod.brand].map((x) => x?.toLowerCase())
    if (!held.includes(name)) out.push('card')
  }
  return out
}

function readBackFx(s: DialogueState, h: FuelAuthorizationResponse): Effect {
  return sayFx(s, 'readBack', {
    station: h.station.name,
    pump: h.pump,
    grades: h.grades,
    holdAmountMinor: h.holdAmountMinor,
    currency: h.currency as Currency,
    partial: h.partial,
    card: { brand: h.paymentMethod.brand, last4: h.paymentMethod.last4 },
    pumpFromBeacon: s.pumpFromBeacon,
  })
}

/** The dialogue's one entry point. Unexpected events change nothing. */
export function transition(s: DialogueState, e: DialogueEvent): Step {
  if (e.type === 'utterance') return onUtterance(s, e.parsed)
  if (s.phase === 'done') return { state: s, effects: [] }
  switch (e.type) {
    case 'located': {
      if (s.phase !== 'locating') break
      if (!e.station) {
        const code = e.reason?.code ?? 'OUTSIDE_GEOFENCE'
        return finish(s, { paid: false, code, message: e.reason?.message }, [sayFx(s, 'noStation', { code })])
      }
      return proceed({ ...s, station: e.station, beaconPump: e.beaconPump, position: e.position })
    }
    case 'hold-granted': {
      if (s.phase !== 'requesting_hold') break
      const next = { ...s, hold: e.hold }
      const quiet: Effect = { type: 'clear-timer', timer: 'hold' }
      if (s.cancelOnHold) return finish(next, { paid: false, code: 'CANCELLED' }, [...cancelEverything(next, false), sayFx(s, 'cancelled', {})])
      return {
        state: { ...next, phase: 'confirming', unknownCount: 0 },
        effects: [quiet, readBackFx(s, e.hold), { type: 'start-timer', timer: 'answer', ms: s.limits.answerTimeoutMs }],
      }
    }
    case 'hold-declined': {
      if (s.phase !== 'requesting_hold') break
      const code = e.reason.code
      const quiet: Effect = { type: 'clear-timer', timer: 'hold' }
      if (s.cancelOnHold) return finish(s, { paid: false, code: 'CANCELLED' }, [sayFx(s, 'cancelled', {})])
      if (code === 'VOICE_CODE_REQUIRED' || code === 'VOICE_CODE_WRONG') {
        const attempts = s.voiceCodeAttempts + (code === 'VOICE_CODE_WRONG' ? 1 : 0)
        if (attempts >= s.limits.maxVoiceCodeAttempts) {
          return finish(s, { paid: false, code, message: e.reason.message }, [sayFx(s, 'declined', { code })])
        }
        return {
          state: { ...s, phase: 'voice_code', voiceCodeAttempts: attempts, voiceCode: undefined },
          effects: [quiet, sayFx(s, code === 'VOICE_CODE_WRONG' ? 'voiceCodeWrong' : 'askVoiceCode', {}), { type: 'start-timer', timer: 'answer', ms: s.limits.answerTimeoutMs }],
        }
      }
      return finish(s, { paid: false, code, message: e.reason.message }, [sayFx(s, 'declined', { code })])
    }
    case 'pump-authorized': {
      if (s.phase !== 'authorizing' || e.sessionId !== s.hold?.sessionId) break
      return {
        state: { ...s, phase: 'pump_ready' },
        effects: [
          { type: 'clear-timer', timer: 'pump-reply' },
          sayFx(s, 'pumpReady', { pump: s.hold.pump }),
          { type: 'start-timer', timer: 'nozzle', ms: e.nozzleTimeoutMs + s.limits.nozzleGraceMs },
        ],
      }
    }
    case 'pump-rejected': {
      if (s.phase !== 'authorizing') break
      const code = e.reason.code
      return finish(s, { paid: false, code, message: e.reason.message }, [...cancelEverything(s, false), sayFx(s, 'pumpRejected', { code })])
    }
    case 'progress': {
      if (!s.hold || e.message.sessionId !== s.hold.sessionId) break
      if (s.phase !== 'pump_ready' && s.phase !== 'fueling' && s.phase !== 'authorizing') break
      const show: Effect = { type: 'show', text: `${e.message.state} ${formatVolume(e.message.volumeMilli, s.hold.volumeUnit)} ${formatAmount(e.message.amountMinor, e.message.currency as Currency)}` }
      const flowing = e.message.state === 'fueling' || e.message.volumeMilli > 0
      if (flowing && s.phase !== 'fueling') {
        return {
          state: { ...s, phase: 'fueling', progress: e.message },
          effects: [
            { type: 'clear-timer', timer: 'pump-reply' },
            { type: 'clear-timer', timer: 'nozzle' },
            sayFx(s, 'fuelingStarted', {}),
            show,
            { type: 'start-timer', timer: 'fueling', ms: s.limits.maxFuelingMs },
            { type: 'start-timer', timer: 'quiet', ms: s.limits.quietCheckMs },
          ],
        }
      }
      const news: Effect[] = s.phase === 'fueling' ? [{ type: 'start-timer', timer: 'quiet', ms: s.limits.quietCheckMs }] : []
      return { state: { ...s, progress: e.message }, effects: [show, ...news] }
    }
    case 'completed': {
      if (!s.hold || e.sale.sessionId !== s.hold.sessionId || s.phase === 'settling') break
      const unit = e.sale.volumeUnit
      return toSettling(s, { sale: e.sale, saleJws: e.saleJws }, [
        sayFx(s, 'completed', { volumeMilli: e.sale.volumeMilli, unit, amountMinor: e.sale.amountMinor, currency: e.sale.currency as Currency }),
        verifySale(s.hold, e.saleJws),
      ])
    }
    case 'session-ended': {
      if (!s.hold || s.phase === 'settling') break
      if (s.phase === 'confirming' || s.phase === 'requesting_hold') break
      const code = e.reason.code
      if (e.saleJws && (s.phase === 'fueling' || s.phase === 'pump_ready')) {
        // Fuel flowed and the station ended the session (emergency stop, no
        // flow, too long): its signed sale is captured like a completed one,
        // so it is verified and the driver hears what was charged. At the
        // pump too: its progress may have been lost while the car's link was
        // down; a sale of nothing (the nozzle's time up) ends with its reason.
        return toSettling(s, { endReason: e.reason, saleJws: e.saleJws }, [sayFx(s, 'sessionEnded', { code }), verifySale(s.hold, e.saleJws)])
      }
      return finish({ ...s, endReason: e.reason }, { paid: false, code, message: e.reason.message }, [sayFx(s, 'sessionEnded', { code })])
    }
    case 'sale-verified': {
      if (s.phase !== 'settling') break
      if (!e.ok) {
        return finish(s, { paid: false, code: e.reason?.code ?? 'SALE_SIGNATURE_INVALID', message: e.reason?.message, sale: s.sale }, [sayFx(s, 'saleUnverified', {})])
      }
      const sale = s.sale ?? e.sale
      // A station-ended session that sold nothing has no receipt: it ends with the station's reason.
      if (s.endReason && sale?.amountMinor === 0) {
        return finish(s, { paid: false, code: s.endReason.code, message: s.endReason.message, sale }, [])
      }
      return { state: { ...s, sale }, effects: [{ type: 'fetch-receipt', sessionId: (s.hold as FuelAuthorizationResponse).sessionId }] }
    }
    case 'receipt': {
      if (s.phase !== 'settling') break
      const r = e.receipt
      return finish(s, { paid: true, receipt: r, sale: s.sale }, [
        sayFx(s, 'receipt', { amountMinor: r.amountMinor, currency: r.currency as Currency, brand: r.paymentMethod.brand, last4: r.paymentMethod.last4, station: r.stationName }),
      ])
    }
    case 'receipt-failed': {
      if (s.phase !== 'settling') break
      return finish(s, { paid: false, code: e.reason.code, message: e.reason.message, sale: s.sale }, [sayFx(s, 'receiptUnavailable', {})])
    }
    case 'session-checked':
      return onSessionChecked(s, e.view)
    case 'timeout':
      return onTimeout(s, e.timer)
  }
  return { state: s, effects: [] }
}

/** Into settling: the pump's timers end and the settle timer bounds `work` (verifying the sale, fetching the receipt). */
function toSettling(s: DialogueState, patch: Partial<DialogueState>, work: Effect[]): Step {
  const ended: Effect[] = (['pump-reply', 'nozzle', 'fueling', 'quiet'] as TimerName[]).map((timer) => ({ type: 'clear-timer', timer }))
  return { state: { ...s, ...patch, phase: 'settling' }, effects: [...ended, ...work, { type: 'start-timer', timer: 'settle', ms: s.limits.settleTimeoutMs }] }
}

/** The hold's station, not the one the sale names: a sale must prove it is for what the car authorized. */
function verifySale(hold: FuelAuthorizationResponse, saleJws: string): Effect {
  return { type: 'verify-sale', stationId: hold.station.id, pump: hold.pump, sessionId: hold.sessionId, saleJws }
}

/** Sessions the cloud has charged or is about to: the receipt tells the driver what. */
const CHARGED_STATES: readonly SessionView['state'][] = ['completed', 'captured']
/** Sessions over without a charge. */
const ENDED_STATES: readonly SessionView['state'][] = ['voided', 'expired', 'failed', 'declined']

/**
 * What the cloud says after a quiet spell. Fueling: charged means the
 * station's completed message was lost (the receipt follows), ended means
 * its session-ended was; otherwise wait again. A pump that seemed never used
 * (the nozzle time is up): if the cloud saw fuel flow, the car follows it
 * instead of cancelling a delivery in progress.
 */
function onSessionChecked(s: DialogueState, view: SessionView | undefined): Step {
  const hold = s.hold
  if (!hold || (s.phase !== 'fueling' && s.phase !== 'pump_ready')) return { state: s, effects: [] }
  const state = view?.sessionId === hold.sessionId ? view.state : undefined
  if (state && CHARGED_STATES.includes(state)) {
    return toSettling(s, {}, [{ type: 'fetch-receipt', sessionId: hold.sessionId }])
  }
  if (state && ENDED_STATES.includes(state)) {
    const code = view?.reason?.code ?? 'SESSION_STATE_CONFLICT'
    return finish(s, { paid: false, code, message: view?.reason?.message }, [sayFx(s, 'sessionEnded', { code })])
  }
  if (s.phase === 'fueling') return { state: s, effects: [{ type: 'start-timer', timer: 'quiet', ms: s.limits.quietCheckMs }] }
  // pump_ready, the nozzle's time up: fuel flowing that the car did not hear of.
  if (state === 'fueling') {
    return {
      state: { ...s, phase: 'fueling' },
      effects: [
        sayFx(s, 'fuelingStarted', {}),
        { type: 'start-timer', timer: 'fueling', ms: s.limits.maxFuelingMs },
        { type: 'start-timer', timer: 'quiet', ms: s.limits.quietCheckMs },
      ],
    }
  }
  return nozzleTimedOut(s)
}

function nozzleTimedOut(s: DialogueState): Step {
  return finish(s, { paid: false, code: 'NOZZLE_TIMEOUT' }, [...cancelEverything(s, true), sayFx(s, 'sessionEnded', { code: 'NOZZLE_TIMEOUT' })])
}

function onTimeout(s: DialogueState, timer: TimerName): Step {
  switch (timer) {
    case 'hold':
      // The bank (or the cloud) is slow: the driver hears that the car is still asking, once.
      if (s.phase === 'requesting_hold') return { state: s, effects: [sayFx(s, 'checkingHold', {})] }
      break
    case 'answer':
      if (s.phase === 'collecting' || s.phase === 'confirming' || s.phase === 'voice_code') {
        return finish(s, { paid: false, code: 'TIMEOUT', message: 'no answer from the driver' }, [...cancelEverything(s, false), sayFx(s, 'noAnswer', {})])
      }
      break
    case 'pump-reply':
      if (s.phase === 'authorizing') {
        return finish(s, { paid: false, code: 'TIMEOUT', message: 'the pump did not answer' }, [...cancelEverything(s, true), sayFx(s, 'pumpNoAnswer', {})])
      }
      break
    case 'nozzle':
      // Asked first: the pump's progress may have been lost while the car's link was down.
      if (s.phase === 'pump_ready' && s.hold) return { state: s, effects: [{ type: 'check-session', sessionId: s.hold.sessionId }] }
      break
    case 'quiet':
      if (s.phase === 'fueling' && s.hold) return { state: s, effects: [{ type: 'check-session', sessionId: s.hold.sessionId }] }
      break
    case 'fueling':
      if (s.phase === 'fueling') {
        return finish(s, { paid: false, code: 'MAX_DURATION' }, [sayFx(s, 'sessionEnded', { code: 'MAX_DURATION' })])
      }
      break
    case 'settle':
      if (s.phase === 'settling') {
        return finish(s, { paid: false, code: 'TIMEOUT', message: 'no receipt in time', sale: s.sale }, [sayFx(s, 'receiptUnavailable', {})])
      }
      break
  }
  return { state: s, effects: [] }
}
