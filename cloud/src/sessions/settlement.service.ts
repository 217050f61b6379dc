import { randomBytes } from 'node:crypto'
import { sql, type Updateable } from 'kysely'
import {
  amountForVolume,
  type Currency,
  type Reason,
  type ReasonCode,
  type Receipt,
  type SaleRecord,
  type SaleReportResponse,
  type SessionState,
  type SessionView,
  verifySaleRecord,
} from '@fuelpay/proto'
import { findPaymentMethod } from '../accounts/account.repository.ts'
import type { Caller } from '../auth/caller.ts'
import { findStationKey } from '../auth/auth.repository.ts'
import { importPublicKeyCached } from '../auth/auth.service.ts'
import type { Db, SessionTable } from '../db/database.ts'
import type { CloudDeps } from '../deps.ts'
import { refuse } from '../errors/errors.ts'
import { type IdempotentAnswer, idempotencyDoneCte } from '../idempotency/idempotency.repository.ts'
import { capturePostings, entryCtes, lateCapturePostings, postEntry, releasePostings } from '../ledger/ledger.repository.ts'
import { appendOutbox, type OutboxEventInput, outboxCte } from '../outbox/outbox.repository.ts'
import {
  findSession,
  findSessionForCaller,
  lockSession,
  type SessionRow,
  UNRECORDED_HOLD_STATES,
  updateSession,
  updateSessionReturning,
} from './session.repository.ts'
import { PROCESSOR_TRANSIENT as TRANSIENT } from '../processor/payment-processor.ts'
import { releaseUnrecordedHold, UNRECORDED_HOLD_RETRY_MS } from './authorization.service.ts'
import { authorizedPriceIfDifferent, toReceipt, toSessionView } from './session.view.ts'

/**
 * Settlement, in two steps so that the processor is never called inside a
 * database transaction and nothing happens twice:
 *
 * 1. decide, under the session's row lock: `settle_action` = capture (with
 *    the amount) or void, recorded once; a second decision is refused or,
 *    when identical, joins the first;
 * 2. carry out: processor capture/void with an idempotency key derived from
 *    the session, then, under the row lock again, the ledger entries and the
 *    final state, written only if the session is still unsettled.
 *
 * A crash between the steps leaves a decided, unfinished session; the
 * expiry sweeper (and any retry of the same sale) finishes it.
 *
 * Late capture (design, failure handling: a station that lost the cloud
 * delivers every sale and it is settled). A verified sale with volume for a
 * session whose hold was already voided (the sweeper expired it while the
 * station was offline, or the driver cancelled in the cloud after the pump
 * took the token) is fuel that was really pumped: it is accepted and charged
 * the way a card processor takes a forced post, by a new authorization and
 * capture for min(sale, original hold) under idempotency keys derived from
 * the session. The session ends captured (settle_action 'late_capture', the
 * new authorization recorded) or, when the issuer declines, failed with the
 * issuer's reason and a `session.settlement-failed` outbox event for the
 * console. The station's report is acknowledged either way: retrying it
 * cannot change a decline.
 */
const OPEN_STATES = ['held', 'pump_authorized', 'fueling']

const SETTLED_STATES: SessionState[] = ['captured', 'voided', 'expired', 'declined', 'failed']

/**
 * What the sale's answer needs besides the session: the receipt's station
 * name and card, read with the session before the sale is decided. With an
 * `answer`, the answer is stored with its idempotency key in the statement
 * that settles the session (`stored` then says it was).
 */
interface SaleReply {
  parts: ReceiptParts | undefined
  answer?: IdempotentAnswer | undefined
  stored?: SaleReportResponse
}

/**
 * POST /v1/sales: a station's signed sale settles its session. `answered`:
 * the answer was stored with the request's idempotency key (`answer`) in the
 * settlement's own commit, so the route has nothing left to store.
 */
export async function reportSale(
  deps: CloudDeps,
  caller: Extract<Caller, { role: 'station' }>,
  saleJws: string,
  answer?: IdempotentAnswer,
): Promise<{ out: SaleReportResponse; answered: boolean }> {
  const v = await verifySaleRecord(saleJws, async (kid) => {
    // Usually the key the request's own assertion was just verified with: no second read.
    if (caller.verifiedKey?.kid === kid) return caller.verifiedKey.key
    const row = await findStationKey(deps.db, caller.id, kid)
    if (!row) return undefined
    if (row.revoked_at) return 'revoked'
    return importPublicKeyCached(row.public_jwk)
  })
  if (!v.ok) {
    const signatureFailures: readonly ReasonCode[] = ['TOKEN_BAD_SIGNATURE', 'TOKEN_UNKNOWN_KEY', 'TOKEN_ALG_NOT_ALLOWED', 'KEY_REVOKED']
    const code: ReasonCode = signatureFailures.includes(v.reason.code) ? 'SALE_SIGNATURE_INVALID' : v.reason.code
    throw refuse(code, v.reason.message)
  }
  const { kid: _kid, ...sale } = v.value
  if (sale.stationId !== caller.id) throw refuse('WRONG_STATION', 'sale is for another station')

  // A void decided but not yet carried out (processor slow or down) is
  // finished first, so that a late capture always starts from a released hold.
  const seen = await findSessionWithReceiptParts(deps.db, sale.sessionId)
  let decided = await decideSale(deps, caller, sale, true, seen?.row)
  if (decided === 'finish-void-first') {
    await finishSettlement(deps, sale.sessionId)
    decided = await decideSale(deps, caller, sale, false)
  }
  if (decided === 'finish-void-first') throw new Error('unreachable: the void was finished first')
  const reply: SaleReply = { parts: seen?.parts, answer }
  const final = await finishSettlement(deps, decided.id, decided, reply)
  if (reply.stored) return { out: reply.stored, answered: true }
  return { out: await saleResponse(deps, final, reply.parts), answered: false }
}

