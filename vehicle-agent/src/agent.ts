import { randomBytes } from 'node:crypto'
import {
  fail,
  keyRingFromJwks,
  ok,
  type Position,
  reason,
  type Reason,
  type ReasonCode,
  type Result,
  type SaleRecord,
  type StationSummary,
  verifySaleRecord,
} from '@fuelpay/proto'
import type { Logger } from 'pino'
import type { CloudClient } from './cloud/cloud.client.ts'
import type { HoldRecord } from './cloud/pending.ts'
import {
  type DialogueEvent,
  type DialogueLimits,
  type DialogueState,
  DRIVER_TURN_PHASES,
  type Effect,
  initialState,
  type Outcome,
  type TimerName,
  transition,
} from './dialogue/dialogue.machine.ts'
import { parseUtterance, type ParsedUtterance } from './intent/intent.parser.ts'
import type { Lang } from './intent/numbers.ts'
import { type LocationSource, resolveWhereabouts } from './location/location.ts'
import { createStationsCache, STATION_LIST_REASONS, type StationsCache } from './location/stations.cache.ts'
import { type MqttConnector, openPumpLink, type PumpLink, type PumpReply } from './session/pump.link.ts'
import type { AudioInput, SpeechToText } from './speech/speech.ts'

/** Timers, injectable so simulators can run many agents on a virtual clock. */
export interface Clock {
  now(): number
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
}

/** Something the agent says: the text, its language and the catalogue key. */
export interface Reply {
  key: string
  text: string
  lang: Lang
}

/** Where replies go: a console, espeak-ng, a simulator's counter. */
export interface Speaker {
  speak(reply: Reply): void | Promise<void>
  show?(text: string): void
}

/**
 * Idempotency keys are made and kept before a request is sent, so that a
 * retry (or an agent restarted mid-request) reuses the key and the cloud
 * cannot place a second hold. `keep` must have stored the key when it
 * resolves; keeping a key again replaces its body. A hold's key is kept
 * (with its session once granted) until the session ends, so a restarted
 * agent can cancel a hold nobody will use (cloud/pending.ts).
 */
export interface KeyStore {
  keep(purpose: string, key: string, body: unknown): void | Promise<void>
  done(purpose: string, key: string): void | Promise<void>
}

/**
 * How long a station's published keys are reused to check its sales. The
 * car's check is the driver's assurance, not the settlement (the cloud
 * verifies every sale against its live keys); a sale that does not verify
 * with keys read earlier is checked again with keys read now.
 */
const STATION_KEYS_TTL_MS = 10 * 60_000
/** A session (hold, pump, fuelling) fits in this; a link whose credential ends sooner is renewed before one starts. */
export const LINK_RENEW_MARGIN_MS = 30 * 60_000

export function memoryKeyStore(): KeyStore & { pending: Map<string, { purpose: string; body: unknown }> } {
  const pending = new Map<string, { purpose: string; body: unknown }>()
  return {
    pending,
    keep: (purpose, key, body) => {
      pending.set(key, { purpose, body })
    },
    done: (_purpose, key) => {
      pending.delete(key)
    },
  }
}

export interface VehicleAgentConfig {
  vehicleId: string
  lang?: Lang
  limits?: Partial<DialogueLimits>
  /** Receipt fetches after a completed sale (the cloud may still be capturing). */
  receiptAttempts?: number
  receiptRetryMs?: number
  mqttConnectTimeoutMs?: number
  /** Republish an unanswered authorize once after this long (same requestId). */
  authorizeRepublishMs?: number
  /** Bound for reading position and beacons. */
  locateTimeoutMs?: number
  /**
   * Reuse a stations-near lookup made within maxDistanceM (default 100) of the
   * car and younger than maxAgeMs (default 60 000); false asks the cloud every time.
   */
  stationsCache?: { maxAgeMs?: number; maxDistanceM?: number } | false
}

export interface VehicleAgentOptions {
  log: Logger
  config: VehicleAgentConfig
  cloud: CloudClient
  mqtt: MqttConnector
  speech?: { recognizer?: SpeechToText; speaker?: Speaker }
  location: LocationSource
  clock?: Clock
  ids?: () => string
  keys?: KeyStore
}

