import { randomBytes } from 'node:crypto'
import { type Selectable, sql } from 'kysely'
import { fail, ok, type ReasonCode, type Result } from '@fuelpay/proto'
import type { Db, Tables } from '../db/database.ts'
import type { AuthorizeInput, CaptureInput, PaymentProcessor, VoidInput } from './payment-processor.ts'

/**
 * A simulated card processor with persistent state (cards with available
 * credit and expiry, authorizations, idempotent requests) in the cloud's
 * database, and the real decline reasons. Faults and latency are injectable
 * so tests can show what the cloud does when the issuer is slow or down.
 *
 * @example const p = createSimProcessor({ db, faults: { latencyMs: () => 50, fail: (op) => op === 'capture' ? 'ISSUER_UNAVAILABLE' : undefined } })
 */
export interface SimFaults {
  /** Delay before answering, per call. */
  latencyMs?: () => number
  /** Answer with this decline instead of doing the operation. */
  fail?: (op: 'authorize' | 'capture' | 'void') => ReasonCode | undefined
}

/** Amounts above this look like fraud to the simulated issuer. */
export const SIM_FRAUD_THRESHOLD_MINOR = 5_000_000

export function createSimProcessor(opts: {
  db: Db
  nowMs?: () => number
  faults?: SimFaults
}): PaymentProcessor {
  const { db } = opts
  const now = opts.nowMs ?? Date.now
  const faults = opts.faults ?? {}

  async function delay(): Promise<void> {
    const ms = faults.latencyMs?.() ?? 0
    if (ms > 0) await new Promise((r) => setTimeout(r, ms))
  }

  async function authorize(input: AuthorizeInput): Promise<Result<{ authId: string; approvedMinor: number }>> {
    await delay()
    const injected = faults.fail?.('authorize')
    if (injected) return fail(injected)
    const id = `sa_${randomBytes(10).toString('hex')}`
    try {
      const approved = await approveAtOnce(db, input, id, now())
      if (approved !== undefined) return ok({ authId: id, approvedMinor: approved })
      // Anything but a plain approval: both reads in one statement; neither
      // locks (the credit is re-read under the card's lock below).
      const { prior, card } = await findPriorAndCard(db, input.idempotencyKey, input.cardToken)
      if (prior) return priorAnswer(prior)
      const decline = decide(card, input, now())
      if (!card) return fail('DECLINED')
      if (decline) {
        await db
          .insertInto('sim_authorizations')
          .values({
            id,
            idempotency_key: input.idempotencyKey,
            card_token: card.token,
            currency: input.currency,
            requested_minor: input.amountMinor,
            approved_minor: 0,
            state: 'declined',
            decline_code: decline,
          })
          .execute()
        return fail(decline)
      }
      // One statement, its own transaction: the card's row is locked only
      // while it runs and commits, so authorizations on one card queue for
      // one round trip each, not for a whole multi-statement transaction.
      // The credit is re-read under the lock; the decrement and the record
      // commit together, and a concurrent duplicate key fails on the unique
      // index (rolling its decrement back) and then finds this answer.
      const r = await sql<{ state: string; approved_minor: number; decline_code: string | null }>`
        WITH c AS (
          SELECT token, forced_decline,
            CASE WHEN forced_decline IS NOT NULL OR available_minor <= 0
                   OR (NOT ${input.allowPartial}::boolean AND available_minor < ${input.amountMinor}::bigint) THEN 0
                 ELSE LEAST(${input.amountMinor}::bigint, available_minor) END AS approved
          FROM sim_cards WHERE token = ${card.token}::text FOR NO KEY UPDATE
        ), u AS (
          UPDATE sim_cards s SET available_minor = s.available_minor - c.approved
          FROM c WHERE s.token = c.token AND c.approved > 0
          RETURNING s.token
        )
        INSERT INTO sim_authorizations (id, idempotency_key, card_token, currency, requested_minor, approved_minor, state, decline_code)
        SELECT ${id}::text, ${input.idempotencyKey}::text, c.token, ${input.currency}::text, ${input.amountMinor}::bigint, c.approved,
          CASE WHEN c.approved > 0 THEN 'authorized' ELSE 'declined' END,
          CASE WHEN c.approved > 0 THEN NULL ELSE COALESCE(c.forced_decline, 'INSUFFICIENT_FUNDS') END
        FROM c
        RETURNING state, approved_minor, decline_code`.execute(db)
      const row = r.rows[0]
      if (!row) return fail('DECLINED')
      if (row.state === 'declined') return fail((row.decline_code ?? 'DECLINED') as ReasonCode)
      return ok({ authId: id, approvedMinor: Number(row.approved_minor) })
    } catch (err) {
      // A concurrent request with the same key got there first: its answer is the answer.
      const again = (err as { code?: string }).code === '23505' ? await findAuthorization(db, input.idempotencyKey) : undefined
      if (again) return priorAnswer(again)
      throw err
    }
  }

  type AuthRow = Selectable<Tables['sim_authorizations']>

  /**
   * The shared shape of capture and void: injected latency and faults, then
   * the common case in one statement (closeAtOnce), and otherwise one
   * transaction that locks the authorization first (a concurrent duplicate
   * waits there and finds the stored answer), answers a repeated key from
   * storage, and lets `close` decide. `close` returns the
   * result and whether it already stored it (closeAuthorization does).
   */
  async function settle<T>(
    op: 'capture' | 'void',
    authId: string,
    idempotencyKey: string,
    /** The capture's amount; null for a void. */
    amountMinor: number | null,
    close: (tx: Db, auth: AuthRow | undefined) => Promise<{ result: Result<T>; stored: boolean }>,
  ): Promise<Result<T>> {
    await delay()
    const injected = faults.fail?.(op)
    if (injected) return fail(injected)
    const done = await closeAtOnce<T>(db, op, authId, idempotencyKey, amountMinor)
    if (done) return done
    return db.transaction().execute(async (trx) => {
      const tx = trx as unknown as Db
      // The authorization, locked, with any stored answer for this key: one round trip.
      const locked = await sql<AuthRow & { prior_result: Result<unknown> | null }>`
        SELECT a.*, (SELECT r.result FROM sim_requests r WHERE r.idempotency_key = ${idempotencyKey}::text) AS prior_result
        FROM sim_authorizations a WHERE a.id = ${authId}::text FOR UPDATE OF a`.execute(tx)
      let auth: AuthRow | undefined
      let prior: Result<unknown> | undefined
      const row = locked.rows[0]
      if (row) {
        const { prior_result, ...a } = row
        auth = a
        prior = prior_result ?? undefined
      } else prior = await priorRequest(tx, idempotencyKey)
      if (prior) return prior as Result<T>
      const { result, stored } = await close(tx, auth)
      if (!stored) await storeRequest(tx, idempotencyKey, op, result)
      return result
    })
  }

  function capture(input: CaptureInput): Promise<Result<{ capturedMinor: number }>> {
    return settle('capture', input.authId, input.idempotencyKey, input.amountMinor, async (tx, auth) => {
      if (auth?.state !== 'authorized') return { result: fail('DECLINED', 'authorization not open'), stored: false }
      if (input.amountMinor > auth.approved_minor || input.amountMinor < 0)
        return { result: fail('AMOUNT_OUT_OF_RANGE', 'capture above authorization'), stored: false }
      const result = ok({ capturedMinor: input.amountMinor })
      // The uncaptured rest goes back to the card's available credit.
      await closeAuthorization(tx, {
        authId: auth.id,
        state: 'captured',
        capturedMinor: input.amountMinor,
        cardToken: auth.card_token,
        creditMinor: Number(auth.approved_minor) - input.amountMinor,
        idempotencyKey: input.idempotencyKey,
        op: 'capture',
        result,
      })
      return { result, stored: true }
    })
  }

  function voidAuth(input: VoidInput): Promise<Result<{ voided: true }>> {
    return settle('void', input.authId, input.idempotencyKey, null, async (tx, auth) => {
      if (auth && auth.state === 'captured') return { result: fail('DECLINED', 'already captured'), stored: false }
      const result = ok({ voided: true as const })
      if (auth?.state !== 'authorized') return { result, stored: false }
      await closeAuthorization(tx, {
        authId: auth.id,
        state: 'voided',
        capturedMinor: null,
        cardToken: auth.card_token,
        creditMinor: Number(auth.approved_minor),
        idempotencyKey: input.idempotencyKey,
        op: 'void',
        result,
      })
      return { result, stored: true }
    })
  }

  return { authorize, capture, void: voidAuth }
}

