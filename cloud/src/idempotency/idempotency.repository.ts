import { type RawBuilder, sql } from 'kysely'
import type { Db } from '../db/database.ts'

export type BeginResult =
  /** `read`: the result of the claim's ride-along read, when one was given and the claim was made with the assertion. */
  | { kind: 'new'; read?: unknown }
  | { kind: 'assertion-reused' }
  | { kind: 'replay'; statusCode: number; response: string }
  | { kind: 'reused' }
  | { kind: 'in_progress' }

/**
 * Claims an idempotency key. The insert is the lock: of two concurrent
 * requests with one key, exactly one inserts and executes; the other sees
 * in_progress (or, later, the stored answer). A claim older than `staleMs`
 * that never finished (the process died) may be taken over.
 */
export async function beginIdempotent(
  db: Db,
  r: {
    scope: string
    key: string
    requestHash: string
    expiresAt: Date
    now: Date
    staleMs: number
    /** The caller's client assertion, recorded as used in the same statement (one commit, not two). */
    assertion?: { subject: string; jti: string; expiresAt: Date } | undefined
    /**
     * A read the route needs next (one scalar subquery), made in the same
     * statement as an assertion's claim: its result comes back with 'new'.
     */
    read?: RawBuilder<unknown> | undefined
  },
): Promise<BeginResult> {
  if (r.assertion) {
    // The claim is made only when the assertion is fresh: a replayed
    // assertion claims nothing and changes nothing.
    const a = r.assertion
    const both = await sql<{ fresh: number; claimed: number; read?: unknown }>`
      WITH a AS (
        INSERT INTO seen_assertions (subject, jti, expires_at) VALUES (${a.subject}::text, ${a.jti}::text, ${a.expiresAt}::timestamptz)
        ON CONFLICT (subject, jti) DO NOTHING RETURNING jti
      ), i AS (
        INSERT INTO idempotency_keys (scope, key, request_hash, state, expires_at, created_at)
        SELECT ${r.scope}::text, ${r.key}::text, ${r.requestHash}::text, 'in_progress', ${r.expiresAt}::timestamptz, ${r.now}::timestamptz
        WHERE EXISTS (SELECT 1 FROM a)
        ON CONFLICT (scope, key) DO NOTHING RETURNING key
      )
      SELECT (SELECT count(*) FROM a)::int AS fresh, (SELECT count(*) FROM i)::int AS claimed${r.read ? sql`, (${r.read}) AS read` : sql``}`.execute(db)
    const row = both.rows[0]
    if (!row || Number(row.fresh) === 0) return { kind: 'assertion-reused' }
    if (Number(row.claimed) === 1) return r.read ? { kind: 'new', read: row.read } : { kind: 'new' }
    return existingClaim(db, r)
  }
  const inserted = await db
    .insertInto('idempotency_keys')
    .values({ scope: r.scope, key: r.key, request_hash: r.requestHash, state: 'in_progress', expires_at: r.expiresAt, created_at: r.now })
    .onConflict((oc) => oc.columns(['scope', 'key']).doNothing())
    .returning('key')
    .executeTakeFirst()
  if (inserted) return { kind: 'new' }
  return existingClaim(db, r)
}

/** The key was claimed before: the stored answer, a conflict, or a stale claim taken over. */
async function existingClaim(
  db: Db,
  r: { scope: string; key: string; requestHash: string; expiresAt: Date; now: Date; staleMs: number },
): Promise<BeginResult> {
  const row = await db
    .selectFrom('idempotency_keys')
    .selectAll()
    .where('scope', '=', r.scope)
    .where('key', '=', r.key)
    .executeTakeFirst()
  // Claimed and abandoned (a 5xx) in between: claim it now.
  if (!row) return beginIdempotent(db, { ...r, assertion: undefined })
  if (row.request_hash !== r.requestHash) return { kind: 'reused' }
  if (row.state === 'done') return { kind: 'replay', statusCode: row.status_code ?? 200, response: row.response ?? '' }
  const taken = await db
    .updateTable('idempotency_keys')
    .set({ created_at: r.now })
    .where('scope', '=', r.scope)
    .where('key', '=', r.key)
    .where('state', '=', 'in_progress')
    .where('created_at', '<', new Date(r.now.getTime() - r.staleMs))
    .returning('key')
    .executeTakeFirst()
  return taken ? { kind: 'new' } : { kind: 'in_progress' }
}

export async function completeIdempotent(db: Db, scope: string, key: string, statusCode: number, response: string): Promise<void> {
  await db
    .updateTable('idempotency_keys')
    .set({ state: 'done', status_code: statusCode, response })
    .where('scope', '=', scope)
    .where('key', '=', key)
    .execute()
}

/** A request's answer, to be stored with its idempotency key in the transaction that made it. */
export interface IdempotentAnswer {
  scope: string
  key: string
  statusCode: number
  /** The response body as it is stored: exactly as it will be sent (the route's serializer), sealed (answer-sealing.ts). */
  serialize(result: unknown): string
}

/**
 * Completing an idempotency claim as a common table expression, to ride in
 * the statement that makes the change it answers for (one commit: the
 * change and its stored answer cannot part); with `gate` (an earlier CTE's
 * name) only when that change happened.
 */
export function idempotencyDoneCte(name: string, gate: string | undefined, a: { scope: string; key: string; statusCode: number; response: string }) {
  const when = gate ? sql` AND EXISTS (SELECT 1 FROM ${sql.id(gate)})` : sql``
  return sql`${sql.id(name)} AS (
      UPDATE idempotency_keys SET state = 'done', status_code = ${a.statusCode}::int, response = ${a.response}::text
      WHERE scope = ${a.scope}::text AND key = ${a.key}::text${when}
    )`
}

/** Forgets a claim whose request failed for reasons worth retrying (5xx). */
export async function abandonIdempotent(db: Db, scope: string, key: string): Promise<void> {
  await db.deleteFrom('idempotency_keys').where('scope', '=', scope).where('key', '=', key).where('state', '=', 'in_progress').execute()
}

export async function purgeExpiredIdempotencyKeys(db: Db, now: Date): Promise<number> {
  const r = await sql`DELETE FROM idempotency_keys WHERE expires_at < ${now}`.execute(db)
  return Number(r.numAffectedRows ?? 0)
}