/**
 * Step 1 for a sale: records the sale and the decided settlement, or joins
 * an identical earlier report. Answers 'finish-void-first' (changing
 * nothing) when a void is decided but not yet carried out and the sale has
 * volume.
 *
 * Optimistic first: the row is read without a lock, the decision made from
 * it, and written in one statement only if every field the decision read
 * is unchanged (two round trips instead of a five-statement transaction).
 * If the row changed in between (telemetry moved the session on, a
 * duplicate report won), the same decision is made again under the row lock.
 */
async function decideSale(
  deps: CloudDeps,
  caller: Extract<Caller, { role: 'station' }>,
  sale: SaleRecord,
  voidFirst: boolean,
  read?: SessionRow,
): Promise<SessionRow | 'finish-void-first'> {
  const seen = read ?? (await findSession(deps.db, sale.sessionId))
  const first = await applySaleDecision(deps, deps.db, seen, caller, sale, voidFirst)
  if (first !== 'changed') return first
  return deps.db.transaction().execute(async (tx) => {
    const locked = await lockSession(tx, sale.sessionId)
    const r = await applySaleDecision(deps, tx, locked, caller, sale, voidFirst)
    if (r === 'changed') throw new Error(`session ${sale.sessionId} changed under its row lock`)
    return r
  })
}

async function applySaleDecision(
  deps: CloudDeps,
  db: Db,
  row: SessionRow | undefined,
  caller: Extract<Caller, { role: 'station' }>,
  sale: SaleRecord,
  voidFirst: boolean,
): Promise<SessionRow | 'finish-void-first' | 'changed'> {
  if (!row || row.station_id !== caller.id) throw refuse('SESSION_NOT_FOUND')
  const d = saleDecision(row, sale, voidFirst)
  if (d.kind === 'finish-void-first') return d.kind
  if (d.kind === 'join') return row
  const written = await writeIfUnchanged(db, row, d.patch, d.event)
  if (!written) return 'changed'
  if (d.patch.settle_action === 'late_capture') {
    deps.log.warn({ sessionId: row.id, was: row.state, amountMinor: d.patch.settle_amount_minor }, 'sale arrived after its hold was voided; capturing late')
  }
  return written
}

type SaleDecision =
  | { kind: 'finish-void-first' }
  /** Nothing to write: the same sale was reported before. */
  | { kind: 'join' }
  | { kind: 'write'; patch: Updateable<SessionTable>; event?: OutboxEventInput }

