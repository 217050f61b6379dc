import { sql } from 'kysely'
import type { Db } from '../db/database.ts'

export type BeginResult =
  | { kind: 'new' }
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
  r: { scope: string; key: string; requestHash: string; expiresAt: Date; now: Date; staleMs: number },
): Promise<BeginResult> {
  const inserted = await db
    .insertInto('idempotency_keys')
    .values({ scope: r.scope, key: r.key, request_hash: r.requestHash, state: 'in_progress', expires_at: r.expiresAt, created_at: r.now })
    .onConflict((oc) => oc.columns(['scope', 'key']).doNothing())
    .returning('key')
    .executeTakeFirst()
  if (inserted) return { kind: 'new' }
  const row = await db
    .selectFrom('idempotency_keys')
    .selectAll()
    .where('scope', '=', r.scope)
    .where('key', '=', r.key)
    .executeTakeFirst()
  if (!row) return beginIdempotent(db, r)
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

/** Forgets a claim whose request failed for reasons worth retrying (5xx). */
export async function abandonIdempotent(db: Db, scope: string, key: string): Promise<void> {
  await db.deleteFrom('idempotency_keys').where('scope', '=', scope).where('key', '=', key).where('state', '=', 'in_progress').execute()
}

export async function purgeExpiredIdempotencyKeys(db: Db, now: Date): Promise<number> {
  const r = await sql`DELETE FROM idempotency_keys WHERE expires_at < ${now}`.execute(db)
  return Number(r.numAffectedRows ?? 0)
}
