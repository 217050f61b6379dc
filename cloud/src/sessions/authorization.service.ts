import { sql } from 'kysely'
import {
  type Currency,
  type FuelAuthorizationRequest,
  type FuelAuthorizationResponse,
  type Grade,
  maxVolumeForAmount,
  newNonce,
  CLOCK_SKEW_S,
  distanceM,
  isReasonCode,
  outsideGeofenceM,
  sessionIdFor,
  signPumpAuthorization,
} from '@fuelpay/proto'
import { findPaymentMethod } from '../accounts/account.repository.ts'
import { verifyVoiceCode } from '../accounts/voice-code.ts'
import type { Caller } from '../auth/caller.ts'
import type { Db } from '../db/database.ts'
import type { CloudDeps } from '../deps.ts'
import { refuse } from '../errors/errors.ts'
import { checkControls } from '../fleets/purchase-controls.ts'
import { type IdempotentAnswer, idempotencyDoneCte } from '../idempotency/idempotency.repository.ts'
import { entryCtes, holdPostings } from '../ledger/ledger.repository.ts'
import { appendOutbox, outboxCte } from '../outbox/outbox.repository.ts'
import {
  type AuthorizationContext,
  authorizationContext,
  authorizationContextRead,
  type ContextQuery,
  parseAuthorizationContext,
  vehicleSpend,
} from './authorization.context.ts'
import { PROCESSOR_TRANSIENT } from '../processor/payment-processor.ts'
import {
  findSession,
  insertSession,
  lockSession,
  type SessionRow,
  UNRECORDED_HOLD_STATES,
  updateSession,
  updateSessionReturning,
} from './session.repository.ts'

type VehicleCaller = Extract<Caller, { role: 'vehicle' }>

/**
 * How long a hold whose pump was never seen taking the token (state held)
 * lives before the sweeper voids it. Not less than the time a pump may still
 * be dispensing against it: a station verifies tokens offline, so it may
 * accept the token up to its expiry plus the tolerated clock skew without the
 * cloud hearing of it (telemetry lost with the network), and the session it
 * starts may then last up to the stations' maximum session length. Voiding
 * earlier would hand the customer's credit back while fuel is flowing and
 * turn a sure capture into a late one that the issuer may decline. After
 * that bound no sale can still be in progress, so voiding releases only
 * money that is not owed; a sale that is merely delivered late (a station
 * offline for hours) is still charged, by a late capture (settlement.service.ts).
 *
 * @example unusedHoldLifetimeMs(loadConfig({})) // 10 min configured, but 120 s + 30 s + 15 min = 1_050_000
 */
export function unusedHoldLifetimeMs(config: Pick<CloudDeps['config'], 'unusedHoldTtlMs' | 'pumpAuthorizationTtlS' | 'pumpSessionMaxMs'>): number {
  const pumpMayStillUseMs = (config.pumpAuthorizationTtlS + CLOCK_SKEW_S) * 1000 + config.pumpSessionMaxMs
  return Math.max(config.unusedHoldTtlMs, pumpMayStillUseMs)
}

/** What the authorization reads, for this caller and request at `nowMs` (the day and month its fleet limits count from). */
function contextQuery(caller: VehicleCaller, input: FuelAuthorizationRequest, nowMs: number): ContextQuery {
  const day = new Date(nowMs)
  day.setUTCHours(0, 0, 0, 0)
  const month = new Date(Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), 1))
  return { stationId: input.stationId, pump: input.pump, accountId: caller.accountId, fleetId: caller.fleetId, vehicleId: caller.id, day, month }
}

/**
 * The authorization's read, to ride in the idempotency claim's statement
 * (route config `prefetch`): the context and the time it was read at.
 */
export function prefetchAuthorizationContext(deps: CloudDeps, caller: Caller | null, input: FuelAuthorizationRequest) {
  if (caller?.role !== 'vehicle') return undefined
  const nowMs = deps.nowMs()
  return sql`jsonb_build_object('nowMs', ${nowMs}::bigint, 'ctx', ${authorizationContextRead(contextQuery(caller, input, nowMs))})`
}