/** What a verified sale does to its session, from the session's row alone. Throws the refusals. */
function saleDecision(row: SessionRow, sale: SaleRecord, voidFirst: boolean): SaleDecision {
  if (voidFirst && sale.volumeMilli > 0 && !row.sale && row.settle_action === 'void' && !row.settled_at) return { kind: 'finish-void-first' }
  const mismatch = saleMismatch(row, sale)
  if (mismatch) throw refuse(mismatch.code, mismatch.message)
  const amount = sale.volumeMilli === 0 ? 0 : Math.min(sale.amountMinor, Number(row.hold_amount_minor))
  if (!row.sale && sale.volumeMilli === 0 && (row.settle_action === 'void' || row.state === 'voided' || row.state === 'expired')) {
    // A zero sale for a session already being voided (cancelled, expired): acknowledge, record it.
    return { kind: 'write', patch: { sale: JSON.stringify(sale) } }
  }
  if (row.sale) {
    // The same sale again (a store-and-forward retry): join the first report.
    if (!sameSale(row.sale as unknown as SaleRecord, sale)) throw refuse('SALE_MISMATCH', 'session already has another sale')
    return { kind: 'join' }
  }
  // The console sees when the station sold at another price than the hold's.
  const authorizedUnitPriceMilli = authorizedPriceIfDifferent(row, sale)
  const saleEvent = (extra: Record<string, unknown>): OutboxEventInput => ({
    kind: 'session.sale',
    aggregateId: row.id,
    operatorId: row.operator_id,
    stationId: row.station_id,
    accountId: row.account_id,
    payload: {
      sessionId: row.id,
      pump: row.pump,
      outcome: sale.outcome,
      volumeMilli: sale.volumeMilli,
      amountMinor: sale.amountMinor,
      seq: sale.seq,
      ...(authorizedUnitPriceMilli !== undefined ? { authorizedUnitPriceMilli } : {}),
      ...extra,
    },
  })
  if (sale.volumeMilli > 0 && voidedHold(row) && amount === 0) {
    // A drip after the hold was voided that prices to nothing: recorded, nothing to charge.
    return { kind: 'write', patch: { sale: JSON.stringify(sale) }, event: saleEvent({}) }
  }
  if (sale.volumeMilli > 0 && voidedHold(row)) {
    if (!row.settled_at) throw refuse('UNAVAILABLE', 'the session is being voided; retry the sale')
    return {
      kind: 'write',
      patch: {
        sale: JSON.stringify(sale),
        state: 'completed',
        settle_action: 'late_capture',
        settle_amount_minor: amount,
        settled_at: null,
        reason_code: null,
        reason_message: `late sale after the hold was ${row.state}: ${row.reason_message ?? row.reason_code ?? 'voided'}`.slice(0, 300),
      },
      event: saleEvent({ lateCapture: true }),
    }
  }
  if (row.settle_action || !OPEN_STATES.includes(row.state)) {
    throw refuse('SESSION_STATE_CONFLICT', `session is ${row.state}`)
  }
  return {
    kind: 'write',
    patch: {
      sale: JSON.stringify(sale),
      state: sale.volumeMilli > 0 ? 'completed' : row.state,
      settle_action: amount > 0 ? 'capture' : 'void',
      settle_amount_minor: amount,
      ...saleReason(sale),
    },
    event: saleEvent({}),
  }
}

/** Each column still holds the value `row` was read with (NULL included): the condition of an optimistic write. */
function stillAsRead(row: SessionRow, columns: (keyof SessionRow & string)[]) {
  return sql<boolean>`${sql.join(
    columns.map((c) => sql`${sql.ref(c)} IS NOT DISTINCT FROM ${row[c]}`),
    sql` AND `,
  )}`
}

/**
 * Writes a sale decision (and its outbox event) in one statement, only if
 * the session still has no sale and every field saleDecision read is as in
 * `row`. Undefined when it changed.
 */
async function writeIfUnchanged(db: Db, row: SessionRow, patch: Updateable<SessionTable>, event: OutboxEventInput | undefined): Promise<SessionRow | undefined> {
  const update = db
    .updateTable('sessions')
    .set({ ...patch, updated_at: sql`now()` as unknown as Date })
    .where('id', '=', row.id)
    .where('sale', 'is', null)
    .where(sql<boolean>`(settled_at IS NULL) = ${row.settled_at === null}::boolean`)
    .where(stillAsRead(row, ['state', 'settle_action', 'hold_amount_minor', 'captured_minor', 'processor_auth_id', 'reason_code', 'reason_message']))
    .returningAll()
  const r = await sql<SessionRow>`
    WITH s AS (${update})${event ? sql`, ${outboxCte('event', 's', event)}` : sql``}
    SELECT * FROM s`.execute(db)
  return r.rows[0]
}

/** A hold that was placed and then voided (expired or cancelled) with nothing captured: a late sale may still be charged. */
function voidedHold(row: SessionRow): boolean {
  return (
    row.settle_action === 'void' &&
    (row.state === 'voided' || row.state === 'expired') &&
    row.processor_auth_id !== null &&
    Number(row.hold_amount_minor) > 0 &&
    Number(row.captured_minor) === 0
  )
}


function saleReason(sale: SaleRecord): { reason_code: string | null; reason_message: string | null } {
  const map: Partial<Record<SaleRecord['outcome'], ReasonCode>> = {
    cancelled: 'CANCELLED',
    lapsed: 'NOZZLE_TIMEOUT',
    'emergency-stop': 'EMERGENCY_STOP',
    fault: 'PUMP_FAULT',
    timeout: 'MAX_DURATION',
  }
  const code = map[sale.outcome]
  return { reason_code: code ?? null, reason_message: code ? `sale outcome ${sale.outcome}` : null }
}