/**
 * The common authorization in one statement: a new key, a card that
 * decide() would approve, the credit taken under the card's row lock (the
 * conditions are re-checked on the locked row) and the authorization
 * recorded. Undefined, having written nothing, for anything else (a
 * decline, a repeated key); the caller then decides the slow way. The
 * conditions here are decide()'s, so both paths approve alike.
 */
async function approveAtOnce(db: Db, input: AuthorizeInput, id: string, nowMs: number): Promise<number | undefined> {
  const d = new Date(nowMs)
  const ym = d.getUTCFullYear() * 12 + d.getUTCMonth() + 1
  const amount = input.amountMinor
  if (amount <= 0 || amount > SIM_FRAUD_THRESHOLD_MINOR) return undefined
  const r = await sql<{ approved_minor: number }>`
    WITH c AS (
      SELECT token, CASE WHEN ${input.allowPartial}::boolean THEN LEAST(${amount}::bigint, available_minor) ELSE ${amount}::bigint END AS approved
      FROM sim_cards
      WHERE token = ${input.cardToken}::text AND forced_decline IS NULL AND currency = ${input.currency}::text
        AND exp_year * 12 + exp_month >= ${ym}::int AND available_minor > 0
        AND (${input.allowPartial}::boolean OR available_minor >= ${amount}::bigint)
        AND NOT EXISTS (SELECT 1 FROM sim_authorizations WHERE idempotency_key = ${input.idempotencyKey}::text)
      FOR NO KEY UPDATE
    ), u AS (
      UPDATE sim_cards s SET available_minor = s.available_minor - c.approved FROM c WHERE s.token = c.token
    )
    INSERT INTO sim_authorizations (id, idempotency_key, card_token, currency, requested_minor, approved_minor, state, decline_code)
    SELECT ${id}::text, ${input.idempotencyKey}::text, c.token, ${input.currency}::text, ${amount}::bigint, c.approved, 'authorized', NULL
    FROM c
    RETURNING approved_minor`.execute(db)
  const row = r.rows[0]
  return row ? Number(row.approved_minor) : undefined
}