/** The result of one driver turn: what the agent said and where the dialogue stands. */
export interface Turn {
  replies: Reply[]
  phase: DialogueState['phase']
  /** The agent waits for the driver (a missing slot, the yes/no, a voice code). */
  awaitingDriver: boolean
  outcome?: Outcome
}

export interface RunOptions {
  /** Answers given in order when the agent asks (e.g. ['yes']). */
  answers?: string[]
  /**
   * Or a source of answers (stdin lines); undefined means the driver said
   * nothing. `secret`: the agent asked for the voice code (not to be echoed).
   */
  nextAnswer?: (asked: { secret: boolean }) => Promise<string | undefined>
}

/**
 * One car's voice payment agent. Pure dialogue inside (dialogue.machine.ts),
 * adapters outside; everything injected, nothing real opened by default.
 *
 * @example
 *   const agent = createVehicleAgent({ log, config: { vehicleId: 'car7' }, cloud, mqtt: { connect: connectMqtt }, location })
 *   const outcome = await agent.runUtterance('pay for pump 2', { answers: ['yes'] })
 *   await agent.close()
 */
export interface VehicleAgent {
  /**
   * Brings the pump link (broker credentials, connection, inbox subscription)
   * up ahead of the first session: a connected car is online before the
   * driver speaks, so the hold then does not share its moment with a
   * credentials request and a broker connect. Without it the link is made
   * when the first hold is requested. A failure rejects; the next need retries.
   */
  connect(): Promise<void>
  hear(text: string): Promise<Turn>
  hearAudio(audio: AudioInput): Promise<Turn>
  runUtterance(text: string, opts?: RunOptions): Promise<Outcome & { replies: Reply[] }>
  /** Resolves when the current session has ended. */
  finished(): Promise<Outcome>
  state(): DialogueState
  replies(): Reply[]
  close(): Promise<void>
}