/** Why a sale does not belong to its session, or undefined when it does. */
export function saleMismatch(row: SessionRow, sale: SaleRecord): Reason | undefined {
  const bad = (code: ReasonCode, message: string): Reason => ({ code, number: 0, message })
  if (sale.pump !== row.pump) return bad('SALE_MISMATCH', 'pump differs')
  if (sale.vehicleId !== row.vehicle_id) return bad('SALE_MISMATCH', 'vehicle differs')
  if (sale.tokenId !== row.token_jti) return bad('SALE_MISMATCH', 'token differs')
  if (sale.currency !== row.currency) return bad('SALE_MISMATCH', 'currency differs')
  if (sale.volumeUnit !== row.volume_unit) return bad('SALE_MISMATCH', 'volume unit differs')
  if (sale.endedAt < sale.startedAt) return bad('SALE_MISMATCH', 'ends before it starts')
  if (sale.totalizerEndMilli - sale.totalizerStartMilli !== sale.volumeMilli)
    return bad('SALE_ARITHMETIC_INVALID', 'totalizer difference is not the volume')
  if (sale.volumeMilli === 0) {
    if (sale.amountMinor !== 0) return bad('SALE_ARITHMETIC_INVALID', 'no volume but an amount')
    return undefined
  }
  if (!sale.grade || !sale.unitPriceMilli) return bad('SALE_MISMATCH', 'a sale with volume names its grade and price')
  const prices = row.prices as Record<string, number>
  if (prices[sale.grade] === undefined) return bad('SALE_MISMATCH', 'grade was not authorized')
  // The pump's price is the posted price the station signed, and the pump
  // stays within the hold at any price: an operator's price change between
  // the hold and the sale is charged, not refused (the sale event says so).
  if (amountForVolume(sale.volumeMilli, sale.unitPriceMilli, row.currency as Currency) !== sale.amountMinor)
    return bad('SALE_ARITHMETIC_INVALID', 'amount is not volume times price')
  return undefined
}

function sameSale(a: SaleRecord, b: SaleRecord): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof SaleRecord>
  for (const k of keys) if (a[k] !== b[k]) return false
  return true
}

/**
 * Step 2: carries out a decided settlement. Idempotent; returns the session
 * as it stands. `known` is the row as step 1 just committed it (saves a
 * read); everything that matters is re-checked under the row lock.
 */
export async function finishSettlement(deps: CloudDeps, sessionId: string, known?: SessionRow, reply?: SaleReply): Promise<SessionRow> {
  const row = known ?? (await findSession(deps.db, sessionId))
  if (!row) throw refuse('SESSION_NOT_FOUND')
  if (row.settled_at || !row.settle_action) return row
  if (row.settle_action === 'late_capture') return finishLateCapture(deps, row)
  const amount = Number(row.settle_amount_minor ?? 0)
  if (row.processor_auth_id) {
    const r =
      row.settle_action === 'capture'
        ? await deps.processor.capture({ authId: row.processor_auth_id, amountMinor: amount, idempotencyKey: `capture:${row.id}` })
        : await deps.processor.void({ authId: row.processor_auth_id, idempotencyKey: `void:${row.id}` })
    if (!r.ok && row.settle_action === 'capture' && !TRANSIENT.includes(r.reason.code)) return captureAsLate(deps, row, r.reason)
    if (!r.ok && !TRANSIENT.includes(r.reason.code)) {
      // A void refused for good (the issuer let the hold lapse, or it is
      // voided already) leaves nothing held, as in captureAsLate and
      // releaseUnrecordedHold: retrying it could never succeed, and a zero
      // sale answered 503 for ever would block the station's sale queue.
      deps.log.error({ sessionId, code: r.reason.code, authId: row.processor_auth_id }, 'the processor refused to void a hold for good: nothing held')
      deps.metrics.settlementFailures.inc({ action: 'void', code: r.reason.code })
    } else if (!r.ok) {
      deps.log.warn({ sessionId, code: r.reason.code, action: row.settle_action }, 'processor settlement failed; will retry')
      deps.metrics.settlementFailures.inc({ action: row.settle_action, code: r.reason.code })
      throw refuse(r.reason.code === 'PROCESSOR_TIMEOUT' ? 'PROCESSOR_TIMEOUT' : 'UNAVAILABLE', r.reason.message)
    }
  }
  // Usually one statement: written only if the session is still as `row`
  // says. Otherwise (a concurrent settlement got there, or `row` was stale)
  // under the row lock, from the row as it is now.
  const done = await settleRecorded(deps, deps.db, row, reply)
  if (done) return done
  const now = await deps.db.transaction().execute(async (tx) => {
    const locked = await lockSession(tx, sessionId)
    if (!locked) throw refuse('SESSION_NOT_FOUND')
    // Recorded only what was carried out: if the decision changed since `row`
    // (another report finished this void and decided a late capture, or a
    // refused capture became one), the new decision is carried out instead.
    if (locked.settled_at || !locked.settle_action || locked.settle_action !== row.settle_action) return locked
    const written = await settleRecorded(deps, tx, locked)
    if (!written) throw new Error(`settlement of ${sessionId} not written under its row lock`)
    return written
  })
  return now.settled_at || !now.settle_action ? now : finishSettlement(deps, sessionId, now, reply)
}

/**
 * A capture the processor refused for good (the issuer let the authorization
 * lapse while the station was offline, say) is fuel pumped all the same, and
 * retrying it would block the station's in-order sale queue for ever: the
 * hold is voided and released, and the sale charged by a late capture, as if
 * it had arrived after its hold was voided. One statement switches the
 * session and posts the release; the late capture then ends it captured, or
 * failed with a settlement-failed alert when the issuer declines that too.
 */
