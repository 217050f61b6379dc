import type { ExpressionBuilder, Insertable, Selectable, Updateable } from 'kysely'
import { sql } from 'kysely'
import type { Caller } from '../auth/caller.ts'
import type { Db, SessionTable, Tables } from '../db/database.ts'

export type SessionRow = Selectable<SessionTable>

/** Session states that never recorded a hold; while unsettled, the processor may still hold money for them. */
export const UNRECORDED_HOLD_STATES: string[] = ['failed', 'declined']

export async function insertSession(db: Db, row: Insertable<SessionTable>): Promise<boolean> {
  const r = await db
    .insertInto('sessions')
    .values(row)
    .onConflict((oc) => oc.column('id').doNothing())
    .returning('id')
    .executeTakeFirst()
  return r !== undefined
}

export function findSession(db: Db, id: string) {
  return db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst()
}

/** Reads a session under a row lock: the one way settlement code reads a session it may change. */
export function lockSession(db: Db, id: string) {
  return db.selectFrom('sessions').selectAll().where('id', '=', id).forUpdate().executeTakeFirst()
}

export async function updateSession(db: Db, id: string, patch: Updateable<SessionTable>): Promise<void> {
  await db
    .updateTable('sessions')
    .set({ ...patch, updated_at: sql`now()` as unknown as Date })
    .where('id', '=', id)
    .execute()
}

/** Updates a session and returns the row as written (no second read). */
export async function updateSessionReturning(db: Db, id: string, patch: Updateable<SessionTable>): Promise<SessionRow> {
  return db
    .updateTable('sessions')
    .set({ ...patch, updated_at: sql`now()` as unknown as Date })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow()
}

/**
 * Tenant isolation for session reads, in one place: a vehicle sees its own
 * sessions (not those of other cars on its account: a fleet car must not
 * follow or cancel another's), a station its own, an operator its
 * stations', an admin all.
 */
function ownedBy(caller: Caller) {
  return (eb: ExpressionBuilder<Tables, 'sessions'>) => {
    switch (caller.role) {
      case 'vehicle':
        return eb('vehicle_id', '=', caller.id)
      case 'station':
        return eb('station_id', '=', caller.id)
      case 'operator':
        return eb('operator_id', '=', caller.id)
      case 'admin':
        return eb.lit(true)
    }
  }
}

/**
 * A session as the caller may see it: a vehicle its account's, a station
 * its own, an operator its stations'. Another tenant's id reads as absent.
 */
export function findSessionForCaller(db: Db, id: string, caller: Caller) {
  return db.selectFrom('sessions').selectAll().where('id', '=', id).where(ownedBy(caller)).executeTakeFirst()
}

/** A page of the caller's sessions, newest first; `before` is the previous page's cursor. */
export function listSessionsForCaller(
  db: Db,
  caller: Caller,
  opts: { limit: number; before?: { createdAt: Date; id: string } | undefined; stationId?: string | undefined },
) {
  let q = db.selectFrom('sessions').selectAll().where(ownedBy(caller))
  if (opts.stationId) q = q.where('station_id', '=', opts.stationId)
  if (opts.before) {
    const b = opts.before
    q = q.where((eb) =>
      eb.or([eb('created_at', '<', b.createdAt), eb.and([eb('created_at', '=', b.createdAt), eb('id', '<', b.id)])]),
    )
  }
  return q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(opts.limit).execute()
}

/** What a vehicle has committed since a time: open holds in full, settled sessions as captured. */
export async function vehicleSpendSince(db: Db, vehicleId: string, since: Date): Promise<number> {
  const r = await sql<{ total: number | null }>`
    SELECT SUM(CASE WHEN settled_at IS NULL THEN hold_amount_minor ELSE captured_minor END) AS total
    FROM sessions WHERE vehicle_id = ${vehicleId} AND created_at >= ${since}
      AND state NOT IN ('declined', 'failed', 'requested')`.execute(db)
  return Number(r.rows[0]?.total ?? 0)
}

/**
 * Sessions whose hold has outlived its time, whose settlement was decided but
 * not finished, or that may have a processor hold they never recorded.
 */
export function sessionsDue(db: Db, now: Date, limit: number, unrecordedRetryMs: number) {
  return db
    .selectFrom('sessions')
    .select(['id'])
    .where('settled_at', 'is', null)
    .where((eb) =>
      eb.or([
        // Undecided only: a decided one (a cancel or a zero sale leaves the state open) waits out its backoff below.
        eb.and([eb('hold_expires_at', '<', now), eb('state', 'in', ['held', 'pump_authorized', 'fueling']), eb('settle_action', 'is', null)]),
        // Decided, not yet carried out: unless the last tries failed and the next is not due.
        eb.and([eb('settle_action', 'is not', null), eb.or([eb('settle_next_at', 'is', null), eb('settle_next_at', '<=', now)])]),
        eb.and([eb('state', '=', 'requested'), eb('created_at', '<', new Date(now.getTime() - 5 * 60_000))]),
        // A hold the processor may have placed but the session never recorded
        // (authorization.service.ts), asked about again every few minutes.
        eb.and([eb('state', 'in', UNRECORDED_HOLD_STATES), eb('updated_at', '<', new Date(now.getTime() - unrecordedRetryMs))]),
      ]),
    )
    // Those last: a processor that stays unsure must not keep the sweeper from expiring holds.
    .orderBy((eb) => eb('state', 'in', UNRECORDED_HOLD_STATES))
    .orderBy('created_at')
    .limit(limit)
    .execute()
}