/**
 * Requests a fuel authorization (design: payment session, steps 2-3):
 * station, pump, geofence, grade, purchase controls, payment method; then a
 * hold through the processor; then a signed pump authorization. Every
 * refusal before the hold changes nothing; a decline is recorded on a
 * declined session.
 */
export async function requestFuelAuthorization(
  deps: CloudDeps,
  caller: VehicleCaller,
  input: FuelAuthorizationRequest,
  idempotencyKey: string,
  /** When given, the answer is stored with its idempotency key in the hold's own commit. */
  answer?: IdempotentAnswer,
  /** The context as prefetchAuthorizationContext read it in the idempotency claim's statement. */
  prefetched?: unknown,
): Promise<FuelAuthorizationResponse> {
  const { db } = deps
  const pre = prefetched as { nowMs?: unknown; ctx?: unknown } | undefined
  const nowMs = typeof pre?.nowMs === 'number' ? pre.nowMs : deps.nowMs()
  const spendFrom = contextQuery(caller, input, nowMs)
  // One read for everything checked below (usually made already, with the
  // idempotency claim); the checks run in the same order as ever, so the
  // same refusal wins.
  const { station, pump, account, fleet, methods, usage } =
    typeof pre?.nowMs === 'number' ? parseAuthorizationContext(pre.ctx) : await authorizationContext(db, spendFrom)
  if (!station) throw refuse('UNKNOWN_STATION')
  const currency = station.currency as Currency
  if (input.currency && input.currency !== currency) throw refuse('CURRENCY_MISMATCH')
  if (!pump) throw refuse('PUMP_NOT_AT_STATION')
  if (!pump.inService || pump.grades.length === 0) throw refuse('PUMP_OUT_OF_SERVICE')

  if (input.position) {
    if (outsideGeofenceM(input.position, station, station.geofence_radius_m, deps.config.maxAccuracyAllowanceM) > 0)
      throw refuse('OUTSIDE_GEOFENCE', `vehicle is ${Math.round(distanceM(input.position, station))} m from the station`)
  } else if (deps.config.requirePosition) {
    throw refuse('OUTSIDE_GEOFENCE', 'a position is required')
  }

  let grades = pump.grades.map((g) => g.grade)
  if (input.grade) {
    if (!grades.includes(input.grade)) throw refuse('UNKNOWN_GRADE')
    grades = [input.grade]
  }

  if (!account) throw refuse('UNAUTHENTICATED')

  if (input.voiceCode !== undefined) {
    await checkVoiceCode(deps, account.id, account.voice_code_hash, input.voiceCode, nowMs)
  } else if (fleet?.voice_code_required) {
    throw refuse('VOICE_CODE_REQUIRED')
  }

  const explicitAmount = input.amountMinor !== undefined
  const decide = (spent: { dayMinor: number; monthMinor: number }) => {
    const c = checkControls({
      fleet,
      stationId: station.id,
      operatorId: station.operator_id,
      grades,
      amountMinor: input.amountMinor ?? account.default_hold_minor ?? deps.config.defaultHoldMinor,
      explicitAmount,
      currency,
      usage: spent,
      nowMs,
    })
    if (!c.ok) throw refuse(c.reason.code, c.reason.message)
    return c.value
  }
  // Checked here first, so refusals come in the same order as ever.
  const checked = decide(usage)
  const pm = choosePaymentMethod(methods, input)
  const sessionId = sessionIdFor(caller.id, idempotencyKey)
  const pricesOf = (gs: string[]) => Object.fromEntries(pump.grades.filter((g) => gs.includes(g.grade)).map((g) => [g.grade, g.unitPriceMilli]))
  const record = (db: Db, c: typeof checked) =>
    insertSession(db, {
      id: sessionId,
      account_id: account.id,
      vehicle_id: caller.id,
      fleet_id: fleet?.id ?? null,
      station_id: station.id,
      operator_id: station.operator_id,
      pump: pump.pump,
      state: 'requested',
      currency,
      volume_unit: station.volume_unit,
      grades: JSON.stringify(c.grades),
      prices: JSON.stringify(pricesOf(c.grades)),
      requested_amount_minor: c.amountMinor,
      payment_method_id: pm.id,
    })
  // A daily or monthly limit is a sum over the vehicle's sessions: two
  // requests of one vehicle at once must not both fit the same room. They
  // take the vehicle's row lock in turn, and the second counts the first's
  // session (requested, at its requested amount) before it records its own.
  const { controls, inserted } =
    fleet && (fleet.daily_limit_minor !== null || fleet.monthly_limit_minor !== null)
      ? await db.transaction().execute(async (tx) => {
          await sql`SELECT 1 FROM vehicles WHERE id = ${caller.id}::text FOR NO KEY UPDATE`.execute(tx)
          const c = decide(await vehicleSpend(tx, caller.id, spendFrom.day, spendFrom.month))
          return { controls: c, inserted: await record(tx, c) }
        })
      : { controls: checked, inserted: await record(db, checked) }
  grades = controls.grades
  const requestedMinor = controls.amountMinor
  const prices = pricesOf(grades)
  const highestPrice = Math.max(...Object.values(prices))
  if (!inserted) throw await earlierAttempt(db, sessionId)

  const auth = await deps.processor.authorize({
    cardToken: pm.processor_token,
    amountMinor: requestedMinor,
    currency,
    idempotencyKey: `auth:${sessionId}`,
    allowPartial: true,
  })
  if (!auth.ok) {
    // Unsure (timeout, unavailable): failed, and whatever the processor may hold is released; else declined.
    const state = PROCESSOR_TRANSIENT.includes(auth.reason.code) ? 'failed' : 'declined'
    await db.transaction().execute(async (tx) => {
      // A failed session stays unsettled until the processor confirms it
      // holds nothing for it (releaseUnrecordedHold; the sweeper retries).
      await updateSession(tx, sessionId, {
        state,
        reason_code: auth.reason.code,
        reason_message: auth.reason.message,
        settled_at: state === 'failed' ? null : new Date(nowMs),
      })
      await appendOutbox(tx, {
        kind: `session.${state}`,
        aggregateId: sessionId,
        operatorId: station.operator_id,
        stationId: station.id,
        accountId: account.id,
        payload: { sessionId, pump: pump.pump, reason: auth.reason.code },
      })
    })
    deps.metrics.authorizations.inc({ outcome: auth.reason.code })
    if (state === 'failed') {
      // The issuer may have placed the hold after we stopped waiting: void it by the same key.
      void releaseUnrecordedHold(deps, { id: sessionId, payment_method_id: pm.id, requested_amount_minor: requestedMinor, currency, processor_auth_id: null })
    }
    throw refuse(auth.reason.code, auth.reason.message)
  }

  const holdMinor = Math.min(auth.value.approvedMinor, requestedMinor)
  const maxVolumeMilli = maxVolumeForAmount(holdMinor, highestPrice, currency)
  if (maxVolumeMilli === 0) {
    // Declined by us but held by the processor: settled once the void is confirmed (the sweeper retries).
    await updateSession(db, sessionId, {
      state: 'declined',
      processor_auth_id: auth.value.authId,
      reason_code: 'AMOUNT_OUT_OF_RANGE',
      reason_message: 'approved amount buys no fuel',
    })
    await releaseUnrecordedHold(deps, { id: sessionId, payment_method_id: pm.id, requested_amount_minor: requestedMinor, currency, processor_auth_id: auth.value.authId })
    throw refuse('AMOUNT_OUT_OF_RANGE', 'approved amount buys no fuel')
  }

  // Signing and recording the hold; if either fails the processor holds money the session does not show.
  const placeHold = async (auth: { authId: string }): Promise<FuelAuthorizationResponse> => {
    const jti = newNonce()
    const iat = Math.floor(nowMs / 1000)
    const exp = iat + deps.config.pumpAuthorizationTtlS
    const token = await signPumpAuthorization(
      {
        jti,
        sessionId,
        stationId: station.id,
        pump: pump.pump,
        vehicleId: caller.id,
        maxAmountMinor: holdMinor,
        currency,
        maxVolumeMilli,
        grades: grades as Grade[],
        iat,
        exp,
      },
      deps.keys.active(),
      nowMs,
    )

    const response: FuelAuthorizationResponse = {
      sessionId,
      state: 'held',
      token,
      holdAmountMinor: holdMinor,
      requestedAmountMinor: requestedMinor,
      partial: holdMinor < requestedMinor,
      currency,
      maxVolumeMilli,
      volumeUnit: station.volume_unit,
      grades: grades as Grade[],
      expiresAt: new Date(exp * 1000).toISOString(),
      station: { id: station.id, name: station.name },
      pump: pump.pump,
      paymentMethod: { id: pm.id, brand: pm.brand, last4: pm.last4, ...(pm.name ? { name: pm.name } : {}) },
    }
    // One statement, so one commit: the session moves on only if it is still
    // requested (the state test is in the update, which takes the row lock),
    // and the ledger hold, the outbox event and the stored idempotent answer
    // are written only when it did.
    const placed = await sql<{ n: number }>`
      WITH s AS (${db
        .updateTable('sessions')
        .set({
          state: 'held',
          hold_amount_minor: holdMinor,
          max_volume_milli: maxVolumeMilli,
          processor_auth_id: auth.authId,
          token_jti: jti,
          token_expires_at: new Date(exp * 1000),
          hold_expires_at: new Date(nowMs + unusedHoldLifetimeMs(deps.config)),
          updated_at: sql`now()` as unknown as Date,
        })
        .where('id', '=', sessionId)
        .where('state', '=', 'requested')
        .returning('id')}),
      ${entryCtes('hold', 's', [{ sessionId, kind: 'hold', currency, postings: holdPostings(account.id, station.id, holdMinor) }])},
      ${outboxCte('event', 's', {
        kind: 'session.held',
        aggregateId: sessionId,
        operatorId: station.operator_id,
        stationId: station.id,
        accountId: account.id,
        payload: { sessionId, pump: pump.pump, vehicleId: caller.id, holdAmountMinor: holdMinor, currency },
      })}${
        answer
          ? sql`,
      ${idempotencyDoneCte('answer', 's', { scope: answer.scope, key: answer.key, statusCode: answer.statusCode, response: answer.serialize(response) })}`
          : sql``
      }
      SELECT count(*)::int AS n FROM s`.execute(db)
    if (Number(placed.rows[0]?.n ?? 0) !== 1) throw refuse('SESSION_STATE_CONFLICT')
    deps.metrics.authorizations.inc({ outcome: holdMinor < requestedMinor ? 'partial' : 'held' })
    deps.log.info({ sessionId, stationId: station.id, pump: pump.pump, holdMinor }, 'hold placed')

    return response
  }
  try {
    return await placeHold(auth.value)
  } catch (err) {
    // The processor holds money the session does not show: give it back
    // now if possible; the sweeper retries until the processor confirms.
    await abandonHold(deps, sessionId, auth.value.authId).catch((e) =>
      deps.log.error({ err: e, sessionId }, 'could not mark an unrecorded hold; the sweeper will release it'),
    )
    throw err
  }
}

