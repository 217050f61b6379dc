import {
  amountForVolume,
  CLOCK_SKEW_S,
  type Draft,
  decode,
  encode,
  fail,
  type Grade,
  isId,
  type Message,
  type MessageType,
  PUMP_STATES,
  type PumpAuthorizationClaims,
  parseTopic,
  type Reason,
  type ReasonCode,
  type Result,
  reason,
  type SaleRecord,
  type SigningKey,
  type StationCommandMessage,
  signSaleRecord,
  topics,
  verifyPumpAuthorization,
} from '@fuelpay/proto'
import type { Logger } from 'pino'
import type { CloudClient } from './cloud/cloud-client.ts'
import type { ControllerConfig } from './config.ts'
import type { Journal } from './journal/journal.repository.ts'
import { createKeyCache, type KeyCache } from './keys/key-cache.ts'
import { type ControllerMetrics, createControllerMetrics } from './metrics.ts'
import type { MqttLink } from './mqtt/mqtt-link.ts'
import {
  type DispenserReading,
  initialPumpState,
  type PumpEffect,
  type PumpEvent,
  type PumpSession,
  type PumpState,
  recover,
  type Transition,
  transition,
} from './pump/pump.machine.ts'
import type { DriverEvent, PumpDriver } from './pump/pump-driver.ts'
import {
  createSaleForwarder,
  type DeliveryFailure,
  type SaleForwarder,
} from './sales/sale-forwarder.ts'

export interface Clock {
  now(): number
}

export interface PumpControllerOptions {
  log: Logger
  config: ControllerConfig
  /** The station's MQTT connection (see connectStationLink). */
  link: MqttLink
  /** One driver per configured pump. */
  drivers: PumpDriver[]
  journal: Journal
  cloud: Pick<CloudClient, 'postSale' | 'jwks'>
  /** The station's Ed25519 key: signs sale records. */
  stationKey: SigningKey
  clock?: Clock
  keys?: KeyCache
  metrics?: ControllerMetrics
  /** Store-and-forward backoff (defaults 500 ms .. 60 s). */
  retry?: { baseDelayMs?: number; maxDelayMs?: number }
}

/**
 * A station's pump controller: one state machine per pump, fed by MQTT
 * requests, station commands, the pump drivers and a ticker, all through
 * one serial queue (so two requests for one pump never interleave).
 *
 * @example
 *   const pc = createPumpController({ log, config, link, drivers, journal, cloud, stationKey })
 *   await pc.start()
 */
export interface PumpController {
  start(): Promise<void>
  stop(): Promise<void>
  state(pump: number): PumpState | undefined
  states(): PumpState[]
  health(): {
    ok: boolean
    stationId: string
    mqttConnected: boolean
    backlog: number
    /** The oldest pending sale while its delivery keeps failing: the queue is stuck behind it. */
    deliveryFailing?: DeliveryFailure
    pumps: { pump: number; state: string }[]
  }
  /** Resolves when every queued event has been handled. */
  settled(): Promise<void>
  readonly metrics: ControllerMetrics
  readonly forwarder: SaleForwarder
  readonly keys: KeyCache
}

const ANSWER_CACHE_MAX = 10_000
/** Rejections are remembered briefly (duplicate deliveries); authorizations for the token's life. */
const REJECTION_TTL_MS = 30_000
/**
 * Refusals that say "not now" rather than "no": the station's journal was
 * away, or the token's key is not fetched yet. They are not remembered, so
 * the car's retry with the same request id is decided afresh, not answered
 * with the stale refusal. Nothing was armed, so a retry cannot activate twice.
 */
const TEMPORARY_REFUSALS: ReadonlySet<ReasonCode> = new Set<ReasonCode>([
  'UNAVAILABLE',
  'TOKEN_UNKNOWN_KEY',
])
/**
 * How long a void of a session this station has not seen is kept: a token
 * verifies for at most one hour after its `iat` (proto verifyPumpAuthorization),
 * its `iat` may be up to the clock skew ahead of ours, and its expiry is
 * stretched by the skew again. The cloud's tokens live 2 minutes; this is the bound.
 */
const REVOCATION_KEEP_MS = (3600 + 2 * CLOCK_SKEW_S) * 1000

type AnyDraft = { [T in MessageType]: Draft<T> & { type: T } }[MessageType]

type EndSessionEffect = Extract<PumpEffect, { type: 'end-session' }>

/**
 * A pump's state as the controller journals it: the machine's state plus the
 * sessions it ended whose sales could not be journaled yet. The machine's
 * state no longer holds those sessions, so without them a later write of the
 * pump would drop the only durable trace of a finished sale; recovery records
 * them (recordSale is idempotent on the session) before anything else.
 */
interface JournaledPumpState extends PumpState {
  unrecordedSales?: EndSessionEffect[]
  /**
   * The configured prices (--pumps) of the run that wrote this state. At
   * start a configured price that differs from it is new and wins; one that
   * did not change leaves the journaled price (an operator's set-price) alone.
   */
  configuredPrices?: Partial<Record<Grade, number>>
}

interface CachedAnswer {
  topic: string
  draft: AnyDraft
  until: number
}