export function createVehicleAgent(opts: VehicleAgentOptions): VehicleAgent {
  const { log, config, cloud, location } = opts
  const clock = opts.clock ?? realClock
  // Hex: ids must start with a letter or digit (proto ID_PATTERN), which base64url does not promise.
  const ids = opts.ids ?? (() => randomBytes(16).toString('hex'))
  const keys = opts.keys ?? memoryKeyStore()
  const speaker = opts.speech?.speaker
  const vehicleId = config.vehicleId
  const nearby: StationsCache | undefined =
    config.stationsCache === false ? undefined : createStationsCache({ now: () => clock.now(), ...config.stationsCache })
  let state = initialState({ lang: config.lang ?? 'en', limits: config.limits })
  const transcript: Reply[] = []
  const timers = new Map<TimerName, unknown>()
  let inflight = 0
  let closed = false
  let link: Promise<PumpLink> | undefined
  /** The last cancel-session effect, settled or not: a new hold waits for it. */
  let cancelling: Promise<unknown> = Promise.resolve()
  /** When the link's broker credential expires (ms); the broker disconnects a car past it. */
  let linkExpiresAt = Number.POSITIVE_INFINITY
  let authorizeRequestId: string | undefined
  /** The idempotency key of this session's hold, kept in `keys` until the session ends. */
  let holdKey: string | undefined
  let republish: unknown
  let speaking: Promise<void> = Promise.resolve()
  const listeners = new Set<() => void>()
  let finishedResolve: (o: Outcome) => void = () => {}
  let finishedPromise = new Promise<Outcome>((r) => {
    finishedResolve = r
  })

  function notify(): void {
    for (const l of [...listeners]) l()
  }
  function nextChange(): Promise<void> {
    return new Promise((resolve) => {
      const l = () => {
        listeners.delete(l)
        resolve()
      }
      listeners.add(l)
    })
  }

  function dispatch(event: DialogueEvent): void {
    if (closed) return
    const step = transition(state, event)
    state = step.state
    for (const fx of step.effects) perform(fx)
    notify()
  }

  /** Runs an async effect; its result comes back as an event. */
  function background(what: string, work: () => Promise<DialogueEvent | undefined>): void {
    inflight++
    work()
      .catch((e: unknown): DialogueEvent | undefined => {
        log.error({ err: e, what }, 'agent effect failed')
        return undefined
      })
      .then((event) => {
        if (event) dispatch(event)
      })
      .finally(() => {
        inflight--
        notify()
      })
  }

  function perform(fx: Effect): void {
    switch (fx.type) {
      case 'say': {
        const reply: Reply = { key: fx.key, text: fx.text, lang: fx.lang }
        transcript.push(reply)
        if (speaker) speaking = speaking.then(() => speaker.speak(reply)).catch((e) => log.warn({ err: e }, 'speaking failed'))
        return
      }
      case 'show':
        speaker?.show?.(fx.text)
        return
      case 'locate':
        background('locate', locate)
        return
      case 'request-hold':
        // A session starts here: its link must not reach its credential's end mid-session.
        renewLinkIfExpiring()
        ensureLink()
        background('request-hold', async () => {
          // A hold just cancelled (the driver changed pump, fuel or amount) is
          // released first: until then it still takes the card's credit and
          // counts against the fleet's limits, and the new one would be refused.
          await cancelling
          const key = ids()
          const at = clock.now()
          holdKey = key
          // The key store may be a file on the car's disk: the voice code is a
          // secret and is never kept. A restart needs the kept request only to
          // ask again under the same key, which one sent with a voice code cannot
          // do (see HoldRecord.voiceCodeOmitted).
          const { voiceCode, ...kept } = fx.request
          const record: HoldRecord = { request: kept, at, ...(voiceCode !== undefined ? { voiceCodeOmitted: true } : {}) }
          try {
            await keys.keep('fuel-authorization', key, record)
          } catch (e) {
            // No hold without its key kept: a restart could not release it. The driver hears why nothing happens.
            holdKey = undefined
            log.error({ err: e }, 'could not keep the hold request; not sending it')
            return { type: 'hold-declined', reason: reason('UNAVAILABLE', 'the car could not store the request') }
          }
          const res = await cloud.requestFuelAuthorization(fx.request, key)
          if (res.ok) {
            // Kept until the session ends: an agent restarted meanwhile cancels this hold (settlePending).
            // Without its session the kept key still finds it, so a failed write does not stop the read-back.
            await Promise.resolve(keys.keep('fuel-authorization', key, { ...record, sessionId: res.value.sessionId } satisfies HoldRecord)).catch((e: unknown) =>
              log.error({ err: e, sessionId: res.value.sessionId }, 'could not record the granted hold'),
            )
            return { type: 'hold-granted', hold: res.value }
          }
          holdKey = undefined
          await keys.done('fuel-authorization', key)
          if (STATION_LIST_REASONS.has(res.reason.code)) nearby?.clear()
          return { type: 'hold-declined', reason: res.reason }
        })
        return
      case 'authorize-pump':
        background('authorize-pump', async () => {
          const requestId = ids()
          authorizeRequestId = requestId
          try {
            const l = await ensureLink()
            await l.authorize(fx.stationId, fx.pump, requestId, fx.token)
            // One republish with the same requestId covers a lost message; the pump dedups by it.
            republish = clock.setTimeout(() => {
              if (state.phase === 'authorizing' && authorizeRequestId === requestId) {
                l.authorize(fx.stationId, fx.pump, requestId, fx.token).catch((e) => log.warn({ err: e }, 'authorize republish failed'))
              }
            }, config.authorizeRepublishMs ?? Math.floor(state.limits.pumpReplyTimeoutMs / 2))
            return undefined
          } catch (e) {
            log.warn({ err: e }, 'could not reach the pump')
            return { type: 'pump-rejected', reason: reason('UNAVAILABLE', `pump not reachable: ${(e as Error).message}`.slice(0, 300)) }
          }
        })
        return
      case 'cancel-pump':
        background('cancel-pump', async () => {
          const l = await ensureLink()
          await l.cancel(fx.stationId, fx.pump, ids(), fx.sessionId)
          return undefined
        })
        return
      case 'cancel-session':
        background('cancel-session', () => {
          const run = (async () => {
            const key = ids()
            // A cancel that cannot be kept on disk is sent all the same: the hold must go now.
            const kept = await Promise.resolve(keys.keep('cancel-session', key, { sessionId: fx.sessionId })).then(
              () => true,
              (e: unknown) => log.error({ err: e, sessionId: fx.sessionId }, 'could not keep the cancel; sending it anyway'),
            )
            const res = await cloud.cancelSession(fx.sessionId, key)
            if (kept) await keys.done('cancel-session', key)
            if (!res.ok) log.warn({ sessionId: fx.sessionId, code: res.reason.code }, 'cancelling the session failed')
            return undefined
          })()
          cancelling = run.catch(() => undefined)
          return run
        })
        return
      case 'verify-sale':
        background('verify-sale', async () => {
          const r = await verifySale(fx, state.sale)
          if (!r.ok) return { type: 'sale-verified', ok: false, reason: r.reason }
          const { kid: _kid, ...sale } = r.value
          return { type: 'sale-verified', ok: true, sale }
        })
        return
      case 'fetch-receipt':
        background('fetch-receipt', () => fetchReceipt(fx.sessionId))
        return
      case 'check-session':
        background('check-session', async () => {
          const r = await cloud.getSession(fx.sessionId)
          return r.ok ? { type: 'session-checked', view: r.value } : { type: 'session-checked' }
        })
        return
      case 'start-timer': {
        const old = timers.get(fx.timer)
        if (old !== undefined) clock.clearTimeout(old)
        timers.set(fx.timer, clock.setTimeout(() => {
          timers.delete(fx.timer)
          dispatch({ type: 'timeout', timer: fx.timer })
        }, fx.ms))
        return
      }
      case 'clear-timer': {
        const old = timers.get(fx.timer)
        if (old !== undefined) clock.clearTimeout(old)
        timers.delete(fx.timer)
        return
      }
      case 'finished':
        if (republish !== undefined) clock.clearTimeout(republish)
        if (holdKey !== undefined) {
          const key = holdKey
          holdKey = undefined
          background('forget-hold', async () => {
            await keys.done('fuel-authorization', key)
            return undefined
          })
        }
        finishedResolve(fx.outcome)
        return
    }
  }

  async function withTimeout<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
    let h: unknown
    const t = new Promise<T>((resolve) => {
      h = clock.setTimeout(() => resolve(fallback), ms)
    })
    try {
      return await Promise.race([p, t])
    } finally {
      clock.clearTimeout(h)
    }
  }

  async function locate(): Promise<DialogueEvent> {
    const ms = config.locateTimeoutMs ?? 5000
    // The station list needs only the position: it is looked up while the
    // beacon scan (seconds with real BLE) is still listening.
    const scanning = withTimeout(location.beacons().catch(() => []), ms, [])
    const position = await withTimeout(location.position().catch(() => undefined), ms, undefined)
    if (!position) return { type: 'located', reason: reason('OUTSIDE_GEOFENCE', 'the car does not know its position') }
    const cached = nearby?.get(position)
    const [near, beacons] = await Promise.all([cached ? ok(cached) : stationsAt(position), scanning])
    if (!near.ok) return { type: 'located', reason: near.reason }
    let w = resolveWhereabouts({ position, stations: near.value, beacons })
    const known = new Set(near.value.map((st) => st.beaconMajor))
    if (cached && (!w.station || beacons.some((bc) => !known.has(bc.major)))) {
      // A list from up to maxDistanceM away may lack the station the car has
      // just reached (no station, or a beacon it does not know): ask the cloud.
      const fresh = await stationsAt(position)
      if (!fresh.ok) return { type: 'located', reason: fresh.reason }
      w = resolveWhereabouts({ position, stations: fresh.value, beacons })
    }
    log.debug({ station: w.station?.id, beaconPump: w.beaconPump, beacons: beacons.length, cached: cached !== undefined }, 'located')
    if (w.ignoredBeaconStationId) log.warn({ station: w.station?.id, beaconStation: w.ignoredBeaconStationId }, "ignored another station's beacon: the car is inside this station's geofence")
    return {
      type: 'located',
      // A station named by its beacon alone goes without the fix that lies outside its geofence.
      ...(w.station ? { station: w.station, ...(w.byBeacon ? {} : { position }) } : {}),
      ...(w.beaconPump !== undefined ? { beaconPump: w.beaconPump } : {}),
      ...(w.reason ? { reason: w.reason } : {}),
    }
  }

  async function stationsAt(position: Position): Promise<Result<StationSummary[]>> {
    const near = await cloud.stationsNear(position)
    if (near.ok) nearby?.put(position, near.value)
    return near
  }

  function ensureLink(): Promise<PumpLink> {
    link ??= (async () => {
      const creds = await cloud.mqttCredentials(ids())
      if (!creds.ok) throw new Error(`no broker credentials: ${creds.reason.code}`)
      const c = creds.value
      const expiresAt = Date.parse(c.expiresAt)
      linkExpiresAt = Number.isFinite(expiresAt) ? expiresAt : Number.POSITIVE_INFINITY
      const client = await opts.mqtt.connect(c.brokerUrl, {
        clientId: c.clientId,
        username: c.username,
        password: c.password,
        connectTimeoutMs: config.mqttConnectTimeoutMs ?? 10_000,
      })
      return openPumpLink({ client, vehicleId, log, onReply, timeoutMs: config.mqttConnectTimeoutMs ?? 10_000 })
    })()
    // A failed connection is retried on the next need, not cached.
    link.catch(() => {
      link = undefined
    })
    return link
  }

  /**
   * Closes the link when its credential ends within LINK_RENEW_MARGIN_MS, so
   * the next ensureLink gets a fresh credential: the broker cuts a car's link
   * at its credential's expiry, and a reconnect with the old one is refused.
   */
  function renewLinkIfExpiring(): void {
    // Wall-clock time, as the credential's expiry (a simulator's clock may run faster).
    if (!link || Date.now() < linkExpiresAt - LINK_RENEW_MARGIN_MS) return
    const old = link
    link = undefined
    linkExpiresAt = Number.POSITIVE_INFINITY
    old.then((l) => l.close()).catch((e) => log.warn({ err: e }, 'closing an expiring pump link failed'))
  }

  function onReply(m: PumpReply): void {
    switch (m.type) {
      case 'pump-authorized':
        if (m.requestId !== authorizeRequestId) return
        dispatch({ type: 'pump-authorized', sessionId: m.sessionId, nozzleTimeoutMs: m.nozzleTimeoutMs })
        return
      case 'pump-rejected':
        if (m.requestId !== authorizeRequestId) return
        dispatch({ type: 'pump-rejected', reason: m.reason as Reason })
        return
      case 'progress':
        dispatch({ type: 'progress', message: m })
        return
      case 'completed':
        dispatch({ type: 'completed', sale: m.sale, saleJws: m.saleJws })
        return
      case 'session-ended':
        if (m.sessionId !== state.hold?.sessionId) return
        dispatch({ type: 'session-ended', reason: m.reason as Reason, ...(m.saleJws ? { saleJws: m.saleJws } : {}) })
        return
    }
  }

  /** A station's published keys, as last fetched: reused for its next sales within STATION_KEYS_TTL_MS. */
  const stationRings = new Map<string, { ring: Awaited<ReturnType<typeof keyRingFromJwks>>; at: number }>()
  async function stationRing(stationId: string, fresh: boolean) {
    const hit = stationRings.get(stationId)
    if (!fresh && hit && clock.now() - hit.at < STATION_KEYS_TTL_MS) return ok({ ring: hit.ring, fresh: false })
    const jwks = await cloud.stationJwks(stationId)
    if (!jwks.ok) return jwks
    const ring = await keyRingFromJwks(jwks.value)
    if (stationRings.size >= 64) stationRings.clear()
    stationRings.set(stationId, { ring, at: clock.now() })
    return ok({ ring, fresh: true })
  }

  /**
   * The sale must verify with the published key of the station the hold is
   * for, name this vehicle and the hold's station, pump and session, and say
   * what the pump told us.
   */
  async function verifySale(held: { stationId: string; pump: number; sessionId: string; saleJws: string }, sale: SaleRecord | undefined) {
    const { stationId, saleJws } = held
    let published = await stationRing(stationId, false)
    if (!published.ok) return published
    let v = await verifySaleRecord(saleJws, published.value.ring)
    if (!v.ok && !published.value.fresh) {
      // Keys read earlier may be out of date (the station rotated or lost one): read them again once.
      published = await stationRing(stationId, true)
      if (!published.ok) return published
      v = await verifySaleRecord(saleJws, published.value.ring)
    }
    if (!v.ok) return v
    const { kid: _kid, ...signed } = v.value
    if (signed.vehicleId !== vehicleId || signed.sessionId !== held.sessionId || signed.stationId !== stationId || signed.pump !== held.pump) {
      return fail('SALE_MISMATCH', 'signed sale is for another vehicle, station, pump or session')
    }
    if (sale && JSON.stringify(sortKeys(sale)) !== JSON.stringify(sortKeys(signed))) {
      return fail('SALE_MISMATCH', 'signed sale differs from the one announced')
    }
    return v
  }

  async function fetchReceipt(sessionId: string): Promise<DialogueEvent> {
    const attempts = config.receiptAttempts ?? 20
    const delay = config.receiptRetryMs ?? 250
    let last = reason('TIMEOUT', 'no receipt')
    for (let i = 0; i < attempts && state.phase === 'settling' && !closed; i++) {
      const r = await cloud.receipt(sessionId)
      if (r.ok) return { type: 'receipt', receipt: r.value }
      last = r.reason
      // Not captured yet answers as not found or a state conflict; anything else is final.
      const pending: readonly ReasonCode[] = ['NOT_FOUND', 'SESSION_NOT_FOUND', 'SESSION_STATE_CONFLICT', 'UNAVAILABLE', 'TIMEOUT']
      if (!pending.includes(r.reason.code)) break
      await new Promise<void>((resolve) => clock.setTimeout(resolve, Math.min(delay * (i + 1), 2000)))
    }
    return { type: 'receipt-failed', reason: last }
  }

  async function settled(): Promise<void> {
    while (inflight > 0) await nextChange()
  }

  async function hear(text: string): Promise<Turn> {
    const before = transcript.length
    const parsed: ParsedUtterance = parseUtterance(text, state.lang)
    log.debug({ intent: parsed.intent, lang: parsed.lang, slots: parsed.slots }, 'heard')
    if (state.phase === 'done') resetForNextSession()
    dispatch({ type: 'utterance', parsed })
    await settled()
    await speaking
    return turn(before)
  }

  function turn(since: number): Turn {
    return {
      replies: transcript.slice(since),
      phase: state.phase,
      awaitingDriver: DRIVER_TURN_PHASES.includes(state.phase) && state.phase !== 'idle',
      ...(state.outcome ? { outcome: state.outcome } : {}),
    }
  }

  function resetForNextSession(): void {
    state = initialState({ lang: state.lang, limits: state.limits })
    authorizeRequestId = undefined
    finishedPromise = new Promise<Outcome>((r) => {
      finishedResolve = r
    })
  }

  return {
    async connect() {
      if (closed) throw new Error('agent is closed')
      await ensureLink()
    },
    hear,
    async hearAudio(audio) {
      const recognizer = opts.speech?.recognizer
      if (!recognizer) throw new Error('no speech recognizer configured')
      const r = await recognizer.recognize(audio, { lang: state.lang })
      if (!r.ok) {
        log.warn({ code: r.reason.code }, 'speech not recognized')
        return hear('')
      }
      return hear(r.value.text)
    },
    async runUtterance(text, ro = {}) {
      const answers = [...(ro.answers ?? [])]
      const start = transcript.length
      let t = await hear(text)
      while (state.phase !== 'done') {
        if (state.phase === 'idle') {
          // The first words were not a payment request: nothing to wait for.
          return { paid: false, code: 'NOT_UNDERSTOOD', replies: transcript.slice(start) }
        }
        if (t.awaitingDriver && inflight === 0) {
          const answer = answers.length > 0 ? answers.shift() : ro.nextAnswer ? await ro.nextAnswer({ secret: state.phase === 'voice_code' }) : undefined
          if (answer === undefined) {
            dispatch({ type: 'timeout', timer: 'answer' })
            continue
          }
          t = await hear(answer)
          continue
        }
        await nextChange()
        t = turn(transcript.length)
      }
      await settled()
      await speaking
      return { ...(state.outcome as Outcome), replies: transcript.slice(start) }
    },
    finished: () => finishedPromise,
    state: () => state,
    replies: () => [...transcript],
    async close() {
      closed = true
      for (const h of timers.values()) clock.clearTimeout(h)
      timers.clear()
      if (republish !== undefined) clock.clearTimeout(republish)
      const l = link
      link = undefined
      if (l) await l.then((x) => x.close()).catch(() => {})
      notify()
    },
  }
}

function sortKeys(o: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)))
}