/** Wrong voice codes in a row before an account is locked, and how long each lock lasts. */
export const VOICE_CODE_TRIES = 5
export const VOICE_CODE_LOCK_MS = 15 * 60_000

/**
 * Checks a spoken voice code against the account's. A four-digit code is
 * guessed in minutes without a limit, so every attempt is counted (in one
 * statement, before the code is checked: concurrent guesses each take a
 * try) and the account is locked after VOICE_CODE_TRIES in a row; each
 * attempt after that locks it again, until a right code resets the count.
 * While locked nothing is checked, the right code included.
 */
async function checkVoiceCode(deps: CloudDeps, accountId: string, hash: string | null, code: string, nowMs: number): Promise<void> {
  const now = new Date(nowMs)
  const tried = await sql<{ failures: number }>`
    UPDATE accounts SET
      voice_code_failures = voice_code_failures + 1,
      voice_code_locked_until = CASE WHEN voice_code_failures + 1 >= ${VOICE_CODE_TRIES}::int
        THEN ${new Date(nowMs + VOICE_CODE_LOCK_MS)}::timestamptz ELSE NULL END
    WHERE id = ${accountId}::text AND (voice_code_locked_until IS NULL OR voice_code_locked_until <= ${now}::timestamptz)
    RETURNING voice_code_failures AS failures`.execute(deps.db)
  if (tried.rows.length === 0) {
    deps.log.warn({ accountId }, 'voice code refused unchecked: the account is locked after wrong codes')
    throw refuse('RATE_LIMITED', 'too many wrong voice codes; try again later')
  }
  if (!hash || !(await verifyVoiceCode(code, hash))) {
    if (Number(tried.rows[0]?.failures) >= VOICE_CODE_TRIES) deps.log.warn({ accountId }, 'voice code locked after wrong codes')
    throw refuse('VOICE_CODE_WRONG')
  }
  await deps.db.updateTable('accounts').set({ voice_code_failures: 0, voice_code_locked_until: null }).where('id', '=', accountId).execute()
}