async function captureAsLate(deps: CloudDeps, row: SessionRow, why: { code: ReasonCode; message: string }): Promise<SessionRow> {
  const sessionId = row.id
  deps.log.warn({ sessionId, code: why.code }, 'capture refused for good; voiding the hold and capturing late')
  deps.metrics.settlementFailures.inc({ action: 'capture', code: why.code })
  if (row.processor_auth_id) {
    const v = await deps.processor.void({ authId: row.processor_auth_id, idempotencyKey: `void:${sessionId}` })
    // A void refused for good leaves nothing held; a transient one is retried with the capture.
    if (!v.ok && TRANSIENT.includes(v.reason.code)) throw refuse('UNAVAILABLE', v.reason.message)
  }
  const hold = Number(row.hold_amount_minor)
  const update = deps.db
    .updateTable('sessions')
    .set({
      settle_action: 'late_capture',
      released_minor: hold,
      reason_message: `capture refused (${why.code}: ${why.message}); charged by a new authorization`.slice(0, 300),
      updated_at: sql`now()` as unknown as Date,
    })
    .where('id', '=', sessionId)
    .where('settled_at', 'is', null)
    .where('settle_action', '=', 'capture')
    .returningAll()
  const r = await sql<SessionRow>`
    WITH s AS (${update}),
    ${entryCtes('release', 's', [{ sessionId, kind: 'release', currency: row.currency, postings: hold > 0 ? releasePostings(row.account_id, row.station_id, hold) : [] }])}
    SELECT * FROM s`.execute(deps.db)
  // Switched now, or by a concurrent report of the same sale: finish from the row as it is.
  return finishSettlement(deps, sessionId, r.rows[0])
}

/**
 * Records a carried-out capture or void in one statement: the session's
 * final state, the capture and release ledger entries, and the outbox
 * event. The update takes the row lock and happens only if every field the
 * amounts were computed from is unchanged and the session is unsettled; the
 * other writes happen only if it did. Undefined when nothing was written.
 */
async function settleRecorded(deps: CloudDeps, db: Db, row: SessionRow, reply?: SaleReply): Promise<SessionRow | undefined> {
  const sessionId = row.id
  if (row.settle_action !== 'capture' && row.settle_action !== 'void') throw new Error(`settleRecorded: ${sessionId} is to be settled by ${row.settle_action}`)
  const hold = Number(row.hold_amount_minor)
  const captured = row.settle_action === 'capture' ? Number(row.settle_amount_minor ?? 0) : 0
  // Never capture above what the hold has left.
  if (captured > hold || captured < 0) throw new Error(`capture ${captured} above hold ${hold} for ${sessionId}`)
  const released = hold - captured
  const state: SessionState = row.settle_action === 'capture' ? 'captured' : row.state === 'expired' ? 'expired' : 'voided'
  const settled = {
    state,
    captured_minor: captured,
    released_minor: released,
    settled_at: new Date(deps.nowMs()),
    receipt_id: captured > 0 ? `r_${randomBytes(9).toString('base64url')}` : null,
  }
  // The sale's answer is known before the write (the row as it will be once
  // written), so it commits with the settlement and its idempotency key.
  const answer = reply?.answer && (state !== 'captured' || reply.parts) ? reply.answer : undefined
  const response = answer ? saleResponseFrom({ ...row, ...settled }, reply?.parts) : undefined
  const update = db
    .updateTable('sessions')
    .set({ ...settled, updated_at: sql`now()` as unknown as Date })
    .where('id', '=', sessionId)
    .where('settled_at', 'is', null)
    .where(stillAsRead(row, ['state', 'settle_action', 'settle_amount_minor', 'hold_amount_minor', 'reason_code']))
    .returningAll()
  const r = await sql<SessionRow>`
    WITH s AS (${update}),
    ${entryCtes('settle', 's', [
      // In this order: the capture's entry id comes before the release's.
      { sessionId, kind: 'capture', currency: row.currency, postings: captured > 0 ? capturePostings(row.account_id, row.station_id, captured) : [] },
      { sessionId, kind: 'release', currency: row.currency, postings: released > 0 ? releasePostings(row.account_id, row.station_id, released) : [] },
    ])},
    ${outboxCte('event', 's', {
      kind: `session.${state}`,
      aggregateId: sessionId,
      operatorId: row.operator_id,
      stationId: row.station_id,
      accountId: row.account_id,
      payload: { sessionId, pump: row.pump, state, capturedMinor: captured, releasedMinor: released, currency: row.currency, reason: row.reason_code },
    })}${
      answer && response
        ? sql`,
    ${idempotencyDoneCte('answer', 's', { scope: answer.scope, key: answer.key, statusCode: answer.statusCode, response: answer.serialize(response) })}`
        : sql``
    }
    SELECT * FROM s`.execute(db)
  const updated = r.rows[0]
  if (updated) {
    deps.metrics.settlements.inc({ state })
    if (reply && response) reply.stored = response
  }
  return updated
}