function decide(
  card: { available_minor: number; exp_month: number; exp_year: number; currency: string; forced_decline: string | null } | undefined,
  input: AuthorizeInput,
  nowMs: number,
): ReasonCode | undefined {
  if (!card) return 'DECLINED'
  if (card.forced_decline) return card.forced_decline as ReasonCode
  const d = new Date(nowMs)
  const ym = d.getUTCFullYear() * 12 + d.getUTCMonth() + 1
  if (card.exp_year * 12 + card.exp_month < ym) return 'CARD_EXPIRED'
  if (card.currency !== input.currency) return 'DECLINED'
  if (input.amountMinor > SIM_FRAUD_THRESHOLD_MINOR) return 'SUSPECTED_FRAUD'
  if (card.available_minor <= 0) return 'INSUFFICIENT_FUNDS'
  if (!input.allowPartial && card.available_minor < input.amountMinor) return 'INSUFFICIENT_FUNDS'
  return undefined
}

/**
 * The common capture or void in one statement: an open authorization whose
 * key was never used, captured within its approval (or voided), with its
 * stored answer and the credit given back, exactly as closeAuthorization
 * would under the lock. Undefined (nothing written) for anything else: a
 * repeated key, a closed authorization, an amount out of range, or a
 * concurrent duplicate that got there first (its update waits on the row,
 * then finds the state changed); the locked path then answers.
 */