/**
 * The refusal for a request whose session an earlier attempt with the same
 * idempotency key made (that attempt failed with a 5xx or crashed, so no
 * answer was stored): the earlier outcome when it has one, else "in
 * progress", which is never stored as the key's answer (app.ts).
 */
async function earlierAttempt(db: Db, sessionId: string) {
  const earlier = await findSession(db, sessionId)
  if (earlier && UNRECORDED_HOLD_STATES.includes(earlier.state) && isReasonCode(earlier.reason_code)) {
    return refuse(earlier.reason_code, earlier.reason_message ?? undefined)
  }
  return refuse('IDEMPOTENCY_IN_PROGRESS', 'this request already made a session')
}

/**
 * After a processor hold that the session failed to record (an error, or a
 * lost race between the processor's answer and the hold's commit): a session
 * still `requested` is failed, keeping the processor's authorization id, and
 * its hold released. A session the hold was recorded on is left alone.
 */
async function abandonHold(deps: CloudDeps, sessionId: string, authId: string): Promise<void> {
  const row = await deps.db.transaction().execute(async (tx) => {
    const locked = await lockSession(tx, sessionId)
    if (locked?.state !== 'requested') return locked
    return updateSessionReturning(tx, sessionId, {
      state: 'failed',
      processor_auth_id: authId,
      reason_code: 'UNAVAILABLE',
      reason_message: 'the hold could not be recorded',
    })
  })
  if (row && UNRECORDED_HOLD_STATES.includes(row.state) && !row.settled_at) await releaseUnrecordedHold(deps, row)
}