/**
 * Carries out a decided late capture: a new authorization for exactly the
 * decided amount (no partial approval: a forced post is for what was pumped)
 * and its capture, each under a key derived from the session so concurrent
 * duplicates and retries reach the processor as one request. A transient
 * processor error leaves the session decided (the sale's retry or the
 * sweeper finishes it); a decline ends it failed with the issuer's reason.
 */
async function finishLateCapture(deps: CloudDeps, row: SessionRow): Promise<SessionRow> {
  const sessionId = row.id
  const amount = Number(row.settle_amount_minor ?? 0)
  const transient = (code: ReasonCode, message: string, step: string): never => {
    deps.log.warn({ sessionId, code, step }, 'late capture not done; will retry')
    deps.metrics.settlementFailures.inc({ action: 'late_capture', code })
    throw refuse(code === 'PROCESSOR_TIMEOUT' ? 'PROCESSOR_TIMEOUT' : 'UNAVAILABLE', message)
  }
  let outcome: { ok: true; authId: string } | { ok: false; code: ReasonCode; message: string }
  const pm = await findPaymentMethod(deps.db, row.payment_method_id)
  if (!pm) outcome = { ok: false, code: 'NO_PAYMENT_METHOD', message: 'the payment method is gone' }
  else {
    const auth = await deps.processor.authorize({
      cardToken: pm.processor_token,
      amountMinor: amount,
      currency: row.currency,
      idempotencyKey: `late-auth:${sessionId}`,
      allowPartial: false,
    })
    if (!auth.ok) {
      if (TRANSIENT.includes(auth.reason.code)) transient(auth.reason.code, auth.reason.message, 'authorize')
      outcome = { ok: false, code: auth.reason.code, message: auth.reason.message }
    } else {
      const cap = await deps.processor.capture({ authId: auth.value.authId, amountMinor: amount, idempotencyKey: `late-capture:${sessionId}` })
      if (!cap.ok) {
        if (TRANSIENT.includes(cap.reason.code)) transient(cap.reason.code, cap.reason.message, 'capture')
        // Refused for good: give the card its credit back before recording the failure.
        const v = await deps.processor.void({ authId: auth.value.authId, idempotencyKey: `late-void:${sessionId}` })
        // A void refused for good leaves nothing held; only a transient one is worth a retry.
        if (!v.ok && TRANSIENT.includes(v.reason.code)) transient(v.reason.code, v.reason.message, 'void')
        outcome = { ok: false, code: cap.reason.code, message: cap.reason.message }
      } else outcome = { ok: true, authId: auth.value.authId }
    }
  }
  return deps.db.transaction().execute(async (tx) => {
    const locked = await lockSession(tx, sessionId)
    if (!locked) throw refuse('SESSION_NOT_FOUND')
    if (locked.settled_at) return locked
    const hold = Number(locked.hold_amount_minor)
    if (amount > hold || amount <= 0) throw new Error(`late capture ${amount} outside hold ${hold} for ${sessionId}`)
    const settledAt = new Date(deps.nowMs())
    const common = { sessionId, pump: locked.pump, currency: locked.currency, lateCapture: true }
    let updated: SessionRow
    if (outcome.ok) {
      await postEntry(tx, { sessionId, kind: 'late_capture', currency: locked.currency, postings: lateCapturePostings(locked.account_id, locked.station_id, amount) })
      updated = await updateSessionReturning(tx, sessionId, {
        state: 'captured',
        captured_minor: amount,
        late_capture_auth_id: outcome.authId,
        settled_at: settledAt,
        receipt_id: `r_${randomBytes(9).toString('base64url')}`,
      })
      await appendOutbox(tx, {
        kind: 'session.captured',
        aggregateId: sessionId,
        operatorId: locked.operator_id,
        stationId: locked.station_id,
        accountId: locked.account_id,
        payload: { ...common, state: 'captured', capturedMinor: amount, releasedMinor: Number(locked.released_minor) },
      })
      deps.metrics.settlements.inc({ state: 'captured' })
      deps.log.info({ sessionId, amountMinor: amount }, 'late capture done')
    } else {
      updated = await updateSessionReturning(tx, sessionId, {
        state: 'failed',
        reason_code: outcome.code,
        reason_message: `late capture of ${amount} failed: ${outcome.message}`.slice(0, 300),
        settled_at: settledAt,
      })
      // The console turns this into a "settlement failed" alert: fuel was pumped and not paid for.
      await appendOutbox(tx, {
        kind: 'session.settlement-failed',
        aggregateId: sessionId,
        operatorId: locked.operator_id,
        stationId: locked.station_id,
        accountId: locked.account_id,
        payload: { ...common, state: 'failed', amountMinor: amount, reason: outcome.code, message: outcome.message.slice(0, 200) },
      })
      deps.metrics.settlements.inc({ state: 'failed' })
      deps.metrics.settlementFailures.inc({ action: 'late_capture', code: outcome.code })
      deps.log.error({ sessionId, amountMinor: amount, code: outcome.code }, 'late capture declined: fuel pumped but not paid')
    }
    return updated
  })
}