async function closeAtOnce<T>(
  db: Db,
  op: 'capture' | 'void',
  authId: string,
  idempotencyKey: string,
  capturedMinor: number | null,
): Promise<Result<T> | undefined> {
  const result = (op === 'capture' ? ok({ capturedMinor }) : ok({ voided: true })) as Result<T>
  const kept = capturedMinor ?? 0
  try {
    const r = await sql<{ n: number }>`
      WITH a AS (
        UPDATE sim_authorizations SET state = ${op === 'capture' ? 'captured' : 'voided'}::text,
          captured_minor = COALESCE(${capturedMinor}::bigint, captured_minor)
        WHERE id = ${authId}::text AND state = 'authorized'
          AND (${capturedMinor}::bigint IS NULL OR ${capturedMinor}::bigint BETWEEN 0 AND approved_minor)
          AND NOT EXISTS (SELECT 1 FROM sim_requests WHERE idempotency_key = ${idempotencyKey}::text)
        RETURNING card_token, approved_minor
      ), r AS (
        INSERT INTO sim_requests (idempotency_key, op, result)
        SELECT ${idempotencyKey}::text, ${op}::text, ${JSON.stringify(result)}::jsonb FROM a
      ), c AS (
        UPDATE sim_cards s SET available_minor = s.available_minor + (a.approved_minor - ${kept}::bigint)
        FROM a WHERE s.token = a.card_token AND a.approved_minor <> ${kept}::bigint
      )
      SELECT count(*)::int AS n FROM a`.execute(db)
    return r.rows[0]?.n === 1 ? result : undefined
  } catch (err) {
    // The key was stored meanwhile by a concurrent request: the locked path finds its answer.
    if ((err as { code?: string }).code === '23505') return undefined
    throw err
  }
}

/**
 * Captures or voids an open authorization in one statement: its new state,
 * the stored answer for the request's key, and the credit given back to the
 * card. One round trip, and the card's row (shared by every authorization on
 * the card) is locked only from here to the commit.
 */
async function closeAuthorization(
  db: Db,
  c: {
    authId: string
    state: 'captured' | 'voided'
    capturedMinor: number | null
    cardToken: string
    creditMinor: number
    idempotencyKey: string
    op: string
    result: Result<unknown>
  },
): Promise<void> {
  await sql`
    WITH a AS (
      UPDATE sim_authorizations SET state = ${c.state}::text, captured_minor = COALESCE(${c.capturedMinor}::bigint, captured_minor)
      WHERE id = ${c.authId}::text RETURNING id
    ), r AS (
      INSERT INTO sim_requests (idempotency_key, op, result) VALUES (${c.idempotencyKey}::text, ${c.op}::text, ${JSON.stringify(c.result)}::jsonb)
    )
    UPDATE sim_cards SET available_minor = available_minor + ${c.creditMinor}::bigint
    WHERE token = ${c.cardToken}::text AND ${c.creditMinor}::bigint <> 0`.execute(db)
}

function findAuthorization(db: Db, idempotencyKey: string) {
  return db.selectFrom('sim_authorizations').selectAll().where('idempotency_key', '=', idempotencyKey).executeTakeFirst()
}

type CardRow = Omit<Selectable<Tables['sim_cards']>, 'created_at'>
type PriorRow = Pick<Selectable<Tables['sim_authorizations']>, 'id' | 'state' | 'approved_minor' | 'decline_code'>

/** An earlier authorization under this key, and the card, in one round trip. */
async function findPriorAndCard(db: Db, idempotencyKey: string, token: string): Promise<{ prior: PriorRow | undefined; card: CardRow | undefined }> {
  const r = await sql<{ prior: PriorRow | null; card: CardRow | null }>`
    SELECT
      (SELECT jsonb_build_object('id', a.id, 'state', a.state, 'approved_minor', a.approved_minor, 'decline_code', a.decline_code)
        FROM sim_authorizations a WHERE a.idempotency_key = ${idempotencyKey}::text) AS prior,
      (SELECT to_jsonb(c) - 'created_at' FROM sim_cards c WHERE c.token = ${token}::text) AS card`.execute(db)
  const row = r.rows[0]
  return { prior: row?.prior ?? undefined, card: row?.card ?? undefined }
}

function priorAnswer(prior: { id: string; state: string; approved_minor: number; decline_code: string | null }): Result<{ authId: string; approvedMinor: number }> {
  return prior.state === 'declined'
    ? fail((prior.decline_code ?? 'DECLINED') as ReasonCode)
    : ok({ authId: prior.id, approvedMinor: Number(prior.approved_minor) })
}

async function priorRequest(db: Db, key: string): Promise<Result<unknown> | undefined> {
  const row = await db.selectFrom('sim_requests').select('result').where('idempotency_key', '=', key).executeTakeFirst()
  return row ? (row.result as unknown as Result<unknown>) : undefined
}

async function storeRequest(db: Db, key: string, op: string, result: Result<unknown>): Promise<void> {
  await db.insertInto('sim_requests').values({ idempotency_key: key, op, result: JSON.stringify(result) }).execute()
}