/** How often the sweeper asks again about an unrecorded hold while the processor is unsure. */
export const UNRECORDED_HOLD_RETRY_MS = 5 * 60_000

/**
 * After this the sweeper stops asking a processor that cannot say whether it
 * holds anything for the session (a processor that replays an "unavailable"
 * for the session's key would otherwise be asked for ever) and settles it.
 * A hold the processor named is voided however long that takes.
 */
export const UNRECORDED_HOLD_GIVE_UP_MS = 7 * 86_400_000

/**
 * Gives back a hold the processor may have placed for a session that never
 * recorded one (the processor timed out or was unavailable, or the cloud
 * failed between the processor's answer and the hold's commit), then marks
 * the session settled. The processor sees the session's own keys: asking
 * again by `auth:<session>` returns the hold it placed (or places one, voided
 * at once: the only way to be sure through an authorize/capture/void
 * adapter), and the void is one void however often it is sent. While the
 * processor is unsure the session stays unsettled and the sweeper retries.
 * Never throws; true when settled.
 */
export async function releaseUnrecordedHold(
  deps: CloudDeps,
  row: Pick<SessionRow, 'id' | 'payment_method_id' | 'requested_amount_minor' | 'currency' | 'processor_auth_id'> & {
    created_at?: SessionRow['created_at']
  },
): Promise<boolean> {
  const sessionId = row.id
  const settle = (authId: string | null) =>
    deps.db
      .updateTable('sessions')
      .set({ settled_at: new Date(deps.nowMs()), processor_auth_id: authId, updated_at: sql`now()` as unknown as Date })
      .where('id', '=', sessionId)
      .where('settled_at', 'is', null)
      .where('state', 'in', UNRECORDED_HOLD_STATES)
      .execute()
  /**
   * The processor could not say (or do) it this time. `authId`: the hold it
   * named, if any. It is recorded, and a named hold is never given up on
   * (its void is retried, however long it takes); only a processor that
   * cannot say whether it holds anything is, after a week.
   */
  const unsure = async (code: string, message: string, authId: string | null) => {
    deps.metrics.settlementFailures.inc({ action: 'release_unrecorded', code })
    const old = row.created_at !== undefined && deps.nowMs() - new Date(row.created_at).getTime() > UNRECORDED_HOLD_GIVE_UP_MS
    if (old && authId === null) {
      deps.log.error({ sessionId, code }, 'gave up releasing a hold the session never recorded: the processor stayed unsure for a week')
      await settle(null)
      return true
    }
    if (old) deps.log.error({ sessionId, code, authId }, `${message} (for over a week)`)
    else deps.log.warn({ sessionId, code, authId }, message)
    // The sweeper asks again after UNRECORDED_HOLD_RETRY_MS (sessionsDue reads updated_at).
    await deps.db
      .updateTable('sessions')
      .set({ updated_at: new Date(deps.nowMs()), processor_auth_id: authId })
      .where('id', '=', sessionId)
      .where('settled_at', 'is', null)
      .execute()
    return false
  }
  try {
    let authId = row.processor_auth_id
    if (!authId) {
      const pm = await findPaymentMethod(deps.db, row.payment_method_id)
      if (!pm) deps.log.error({ sessionId }, 'cannot ask the processor about a failed hold: the payment method is gone')
      else {
        const again = await deps.processor.authorize({
          cardToken: pm.processor_token,
          amountMinor: Number(row.requested_amount_minor),
          currency: row.currency,
          idempotencyKey: `auth:${sessionId}`,
          allowPartial: true,
        })
        if (!again.ok && PROCESSOR_TRANSIENT.includes(again.reason.code)) return unsure(again.reason.code, 'the processor is still unsure of a failed hold; will retry', null)
        if (again.ok) authId = again.value.authId
      }
    }
    if (authId) {
      const v = await deps.processor.void({ authId, idempotencyKey: `void:${sessionId}` })
      if (!v.ok && PROCESSOR_TRANSIENT.includes(v.reason.code)) return unsure(v.reason.code, 'could not void a hold the session never recorded; will retry', authId)
      // Refused for good (already voided, lapsed): nothing is held under it.
      if (!v.ok) deps.log.warn({ sessionId, authId, code: v.reason.code }, 'the processor refused to void a hold the session never recorded: nothing held')
      else deps.log.warn({ sessionId }, 'voided a hold the session never recorded')
    }
    await settle(authId)
    return true
  } catch (err) {
    deps.log.error({ err, sessionId }, 'could not release a hold the session never recorded; will retry')
    return false
  }
}

