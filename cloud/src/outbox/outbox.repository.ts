import { type RawBuilder, sql } from 'kysely'
import type { Db } from '../db/database.ts'

/**
 * The outbox: events written in the same transaction as the change that
 * caused them (design: failure handling). A trigger notifies
 * `fuelpay_outbox` on insert; readers read rows by id, so a missed
 * notification only delays them until their next poll.
 */
export interface OutboxEventInput {
  kind: string
  aggregateId: string
  operatorId?: string | null | undefined
  stationId?: string | null | undefined
  accountId?: string | null | undefined
  payload: Record<string, unknown>
}

export interface OutboxEvent {
  id: number
  kind: string
  aggregateId: string
  operatorId: string | null
  stationId: string | null
  accountId: string | null
  payload: Record<string, unknown>
  createdAt: string
}

export const OUTBOX_CHANNEL = 'fuelpay_outbox'

export async function appendOutbox(db: Db, e: OutboxEventInput): Promise<void> {
  await sql`WITH ${outboxCte('event', undefined, e)} SELECT 1`.execute(db)
}

/**
 * An outbox event as a common table expression to ride in a larger
 * statement; with `gate` (an earlier CTE's name) it is written once per row
 * of it, so not at all when the gating change did not happen.
 */
export function outboxCte(
  name: string,
  gate: string | undefined,
  e: Omit<OutboxEventInput, 'operatorId'> & {
    /** A value, or an expression over the gate's columns (the operator read in the same statement). */
    operatorId?: string | null | RawBuilder<string> | undefined
  },
) {
  const from = gate ? sql` FROM ${sql.id(gate)}` : sql``
  return sql`${sql.id(name)} AS (
      INSERT INTO outbox (kind, aggregate_id, operator_id, station_id, account_id, payload)
      SELECT ${e.kind}::text, ${e.aggregateId}::text, ${e.operatorId ?? null}::text, ${e.stationId ?? null}::text,
        ${e.accountId ?? null}::text, ${JSON.stringify(e.payload)}::jsonb${from}
    )`
}

/** Events after `afterId`, oldest first, optionally only one operator's. */
export async function readOutbox(
  db: Db,
  opts: { afterId: number; limit: number; operatorId?: string | undefined },
): Promise<OutboxEvent[]> {
  let q = db.selectFrom('outbox').selectAll().where('id', '>', opts.afterId)
  if (opts.operatorId) q = q.where('operator_id', '=', opts.operatorId)
  const rows = await q.orderBy('id').limit(Math.min(Math.max(1, opts.limit), 1000)).execute()
  return rows.map((r) => ({
    id: Number(r.id),
    kind: r.kind,
    aggregateId: r.aggregate_id,
    operatorId: r.operator_id,
    stationId: r.station_id,
    accountId: r.account_id,
    payload: r.payload,
    createdAt: new Date(r.created_at).toISOString(),
  }))
}

export async function latestOutboxId(db: Db): Promise<number> {
  const row = await db.selectFrom('outbox').select((eb) => eb.fn.max('id').as('max')).executeTakeFirst()
  return Number(row?.max ?? 0)
}

/** Kinds kept past the retention: what the console still reads (settlement-failed alerts until acknowledged). */
const OUTBOX_KEPT_KINDS = ['session.settlement-failed']

/**
 * Deletes outbox events created before `before`, oldest first, in batches of
 * `batch` rows, at most `maxBatches` of them per call; returns how many went.
 * The outbox is a feed (console, GET /v1/events), not the record: sessions
 * and the ledger are. Pump-state ticks make it grow with every session.
 *
 * @example await purgeOutbox(db, new Date(Date.now() - 7 * 86_400_000))
 */
export async function purgeOutbox(db: Db, before: Date, opts: { batch?: number; maxBatches?: number } = {}): Promise<number> {
  const batch = opts.batch ?? 5000
  // The first id still inside the retention (ids follow creation): rows below
  // it are scanned by the primary key, so a purge that finds nothing is cheap.
  const boundary = await sql<{ id: number | null }>`
    SELECT coalesce(
      (SELECT id FROM outbox WHERE created_at >= ${before} ORDER BY id LIMIT 1),
      (SELECT max(id) + 1 FROM outbox)) AS id`.execute(db)
  const below = boundary.rows[0]?.id
  if (below === null || below === undefined) return 0
  let total = 0
  for (let i = 0; i < (opts.maxBatches ?? 50); i++) {
    const r = await sql`
      DELETE FROM outbox WHERE id IN (
        SELECT id FROM outbox WHERE id < ${below} AND created_at < ${before} AND kind <> ALL(${OUTBOX_KEPT_KINDS}::text[])
        ORDER BY id LIMIT ${batch})`.execute(db)
    const n = Number(r.numAffectedRows ?? 0)
    total += n
    if (n < batch) break
  }
  return total
}
