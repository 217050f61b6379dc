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