async function saleResponse(deps: CloudDeps, row: SessionRow, parts: ReceiptParts | undefined): Promise<SaleReportResponse> {
  if (row.state === 'captured' && !parts) return saleResponseFrom(row, await readReceiptParts(deps.db, row))
  return saleResponseFrom(row, parts)
}

/** The answer to a sale report; a captured session's receipt from `parts`. */
function saleResponseFrom(row: SessionRow, parts: ReceiptParts | undefined): SaleReportResponse {
  const out: SaleReportResponse = {
    sessionId: row.id,
    state: row.state as SessionState,
    capturedMinor: Number(row.captured_minor),
    releasedMinor: Number(row.released_minor),
  }
  if (row.state === 'captured') out.receipt = receiptFrom(row, parts)
  return out
}

function receiptFrom(row: SessionRow, parts: ReceiptParts | undefined): Receipt {
  if (!parts?.station || !parts.pm) throw refuse('INTERNAL', 'session refers to missing rows')
  return toReceipt(row, parts.station, parts.pm)
}

/** What a receipt shows besides the session: the station's name and the card (null when missing). */
interface ReceiptParts {
  station: { name: string } | null
  pm: { id: string; brand: string; last4: string; name: string | null } | null
}

const receiptPartsSql = (stationId: unknown, paymentMethodId: unknown) => sql`
      (SELECT jsonb_build_object('name', st.name) FROM stations st WHERE st.id = ${stationId}) AS receipt_station,
      (SELECT jsonb_build_object('id', m.id, 'brand', m.brand, 'last4', m.last4, 'name', m.name)
        FROM payment_methods m WHERE m.id = ${paymentMethodId}) AS receipt_pm`

/** The receipt's station name and card for a session, in one round trip. */
async function readReceiptParts(db: Db, row: SessionRow): Promise<ReceiptParts> {
  const r = await sql<{ receipt_station: ReceiptParts['station']; receipt_pm: ReceiptParts['pm'] }>`
    SELECT ${receiptPartsSql(sql`${row.station_id}::text`, sql`${row.payment_method_id}::text`)}`.execute(db)
  return { station: r.rows[0]?.receipt_station ?? null, pm: r.rows[0]?.receipt_pm ?? null }
}

/** A session with its receipt's parts, in one round trip (undefined when there is no such session). */
async function findSessionWithReceiptParts(db: Db, id: string): Promise<{ row: SessionRow; parts: ReceiptParts } | undefined> {
  const r = await sql<SessionRow & { receipt_station: ReceiptParts['station']; receipt_pm: ReceiptParts['pm'] }>`
    SELECT s.*, ${receiptPartsSql(sql.ref('s.station_id'), sql.ref('s.payment_method_id'))}
    FROM sessions s WHERE s.id = ${id}::text`.execute(db)
  const found = r.rows[0]
  if (!found) return undefined
  const { receipt_station, receipt_pm, ...row } = found
  return { row, parts: { station: receipt_station, pm: receipt_pm } }
}

/** A captured session's receipt: the station's name and the card, read in one round trip. */
export async function receiptFor(db: Db, row: SessionRow): Promise<Receipt> {
  return receiptFrom(row, await readReceiptParts(db, row))
}

/** GET /v1/receipts/:sessionId: the caller's captured session as a receipt. */
export async function getReceipt(deps: CloudDeps, caller: Caller, sessionId: string): Promise<Receipt> {
  const row = await findSessionForCaller(deps.db, sessionId, caller)
  if (!row) throw refuse('SESSION_NOT_FOUND')
  if (row.state !== 'captured') throw refuse('SESSION_STATE_CONFLICT', `session is ${row.state}; no receipt`)
  return receiptFor(deps.db, row)
}

export async function getSession(deps: CloudDeps, caller: Caller, sessionId: string): Promise<SessionView> {
  const row = await findSessionForCaller(deps.db, sessionId, caller)
  if (!row) throw refuse('SESSION_NOT_FOUND')
  return toSessionView(row)
}

/**
 * POST /v1/sessions/:id/cancel by the vehicle. Only a hold whose pump has not
 * started (state held) is voided here; the station is told to void the
 * session so a late authorize with the token is refused. Once a pump took the
 * token, cancelling goes through the pump (its cancelled sale voids the hold).
 */