export function createPumpController(opts: PumpControllerOptions): PumpController {
  const { log, config, link, journal } = opts
  const stationId = config.stationId
  const clock: Clock = opts.clock ?? { now: () => Date.now() }
  const metrics = opts.metrics ?? createControllerMetrics({ stationId })
  const drivers = new Map(opts.drivers.map((d) => [d.pump, d]))
  const machines = new Map<number, PumpState>()
  const answers = new Map<string, CachedAnswer>()
  const lastProgress = new Map<number, number>()
  const unsubscribers: (() => void)[] = []
  /** Ended sessions whose sales are not journaled yet, by session id (see JournaledPumpState). */
  const pendingEnds = new Map<string, { pump: number; effect: EndSessionEffect }>()
  /** Pumps whose last state change the journal refused (see savePumpState). */
  const unsavedPumps = new Set<number>()
  const timers: NodeJS.Timeout[] = []
  let chain: Promise<unknown> = Promise.resolve()
  let stopped = false
  let tickQueued = false

  const revocations = sessionRevocations(journal, log, clock)

  const keys =
    opts.keys ??
    createKeyCache({
      fetchJwks: () => opts.cloud.jwks(),
      log,
      clock,
      persist: (doc) => journal.setValue('jwks', doc, clock.now()),
    })

  const forwarder = createSaleForwarder({
    journal,
    cloud: opts.cloud,
    log,
    clock,
    ...opts.retry,
    onDelivered: () => {
      metrics.salesDelivered.inc()
      metrics.headAttempts.set(0)
    },
    onRejected: () => {
      metrics.salesRejected.inc()
      metrics.headAttempts.set(0)
    },
    onAttemptFailed: () => {
      metrics.deliveryFailures.inc()
      metrics.headAttempts.set(forwarder.failing?.attempts ?? 0)
    },
    onBacklog: (n) => {
      lastBacklog = n
      metrics.backlog.set(n)
      if (backlogTimer !== undefined || n === publishedBacklog || stopped) return
      backlogTimer = setTimeout(() => {
        backlogTimer = undefined
        if (lastBacklog !== publishedBacklog) publishStatus(true)
      }, config.backlogStatusDelayMs ?? 2000)
      backlogTimer.unref?.()
    },
  })
  let lastBacklog = 0
  /** The backlog the last station status said, and the timer of a change not yet said. */
  let publishedBacklog = 0
  let backlogTimer: ReturnType<typeof setTimeout> | undefined

  function enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const p = chain.then(fn)
    chain = p.catch((err: unknown) => log.error({ err }, 'controller task failed'))
    return p
  }

  // Every message this controller sends is stamped later than the one before
  // (a burst within one millisecond included): the cloud orders a pump's
  // states by their stamp, and may hear them in another order (two handlers,
  // or two cloud replicas, at once).
  let lastStamp = 0
  const stamp = () => (lastStamp = Math.max(clock.now(), lastStamp + 1))

  // Publishing is never awaited inside the queue: while the broker is away
  // MQTT.js queues QoS 1 messages, and the pumps must keep working meanwhile.
  function publish(topic: string, draft: AnyDraft, retain = false): void {
    let bytes: Buffer
    try {
      bytes = encode(topic, draft, stamp())
    } catch (err) {
      log.error({ err, type: draft.type }, 'refusing to publish an invalid message')
      return
    }
    link
      .publish(topic, bytes, { qos: 1, retain })
      .catch((err: unknown) => log.warn({ err: (err as Error).message, topic }, 'publish failed'))
  }

  function remember(key: string, topic: string, draft: CachedAnswer['draft'], ttlMs: number) {
    if (answers.size >= ANSWER_CACHE_MAX) {
      const oldest = answers.keys().next().value
      if (oldest !== undefined) answers.delete(oldest)
    }
    answers.set(key, { topic, draft, until: clock.now() + ttlMs })
  }

  function answer(key: string, topic: string, draft: CachedAnswer['draft'], ttlMs: number) {
    remember(key, topic, draft, ttlMs)
    publish(topic, draft)
  }

  function cached(key: string): boolean {
    const a = answers.get(key)
    if (!a) return false
    if (a.until < clock.now()) {
      answers.delete(key)
      return false
    }
    // The same answer again, with a fresh msgId: the car dedupes by requestId.
    const {
      msgId: _m,
      ts: _t,
      ...draft
    } = a.draft as CachedAnswer['draft'] & { msgId?: string; ts?: number }
    publish(a.topic, draft as CachedAnswer['draft'])
    return true
  }

  // Pump state ------------------------------------------------------------

  function pumpStateDraft(s: PumpState): Draft<'pump-state'> & { type: 'pump-state' } {
    const session = s.session
    const ending = s.ending
    const showEnding = !session && s.name === 'completed' && ending
    return {
      type: 'pump-state',
      stationId,
      pump: s.pump,
      state: s.name,
      ...(session
        ? { sessionId: session.sessionId }
        : showEnding
          ? { sessionId: ending.sessionId }
          : {}),
      ...(session?.grade ? { grade: session.grade } : {}),
      ...(session?.unitPriceMilli ? { unitPriceMilli: session.unitPriceMilli } : {}),
      volumeMilli: session ? session.volumeMilli : showEnding ? ending.volumeMilli : 0,
      amountMinor: session ? session.amountMinor : showEnding ? ending.amountMinor : 0,
      currency: config.currency,
      ...(s.name === 'fault'
        ? { reason: reason('PUMP_FAULT', `pump fault: ${s.fault ?? 'unknown'}`.slice(0, 200)) }
        : {}),
      ...(s.name === 'offline' ? { reason: reason('PUMP_OFFLINE') } : {}),
      ...(s.name === 'suspended' ? { reason: reason('EMERGENCY_STOP') } : {}),
    }
  }

  function publishPumpState(s: PumpState) {
    publish(topics.pumpState(stationId, s.pump), pumpStateDraft(s), true)
    for (const name of PUMP_STATES)
      metrics.pumpState.set({ pump: String(s.pump), state: name }, name === s.name ? 1 : 0)
  }

  function publishStatus(online: boolean) {
    if (stopped && online) return
    publishedBacklog = lastBacklog
    publish(
      topics.stationStatus(stationId),
      {
        type: 'station-status',
        stationId,
        online,
        backlog: lastBacklog,
        pumps: machines.size || config.pumps.length,
      },
      true,
    )
  }

  // Effects -----------------------------------------------------------------

  async function driverCall(pump: number, what: string, fn: (d: PumpDriver) => Promise<void>) {
    const d = drivers.get(pump)
    if (!d) return
    try {
      await fn(d)
    } catch (err) {
      log.error({ pump, err: (err as Error).message }, `pump driver ${what} failed`)
    }
  }

  function authorizedDraft(
    s: PumpSession,
    pump: number,
  ): Draft<'pump-authorized'> & { type: 'pump-authorized' } {
    return {
      type: 'pump-authorized',
      requestId: s.requestId,
      sessionId: s.sessionId,
      stationId,
      pump,
      presetAmountMinor: s.maxAmountMinor,
      currency: s.currency,
      grades: s.grades.map((g) => g.grade),
      nozzleTimeoutMs: Math.min(
        600_000,
        Math.max(1000, machines.get(pump)?.limits.nozzleTimeoutMs ?? 60_000),
      ),
    }
  }

  const configuredPrices = new Map(config.pumps.map((p) => [p.pump, p.prices]))

  /** What to journal for a pump: its state, the configured prices, the sales it still owes (but `except`). */
  function journaled(pump: number, state: PumpState, except?: string): PumpState {
    const unrecordedSales = [...pendingEnds]
      .filter(([id, p]) => p.pump === pump && id !== except)
      .map(([, p]) => p.effect)
    const out: JournaledPumpState = {
      ...state,
      configuredPrices: { ...configuredPrices.get(pump) },
      ...(unrecordedSales.length > 0 ? { unrecordedSales } : {}),
    }
    return out
  }

  async function endSession(pump: number, e: EndSessionEffect) {
    const s = e.session
    const volumeMilli = s.volumeMilli
    const amountMinor =
      s.unitPriceMilli !== undefined
        ? amountForVolume(volumeMilli, s.unitPriceMilli, s.currency)
        : 0
    const build = async (seq: number) => {
      const sale: SaleRecord = {
        sessionId: s.sessionId,
        tokenId: s.tokenId,
        stationId,
        pump,
        vehicleId: s.vehicleId,
        outcome: e.ending.outcome,
        ...(s.grade && volumeMilli > 0 ? { grade: s.grade } : s.grade ? { grade: s.grade } : {}),
        ...(s.unitPriceMilli !== undefined ? { unitPriceMilli: s.unitPriceMilli } : {}),
        volumeMilli,
        volumeUnit: config.volumeUnit,
        amountMinor,
        currency: s.currency,
        startedAt: s.startedAt ?? s.authorizedAt,
        endedAt: Math.max(e.endedAt, s.startedAt ?? s.authorizedAt),
        seq,
        totalizerStartMilli: s.totalizerStartMilli,
        totalizerEndMilli: Math.max(s.totalizerMilli, s.totalizerStartMilli),
      }
      return { sale, saleJws: await signSaleRecord(sale, opts.stationKey) }
    }
    const current = machines.get(pump)
    if (!current) return
    let stored: Awaited<ReturnType<Journal['recordSale']>>
    try {
      stored = await journal.recordSale({
        sessionId: s.sessionId,
        build,
        pumpState: journaled(pump, current, s.sessionId),
        nowMs: clock.now(),
      })
    } catch (err) {
      // Retried on every tick. Until it is recorded, every write of this pump's
      // state carries the ended session (journaled()), so a crash cannot lose it;
      // the journal still holds the pump's previous state (with the session) meanwhile.
      log.error({ err, sessionId: s.sessionId, pump }, 'could not journal the sale; will retry')
      pendingEnds.set(s.sessionId, { pump, effect: e })
      try {
        await journal.savePump(journaled(pump, current), clock.now())
      } catch (err2) {
        log.error({ err: err2, pump }, 'could not journal the pump state either')
      }
      return
    }
    pendingEnds.delete(s.sessionId)
    log.info(
      {
        sessionId: s.sessionId,
        pump,
        seq: stored.seq,
        outcome: stored.sale.outcome,
        volumeMilli: stored.sale.volumeMilli,
        amountMinor: stored.sale.amountMinor,
      },
      'sale recorded',
    )
    const to = topics.pumpReply(stationId, pump, s.vehicleId)
    if (stored.sale.outcome === 'completed') {
      publish(to, {
        type: 'completed',
        sessionId: s.sessionId,
        sale: stored.sale,
        saleJws: stored.saleJws,
      })
    } else {
      publish(to, {
        type: 'session-ended',
        sessionId: s.sessionId,
        reason: e.ending.reason ?? reason('CANCELLED'),
        saleJws: stored.saleJws,
      })
    }
    forwarder.wake()
  }

  async function runEffect(pump: number, e: PumpEffect) {
    switch (e.type) {
      case 'driver-authorize':
        return driverCall(pump, 'authorize', (d) => d.authorize(e.grades))
      case 'driver-deauthorize':
        return driverCall(pump, 'deauthorize', (d) => d.deauthorize())
      case 'driver-stop':
        return driverCall(pump, 'stop', (d) => d.stop())
      case 'driver-resume':
        return driverCall(pump, 'resume', (d) => d.resume())
      case 'reply-authorized': {
        const draft = authorizedDraft(e.session, pump)
        const ttl = Math.max(
          REJECTION_TTL_MS,
          e.session.tokenExpMs - clock.now() + CLOCK_SKEW_S * 1000,
        )
        answer(
          `${e.session.vehicleId}:${e.session.requestId}`,
          topics.pumpReply(stationId, pump, e.session.vehicleId),
          draft,
          ttl,
        )
        return
      }
      case 'progress': {
        const now = clock.now()
        const state = machines.get(pump)
        // Throttled: the car and the console need a live number, not every pulse.
        if (now - (lastProgress.get(pump) ?? 0) < config.progressIntervalMs) return
        lastProgress.set(pump, now)
        const s = e.session
        publish(topics.pumpReply(stationId, pump, s.vehicleId), {
          type: 'progress',
          sessionId: s.sessionId,
          state: state?.name ?? 'fueling',
          ...(s.grade ? { grade: s.grade } : {}),
          ...(s.unitPriceMilli ? { unitPriceMilli: s.unitPriceMilli } : {}),
          volumeMilli: s.volumeMilli,
          amountMinor: s.amountMinor,
          currency: s.currency,
        })
        if (state) publishPumpState(state)
        return
      }
      case 'end-session':
        return endSession(pump, e)
      case 'publish-state': {
        const state = machines.get(pump)
        if (state) publishPumpState(state)
        return
      }
    }
  }

  /**
   * Writes a pump's current state. A journal that cannot take it does not stop
   * the pump's effects (a valve closing on an operator's stop or a timeout must
   * close with the disk full); the write is retried on every tick meanwhile.
   */
  async function savePumpState(pump: number) {
    const state = machines.get(pump)
    if (!state) return
    try {
      await journal.savePump(journaled(pump, state), clock.now())
      unsavedPumps.delete(pump)
    } catch (err) {
      if (!unsavedPumps.has(pump))
        log.error({ err, pump }, 'could not journal the pump state; will retry')
      unsavedPumps.add(pump)
    }
  }

  /** Commits a transition: journal first, then effects in order. */
  async function commit(
    pump: number,
    prev: PumpState,
    t: Transition,
    event: PumpEvent['type'] | 'recover',
  ) {
    machines.set(pump, t.state)
    const endsSession = t.effects.some((e) => e.type === 'end-session')
    // A sale and the pump state that follows it are written in one transaction (journal.recordSale).
    if (!endsSession && event !== 'flow' && t.state !== prev) await savePumpState(pump)
    for (const e of t.effects) await runEffect(pump, e)
  }

  async function apply(pump: number, event: PumpEvent): Promise<Transition> {
    const prev = machines.get(pump)
    if (!prev)
      return {
        state: initialPumpState({
          pump,
          prices: {},
          currency: config.currency,
          limits: config.limits,
        }),
        effects: [],
        refused: reason('UNKNOWN_PUMP'),
      }
    const t = transition(prev, event)
    if (t.refused) {
      if (event.type !== 'tick')
        log.debug(
          { pump, event: event.type, state: prev.name, reason: t.refused.code },
          'event refused',
        )
      return t
    }
    if (t.state !== prev) await commit(pump, prev, t, event.type)
    return t
  }

  // Requests from vehicles ----------------------------------------------------

  function reject(
    vehicleId: string,
    pump: number,
    requestId: string,
    why: Reason,
    sessionId?: string,
  ) {
    metrics.authorizations.inc({ result: why.code })
    log.info({ vehicleId, pump, requestId, reason: why.code }, 'request rejected')
    const to = topics.pumpReply(stationId, pump, vehicleId)
    const draft: AnyDraft = {
      type: 'pump-rejected',
      requestId,
      ...(sessionId ? { sessionId } : {}),
      reason: why,
    }
    if (TEMPORARY_REFUSALS.has(why.code)) publish(to, draft)
    else answer(`${vehicleId}:${requestId}`, to, draft, REJECTION_TTL_MS)
  }

  async function onAuthorize(
    pump: number,
    vehicleId: string,
    requestId: string,
    verified: Result<PumpAuthorizationClaims>,
  ) {
    try {
      await authorize(pump, vehicleId, requestId, verified)
    } catch (err) {
      // The journal could not take the authorization: refuse rather than activate a pump we cannot account for.
      log.error({ err, pump, vehicleId }, 'authorization failed')
      reject(vehicleId, pump, requestId, reason('UNAVAILABLE', 'station journal unavailable'))
    }
  }

  async function authorize(
    pump: number,
    vehicleId: string,
    requestId: string,
    verified: Result<PumpAuthorizationClaims>,
  ) {
    if (cached(`${vehicleId}:${requestId}`)) return
    const prior = await journal.findSessionByRequest(vehicleId, requestId)
    if (prior) {
      // A duplicate delivery after a restart: the same answer, never a second activation.
      answer(
        `${vehicleId}:${requestId}`,
        topics.pumpReply(stationId, pump, vehicleId),
        authorizedDraft(prior, pump),
        REJECTION_TTL_MS,
      )
      return
    }
    const state = machines.get(pump)
    if (!state) return reject(vehicleId, pump, requestId, reason('UNKNOWN_PUMP'))
    const now = clock.now()
    const v = verified
    if (!v.ok) return reject(vehicleId, pump, requestId, v.reason)
    const c = v.value
    // The cloud voided this session before its token got here (operator or driver cancel).
    if (await revocations.isSessionRevoked(c.sessionId))
      return rejectVoided(vehicleId, pump, requestId, c.sessionId)
    if (await journal.isTokenUsed(c.jti))
      return reject(vehicleId, pump, requestId, reason('TOKEN_REPLAYED'), c.sessionId)
    const t = transition(state, {
      type: 'authorize',
      nowMs: now,
      auth: {
        sessionId: c.sessionId,
        tokenId: c.jti,
        requestId,
        vehicleId,
        maxAmountMinor: c.maxAmountMinor,
        maxVolumeMilli: c.maxVolumeMilli,
        currency: c.currency,
        grades: c.grades,
        tokenExpMs: c.exp * 1000,
      },
    })
    if (t.refused) return reject(vehicleId, pump, requestId, t.refused, c.sessionId)
    const session = t.state.session as PumpSession
    const r = await journal.recordAuthorization({
      session,
      pumpState: journaled(pump, t.state),
      keepUntilMs: (c.exp + CLOCK_SKEW_S) * 1000,
      nowMs: now,
    })
    if (r === 'replayed')
      return reject(vehicleId, pump, requestId, reason('TOKEN_REPLAYED'), c.sessionId)
    if (r === 'revoked') return rejectVoided(vehicleId, pump, requestId, c.sessionId)
    metrics.authorizations.inc({ result: 'ok' })
    log.info(
      { sessionId: c.sessionId, pump, vehicleId, maxAmountMinor: c.maxAmountMinor },
      'pump authorized',
    )
    // Journaled above in one transaction with the used token; no second write.
    machines.set(pump, t.state)
    for (const e of t.effects) await runEffect(pump, e)
  }

  function rejectVoided(vehicleId: string, pump: number, requestId: string, sessionId: string) {
    log.warn({ sessionId, pump, vehicleId }, 'token for a session the cloud voided refused')
    reject(
      vehicleId,
      pump,
      requestId,
      reason('CANCELLED', 'the session was voided before the pump took it'),
      sessionId,
    )
  }

  async function onCancel(pump: number, vehicleId: string, requestId: string, sessionId: string) {
    if (cached(`${vehicleId}:${requestId}`)) return
    const t = await apply(pump, { type: 'cancel', sessionId, vehicleId, nowMs: clock.now() })
    if (t.refused) return reject(vehicleId, pump, requestId, t.refused, sessionId)
    log.info({ sessionId, pump, vehicleId }, 'session cancelled by the vehicle')
    // The session-ended message (with the zero sale) is the answer; remember it for duplicates.
    remember(
      `${vehicleId}:${requestId}`,
      topics.pumpReply(stationId, pump, vehicleId),
      { type: 'session-ended', sessionId, reason: reason('CANCELLED') },
      REJECTION_TTL_MS,
    )
  }

  // Commands from the cloud ---------------------------------------------------

  async function onCommand(msg: StationCommandMessage) {
    const key = `cmd:${msg.commandId}`
    if (cached(key)) return
    const cmd = msg.command
    const now = clock.now()
    let refused: Reason | undefined
    switch (cmd.op) {
      case 'emergency-stop':
      case 'resume': {
        if (!machines.has(cmd.pump)) refused = reason('UNKNOWN_PUMP')
        else refused = (await apply(cmd.pump, { type: cmd.op, nowMs: now })).refused
        if (!refused) log.warn({ pump: cmd.pump, op: cmd.op }, 'operator command applied')
        break
      }
      case 'set-price': {
        const targets =
          cmd.pump !== undefined
            ? [cmd.pump]
            : [...machines.keys()].filter((p) => machines.get(p)?.prices[cmd.grade] !== undefined)
        if (cmd.pump !== undefined && !machines.has(cmd.pump)) refused = reason('UNKNOWN_PUMP')
        else if (
          targets.length === 0 ||
          targets.some((p) => machines.get(p)?.prices[cmd.grade] === undefined)
        )
          refused = reason('UNKNOWN_GRADE')
        else
          for (const p of targets)
            await apply(p, {
              type: 'set-price',
              grade: cmd.grade as Grade,
              unitPriceMilli: cmd.unitPriceMilli,
              nowMs: now,
            })
        break
      }
      case 'void-session': {
        const pump = [...machines.values()].find(
          (s) => s.session?.sessionId === cmd.sessionId,
        )?.pump
        if (pump === undefined) refused = await voidUnseen(cmd.sessionId, msg.commandId, now)
        else
          refused = (await apply(pump, { type: 'cancel', sessionId: cmd.sessionId, nowMs: now }))
            .refused
        break
      }
    }
    if (refused?.code === 'UNAVAILABLE') {
      // Nothing was done: a redelivery of the same command may try again.
      publish(topics.stationCommandResult(stationId), {
        type: 'station-command-result',
        commandId: msg.commandId,
        ok: false,
        reason: refused,
      })
      return
    }
    answer(
      key,
      topics.stationCommandResult(stationId),
      {
        type: 'station-command-result',
        commandId: msg.commandId,
        ok: !refused,
        ...(refused ? { reason: refused } : {}),
      },
      5 * 60_000,
    )
  }

  /**
   * The cloud voided a session no pump here holds. If this station never saw
   * it, its token may still be on its way (it verifies for minutes): the void
   * is journaled so that token is refused with CANCELLED, and confirmed (the
   * cloud's void stands). A session that already ended here answers
   * SESSION_NOT_FOUND as before: its token is used and its sale settles it.
   */
  async function voidUnseen(
    sessionId: string,
    commandId: string,
    nowMs: number,
  ): Promise<Reason | undefined> {
    let r: 'revoked' | 'seen'
    try {
      r = await revocations.revokeSession({
        sessionId,
        commandId,
        keepUntilMs: nowMs + REVOCATION_KEEP_MS,
        nowMs,
      })
    } catch (err) {
      log.error({ err, sessionId }, 'could not journal a session void')
      return reason('UNAVAILABLE', 'station journal unavailable')
    }
    if (r === 'seen') return reason('SESSION_NOT_FOUND')
    log.warn({ sessionId, commandId }, 'session voided before its token reached a pump')
    return undefined
  }

  /**
   * Runs outside the queue: an authorization's signature is checked first,
   * concurrently, because a key refresh may wait on the cloud and the pumps
   * must not wait with it. Everything that reads or changes state is queued.
   */
  function dispatch(topicName: string, payload: Buffer) {
    const d = decode(topicName, payload)
    if (
      d.ok &&
      d.value.topic.kind === 'pump-request' &&
      d.value.topic.stationId === stationId &&
      d.value.message.type === 'authorize'
    ) {
      const { pump, vehicleId } = d.value.topic
      const m = d.value.message
      void verifyPumpAuthorization(m.token, {
        keys: keys.lookup,
        nowMs: clock.now(),
        expect: { stationId, pump, vehicleId },
      })
        .catch(() => fail<PumpAuthorizationClaims>('UNAVAILABLE', 'verification failed'))
        .then((v) => enqueue(() => onAuthorize(pump, vehicleId, m.requestId, v)))
      return
    }
    void enqueue(() => onMessage(topicName, payload, d))
  }

  async function onMessage(topicName: string, payload: Buffer, d: ReturnType<typeof decode>) {
    if (!d.ok) {
      const t = parseTopic(topicName)
      let requestId: unknown
      let commandId: unknown
      try {
        ;({ requestId, commandId } = JSON.parse(payload.toString('utf8')) as {
          requestId?: unknown
          commandId?: unknown
        })
      } catch {
        requestId = undefined
      }
      log.warn({ topic: topicName, reason: d.reason.code, detail: d.reason.message }, 'bad message')
      if (t?.kind === 'pump-request' && t.stationId === stationId && isId(requestId))
        reject(t.vehicleId, t.pump, requestId, d.reason)
      if (
        t?.kind === 'station-command' &&
        typeof commandId === 'string' &&
        /^[A-Za-z0-9_-]{8,64}$/.test(commandId)
      )
        publish(topics.stationCommandResult(stationId), {
          type: 'station-command-result',
          commandId,
          ok: false,
          reason: d.reason,
        })
      return
    }
    const { topic, message } = d.value as {
      topic: ReturnType<typeof parseTopic> & object
      message: Message
    }
    if (topic.stationId !== stationId) return
    if (topic.kind === 'pump-request') {
      if (message.type === 'cancel')
        return onCancel(topic.pump, topic.vehicleId, message.requestId, message.sessionId)
    }
    if (topic.kind === 'station-command' && message.type === 'station-command')
      return onCommand(message)
  }

  // Pump drivers --------------------------------------------------------------

  function driverEvent(e: DriverEvent): PumpEvent {
    const nowMs = clock.now()
    switch (e.type) {
      case 'nozzle-lifted':
        return { type: 'nozzle-lifted', grade: e.grade, totalizerMilli: e.totalizerMilli, nowMs }
      case 'flow':
        return { type: 'flow', volumeMilli: e.volumeMilli, totalizerMilli: e.totalizerMilli, nowMs }
      case 'nozzle-hung-up':
        return { type: 'nozzle-hung-up', totalizerMilli: e.totalizerMilli, nowMs }
      case 'fault':
        return { type: 'fault', fault: e.fault, nowMs }
      case 'fault-cleared':
        return { type: 'fault-cleared', nowMs }
      case 'comm-lost':
        return { type: 'comm-lost', nowMs }
      case 'comm-restored':
        return { type: 'comm-restored', reading: e.reading, nowMs }
    }
  }

  async function recoverAll() {
    const stored = await journal.loadPumps()
    for (const pc of config.pumps) await recoverPump(pc, stored.get(pc.pump) as JournaledPumpState | undefined)
  }

  async function recoverPump(pc: (typeof config.pumps)[number], journaled: JournaledPumpState | undefined) {
    const {
      unrecordedSales = [],
      configuredPrices: lastConfigured,
      ...savedState
    } = journaled ?? {}
    const saved = journaled ? (savedState as PumpState) : undefined
    for (const e of unrecordedSales)
      pendingEnds.set(e.session.sessionId, { pump: pc.pump, effect: e })
    // A price the configuration changed takes effect; one set by the operator (set-price)
    // survives a restart while its configured price stays the same. Sessions keep their locked prices.
    const base = saved
      ? {
          ...saved,
          prices: startPrices(pc.prices, saved.prices, lastConfigured),
          limits: config.limits,
          currency: config.currency,
        }
      : initialPumpState({
          pump: pc.pump,
          prices: pc.prices,
          currency: config.currency,
          limits: config.limits,
        })
    machines.set(pc.pump, base)
    // Sales that ended before the last run died, first: they come before anything recovery ends.
    for (const e of unrecordedSales) {
      log.warn({ pump: pc.pump, sessionId: e.session.sessionId }, 'unrecorded sale recovered')
      await endSession(pc.pump, e)
    }
    const d = drivers.get(pc.pump)
    let reading: DispenserReading
    try {
      reading = d
        ? await d.read()
        : { online: false, nozzleUp: false, totalizerMilli: base.totalizerMilli }
    } catch {
      reading = { online: false, nozzleUp: false, totalizerMilli: base.totalizerMilli }
    }
    let t: ReturnType<typeof recover>
    try {
      t = recover(base, reading, clock.now())
    } catch (err) {
      // A reading no session can have (a swapped board, a corrupt totalizer:
      // thousands of litres past the session's start) must not keep the
      // station from starting: this pump starts in fault (its session is not
      // sold; the log line is what an engineer works from), the others serve.
      log.error(
        { err, pump: pc.pump, sessionId: base.session?.sessionId, journaledTotalizerMilli: base.totalizerMilli, readTotalizerMilli: reading.totalizerMilli },
        'pump state could not be recovered; the pump starts in fault',
      )
      const { session: _s, ...rest } = base
      machines.set(pc.pump, { ...rest, name: 'fault', fault: 'recovery failed: see the controller log' })
      // The hardware may still be armed from the last run: with no session
      // here to sell it, a lift would dispense free fuel. Valve shut, disarmed.
      for (const act of [() => d?.stop(), () => d?.deauthorize()]) {
        try {
          await act()
        } catch (e) {
          log.error({ err: e, pump: pc.pump }, 'could not stop and disarm a pump that starts in fault')
        }
      }
      return
    }
    if (base.session)
      log.warn(
        { pump: pc.pump, sessionId: base.session.sessionId, was: base.name, now: t.state.name },
        'session recovered from journal',
      )
    await commit(pc.pump, saved ?? base, t, 'recover')
  }

  async function onConnected() {
    metrics.mqttConnected.set(1)
    try {
      await link.subscribe(topics.stationSubscriptions(stationId))
    } catch (err) {
      log.error({ err: (err as Error).message }, 'subscribe failed')
    }
    publishStatus(true)
    for (const s of machines.values()) publishPumpState(s)
  }

  return {
    metrics,
    forwarder,
    keys,
    async start() {
      const doc = await journal.getValue('jwks')
      if (doc && !(await keys.load(doc))) log.warn('the journaled jwks is not a usable key set')
      if (!(await keys.refresh()) && !doc)
        log.warn('no cloud keys yet: authorizations will refuse until the cloud answers')
      await journal.purgeUsedTokens(clock.now())
      await enqueue(recoverAll)
      for (const d of opts.drivers) {
        unsubscribers.push(
          d.subscribe((e) => {
            if (stopped) return
            void enqueue(() => apply(d.pump, driverEvent(e)))
          }),
        )
      }
      link.onMessage((topic, payload) => {
        if (stopped) return
        dispatch(topic, payload)
      })
      link.onConnect(() => {
        log.info('mqtt reconnected')
        // The network is back: queued sales go now, not when their backoff (up to a minute) ends.
        forwarder.wake()
        void enqueue(onConnected)
      })
      await enqueue(onConnected)
      lastBacklog = await journal.backlog()
      metrics.backlog.set(lastBacklog)
      forwarder.start()
      timers.push(
        setInterval(() => {
          if (tickQueued || stopped) return
          tickQueued = true
          void enqueue(async () => {
            tickQueued = false
            for (const p of [...pendingEnds.values()]) await endSession(p.pump, p.effect)
            for (const pump of [...unsavedPumps]) await savePumpState(pump)
            for (const pump of machines.keys())
              await apply(pump, { type: 'tick', nowMs: clock.now() })
          })
        }, config.tickMs),
        setInterval(() => {
          metrics.mqttConnected.set(link.connected ? 1 : 0)
          publishStatus(true)
        }, config.heartbeatMs),
        setInterval(() => void journal.purgeUsedTokens(clock.now()).catch(() => {}), 3600_000),
        setInterval(() => void keys.refresh(), config.jwksRefreshMs ?? 300_000),
      )
      for (const t of timers) t.unref?.()
    },
    async stop() {
      stopped = true
      for (const t of timers) clearInterval(t)
      if (backlogTimer !== undefined) clearTimeout(backlogTimer)
      for (const u of unsubscribers) u()
      // One last try for sales not journaled yet (they are in the journaled pump state regardless).
      await enqueue(async () => {
        for (const p of [...pendingEnds.values()]) await endSession(p.pump, p.effect)
        for (const pump of [...unsavedPumps]) await savePumpState(pump)
      }).catch(() => {})
      await forwarder.stop()
      await chain.catch(() => {})
      if (link.connected) {
        // A clean disconnect sends no will: say we are going.
        const bytes = encode(topics.stationStatus(stationId), {
          type: 'station-status',
          stationId,
          online: false,
          backlog: lastBacklog,
          pumps: machines.size,
        })
        await Promise.race([
          link
            .publish(topics.stationStatus(stationId), bytes, { qos: 1, retain: true })
            .catch(() => {}),
          new Promise((r) => setTimeout(r, 1000)),
        ])
      }
    },
    state: (pump) => machines.get(pump),
    states: () => [...machines.values()],
    health() {
      return {
        ok: !stopped,
        stationId,
        mqttConnected: link.connected,
        backlog: lastBacklog,
        ...(forwarder.failing ? { deliveryFailing: forwarder.failing } : {}),
        pumps: [...machines.values()].map((s) => ({ pump: s.pump, state: s.name })),
      }
    },
    async settled() {
      let last: Promise<unknown> | undefined
      while (last !== chain) {
        last = chain
        await chain.catch(() => {})
      }
    },
  }
}