type PaymentMethodRow = AuthorizationContext['methods'][number]

const normalise = (s: string) => s.normalize('NFKC').toLowerCase().replace(/[^\p{L}\p{N}]+/gu, ' ').trim()

/**
 * Picks the card: by id, else by what the driver called it (its name, its
 * brand, or its last four digits, spoken), else the default.
 */
export function choosePaymentMethod(
  methods: PaymentMethodRow[],
  input: { paymentMethodId?: string | undefined; paymentMethodName?: string | undefined },
): PaymentMethodRow {
  if (input.paymentMethodId) {
    const m = methods.find((x) => x.id === input.paymentMethodId)
    if (!m) throw refuse('NO_PAYMENT_METHOD', 'no such payment method on this account')
    return m
  }
  if (input.paymentMethodName) {
    const said = normalise(input.paymentMethodName)
    const withoutCard = said.replace(/\b(card|karte|carte|my|meine|ma|mon)\b/g, '').trim()
    const matches = methods.filter((m) => {
      const name = m.name ? normalise(m.name) : ''
      const nameCore = name.replace(/\b(card|karte|carte)\b/g, '').trim()
      return (
        (name && (name === said || (nameCore && nameCore === withoutCard))) ||
        normalise(m.brand) === withoutCard ||
        said.replace(/\D/g, '').endsWith(m.last4)
      )
    })
    if (matches.length !== 1) {
      throw refuse('NO_PAYMENT_METHOD', matches.length === 0 ? 'no payment method by that name' : 'that name fits several payment methods')
    }
    return matches[0] as PaymentMethodRow
  }
  const m = methods.find((x) => x.is_default) ?? methods[0]
  if (!m) throw refuse('NO_PAYMENT_METHOD')
  return m
}