export async function cancelSession(
  deps: CloudDeps,
  caller: Extract<Caller, { role: 'vehicle' }>,
  sessionId: string,
): Promise<SessionView> {
  const decided = await deps.db.transaction().execute(async (tx) => {
    const row = await lockSession(tx, sessionId)
    if (!row || row.vehicle_id !== caller.id) throw refuse('SESSION_NOT_FOUND')
    if (row.settle_action === 'void' || row.state === 'voided') return row
    if (row.state === 'fueling' || row.state === 'completed') throw refuse('FUEL_ALREADY_FLOWING')
    if (row.state !== 'held' || row.settle_action) throw refuse('SESSION_STATE_CONFLICT', `session is ${row.state}`)
    await updateSession(tx, row.id, { settle_action: 'void', settle_amount_minor: 0, reason_code: 'CANCELLED', reason_message: 'cancelled by the driver' })
    return row
  })
  if (deps.sendStationCommand) {
    await deps.sendStationCommand(decided.station_id, { op: 'void-session', sessionId }).catch((err) =>
      deps.log.warn({ err, sessionId }, 'could not tell the station to void the session'),
    )
  }
  return toSessionView(await finishSettlement(deps, sessionId))
}

/**
 * Voids holds that outlived their time (design: expiry), records why, and
 * finishes settlements a crash or processor outage left half done (late
 * captures included). Bounded per run; returns how many sessions it touched.
 *
 * A held session's time is set at authorization to at least token expiry +
 * clock skew + the longest pump session (unusedHoldLifetimeMs), so the
 * sweeper never releases a hold a pump may still be dispensing against; once
 * the cloud has seen the pump take the token it gets holdTtlMs. A sale that
 * still arrives after the void is not refused: it is captured late.
 */
export async function expireSessions(deps: CloudDeps, opts: { limit?: number } = {}): Promise<number> {
  const { sessionsDue } = await import('./session.repository.ts')
  const now = new Date(deps.nowMs())
  const due = await sessionsDue(deps.db, now, opts.limit ?? 100, UNRECORDED_HOLD_RETRY_MS)
  let touched = 0
  for (const { id } of due) {
    try {
      const unrecorded = await deps.db.transaction().execute(async (tx) => {
        const row = await lockSession(tx, id)
        if (!row || row.settled_at || row.settle_action) return undefined
        // A request the cloud never finished (it crashed, or the processor
        // never answered): failed, and whatever the processor may hold for it released.
        if (row.state === 'requested') {
          return updateSessionReturning(tx, id, { state: 'failed', reason_code: 'PROCESSOR_TIMEOUT', reason_message: 'authorization never completed' })
        }
        if (UNRECORDED_HOLD_STATES.includes(row.state)) return row
        if (OPEN_STATES.includes(row.state) && row.hold_expires_at && new Date(row.hold_expires_at) < now) {
          await updateSession(tx, id, {
            settle_action: 'void',
            settle_amount_minor: 0,
            state: 'expired',
            reason_code: 'TIMEOUT',
            reason_message: `hold expired in state ${row.state} without a sale`,
          })
        }
        return undefined
      })
      if (unrecorded) {
        if (await releaseUnrecordedHold(deps, unrecorded)) touched++
        continue
      }
      const after = await findSession(deps.db, id)
      if (!after?.settle_action || after.settled_at) continue
      await finishSettlement(deps, id, after)
      touched++
    } catch (err) {
      const next = await deferSettlement(deps, id).catch(() => undefined)
      deps.log.warn({ err, sessionId: id, ...(next ? { attempts: next.attempts, nextAt: next.at } : {}) }, 'expiry of a session failed; will retry')
    }
  }
  return touched
}

/** The sweeper's wait after the first failed try of a settlement; doubled each time, up to SETTLE_RETRY_MAX_MS. */
export const SETTLE_RETRY_MS = 30_000
export const SETTLE_RETRY_MAX_MS = 3_600_000

/**
 * A decided settlement the sweeper could not carry out (the processor down,
 * or refusing) is tried again later, each time later: one the processor
 * refuses for good must not hold a place in every sweep's batch, where a
 * hundred of them would keep every other session from being expired.
 */
async function deferSettlement(deps: CloudDeps, sessionId: string): Promise<{ attempts: number; at: Date } | undefined> {
  const r = await sql<{ settle_attempts: number; settle_next_at: Date }>`
    UPDATE sessions SET settle_attempts = settle_attempts + 1,
      settle_next_at = ${new Date(deps.nowMs())}::timestamptz
        + LEAST(${SETTLE_RETRY_MAX_MS}::float8, ${SETTLE_RETRY_MS}::float8 * power(2, LEAST(settle_attempts, 20))) * interval '1 millisecond'
    WHERE id = ${sessionId}::text AND settled_at IS NULL AND settle_action IS NOT NULL
    RETURNING settle_attempts, settle_next_at`.execute(deps.db)
  const row = r.rows[0]
  return row ? { attempts: row.settle_attempts, at: new Date(row.settle_next_at) } : undefined
}

export { SETTLED_STATES }