type SessionRevocations = Pick<Required<Journal>, 'revokeSession' | 'isSessionRevoked'>
const MEMORY_REVOCATIONS_MAX = 100_000

/**
 * The journal's session revocations; for a journal without them (an
 * in-memory one, itself lost on restart) a stand-in in memory, bounded, that
 * cannot tell a session that ended here from one never seen.
 */
function sessionRevocations(journal: Journal, log: Logger, clock: Clock): SessionRevocations {
  const { revokeSession, isSessionRevoked } = journal
  if (revokeSession && isSessionRevoked)
    return {
      revokeSession: revokeSession.bind(journal),
      isSessionRevoked: isSessionRevoked.bind(journal),
    }
  log.warn('journal keeps no session revocations: voids of unseen sessions are kept in memory')
  const kept = new Map<string, number>()
  return {
    async revokeSession({ sessionId, keepUntilMs, nowMs }) {
      if (kept.size >= MEMORY_REVOCATIONS_MAX)
        for (const [id, until] of kept) if (until < nowMs) kept.delete(id)
      if (kept.size >= MEMORY_REVOCATIONS_MAX) throw new Error('too many session revocations')
      if (!kept.has(sessionId)) kept.set(sessionId, keepUntilMs)
      return 'revoked'
    },
    async isSessionRevoked(sessionId) {
      const until = kept.get(sessionId)
      if (until === undefined) return false
      if (until >= clock.now()) return true
      kept.delete(sessionId)
      return false
    },
  }
}

/**
 * A pump's prices at start: the configured grades only; each at its journaled
 * price unless the configured price changed since the journal was written
 * (`lastConfigured`). A journal written before configured prices were kept
 * has no `lastConfigured`: its prices stand, as they did then.
 */
export function startPrices(
  configured: Partial<Record<Grade, number>>,
  journaled: Partial<Record<Grade, number>>,
  lastConfigured: Partial<Record<Grade, number>> | undefined,
): Partial<Record<Grade, number>> {
  const out: Partial<Record<Grade, number>> = {}
  for (const g of Object.keys(configured) as Grade[]) {
    const changed = lastConfigured !== undefined && lastConfigured[g] !== configured[g]
    out[g] = journaled[g] === undefined || changed ? configured[g] : journaled[g]
  }
  return out
}
