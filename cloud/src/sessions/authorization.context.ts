import { sql } from 'kysely'
import type { Selectable } from 'kysely'
import type { Db, Tables } from '../db/database.ts'
import type { PumpView } from '../stations/station.repository.ts'

type Row<T extends keyof Tables> = Omit<Selectable<Tables[T]>, 'created_at'>

/** Everything a fuel authorization checks before the hold, read in one statement. */
export interface AuthorizationContext {
  station: Row<'stations'> | undefined
  pump: PumpView | undefined
  account: Row<'accounts'> | undefined
  fleet: Row<'fleets'> | undefined
  methods: Row<'payment_methods'>[]
  /** The vehicle's spend today and this month (fleet vehicles only; zero otherwise). */
  usage: { dayMinor: number; monthMinor: number }
}

/**
 * Reads the station, the asked pump with its current prices, the account,
 * the fleet, the account's payment methods and, for a fleet vehicle, its
 * spend so far, in one round trip. On this machine each statement costs the
 * cloud about 0.2 ms of CPU in the socket write alone, so six parallel
 * reads cost six times one (BENCHMARKS.md, section 2).
 *
 * Rows come back through to_jsonb: numbers stay numbers (bigint amounts are
 * far below 2^53), jsonb columns stay parsed, and `created_at` is left out
 * (nothing here needs it). Payment methods keep their order: the default
 * first, then oldest first.
 *
 * @example const ctx = await authorizationContext(db, { stationId: 'st1', pump: 4, accountId: 'acc1', fleetId: null, vehicleId: 'car1', day, month })
 */
export async function authorizationContext(db: Db, q: ContextQuery): Promise<AuthorizationContext> {
  const r = await sql<{ ctx: unknown }>`SELECT ${authorizationContextRead(q)} AS ctx`.execute(db)
  return parseAuthorizationContext(r.rows[0]?.ctx)
}

export interface ContextQuery {
  stationId: string
  pump: number
  accountId: string
  fleetId: string | null
  vehicleId: string
  day: Date
  month: Date
}

/**
 * The same read as one scalar subquery (a jsonb object), to ride in another
 * statement: the idempotency claim's (route config `prefetch`).
 */
export function authorizationContextRead(q: ContextQuery) {
  return sql`(SELECT to_jsonb(c) FROM (
    SELECT
      (SELECT to_jsonb(s) - 'created_at' FROM stations s WHERE s.id = ${q.stationId}::text) AS station,
      (SELECT jsonb_build_object(
          'pump', p.pump,
          'inService', p.in_service,
          'grades', (
            SELECT coalesce(jsonb_agg(jsonb_build_object('grade', c.grade, 'unitPriceMilli', c.unit_price_milli) ORDER BY c.grade), '[]'::jsonb)
            FROM (
              SELECT DISTINCT ON (grade) grade, unit_price_milli FROM pump_prices
              WHERE station_id = p.station_id AND pump = p.pump ORDER BY grade, id DESC
            ) c
            WHERE c.unit_price_milli IS NOT NULL))
        FROM pumps p WHERE p.station_id = ${q.stationId}::text AND p.pump = ${q.pump}::int) AS pump,
      (SELECT to_jsonb(a) - 'created_at' FROM accounts a WHERE a.id = ${q.accountId}::text) AS account,
      (SELECT to_jsonb(f) - 'created_at' FROM fleets f WHERE f.id = ${q.fleetId}::text) AS fleet,
      (SELECT coalesce(jsonb_agg(to_jsonb(m) - 'created_at' ORDER BY m.is_default DESC, m.created_at), '[]'::jsonb)
        FROM payment_methods m WHERE m.account_id = ${q.accountId}::text) AS methods,
      CASE WHEN ${q.fleetId}::text IS NULL THEN NULL ELSE (${spendSql(q.vehicleId, q.day, q.month)}) END AS usage
  ) c)`
}

/** The read's jsonb object as the context the checks use. */
export function parseAuthorizationContext(ctx: unknown): AuthorizationContext {
  const row = (ctx ?? undefined) as
    | {
        station: Row<'stations'> | null
        pump: { pump: number; inService: boolean; grades: { grade: string; unitPriceMilli: number }[] } | null
        account: Row<'accounts'> | null
        fleet: Row<'fleets'> | null
        methods: Row<'payment_methods'>[] | null
        usage: { dayMinor: number | null; monthMinor: number | null } | null
      }
    | undefined
  return {
    station: row?.station ?? undefined,
    pump: row?.pump
      ? {
          pump: row.pump.pump,
          inService: row.pump.inService,
          grades: row.pump.grades.map((g) => ({ grade: g.grade, unitPriceMilli: Number(g.unitPriceMilli) })),
        }
      : undefined,
    account: row?.account ?? undefined,
    fleet: row?.fleet ?? undefined,
    methods: row?.methods ?? [],
    usage: { dayMinor: Number(row?.usage?.dayMinor ?? 0), monthMinor: Number(row?.usage?.monthMinor ?? 0) },
  }
}

/**
 * What a vehicle has spent today and this month, for its fleet's limits:
 * captured amounts of settled sessions, holds of open ones, and the
 * requested amount of a session whose hold is still being asked for (a
 * request in flight must take its room before the next one is checked).
 */
function spendSql(vehicleId: string, day: Date, month: Date) {
  const since = new Date(Math.min(day.getTime(), month.getTime()))
  const amount = sql`CASE WHEN state = 'requested' THEN requested_amount_minor WHEN settled_at IS NULL THEN hold_amount_minor ELSE captured_minor END`
  return sql`
        SELECT jsonb_build_object(
          'dayMinor', SUM(${amount}) FILTER (WHERE created_at >= ${day}::timestamptz),
          'monthMinor', SUM(${amount}) FILTER (WHERE created_at >= ${month}::timestamptz))
        FROM sessions WHERE vehicle_id = ${vehicleId}::text AND created_at >= ${since}::timestamptz
          AND state NOT IN ('declined', 'failed')`
}

/** The vehicle's spend (see spendSql), on its own: under the vehicle's row lock, before recording a session. */
export async function vehicleSpend(db: Db, vehicleId: string, day: Date, month: Date): Promise<{ dayMinor: number; monthMinor: number }> {
  const r = await sql<{ usage: { dayMinor: number | null; monthMinor: number | null } }>`SELECT (${spendSql(vehicleId, day, month)}) AS usage`.execute(db)
  const usage = r.rows[0]?.usage
  return { dayMinor: Number(usage?.dayMinor ?? 0), monthMinor: Number(usage?.monthMinor ?? 0) }
}
