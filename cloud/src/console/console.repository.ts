import { sql } from 'kysely'
import type { Db } from '../db/database.ts'
import type { SessionRow } from '../sessions/session.repository.ts'
import { stationPumps } from '../stations/station.repository.ts'
import type { ConsoleAuditTable, ConsoleDb } from './console.schema.ts'

/**
 * The console's reads and writes, every one scoped by operator: a station,
 * pump or session of another operator reads as absent. Plain functions over
 * `(db, ...)`; the cloud's own repositories are reused where they fit.
 */

export function findOperator(db: Db, operatorId: string) {
  return db.selectFrom('operators').select(['id', 'name']).where('id', '=', operatorId).executeTakeFirst()
}

/** Whether the operator's API key is still the one with this hash (re-provisioning an operator replaces it). */
export async function operatorKeyCurrent(db: Db, operatorId: string, apiKeyHash: string): Promise<boolean> {
  const row = await db.selectFrom('operators').select('id').where('id', '=', operatorId).where('api_key_hash', '=', apiKeyHash).executeTakeFirst()
  return row !== undefined
}

export interface StationRowWithStatus {
  id: string
  name: string
  currency: string
  volume_unit: 'L' | 'gal'
  online: boolean | null
  backlog: number | null
  status_at: Date | null
}

/** The operator's stations with their last reported status (bounded: a console shows at most `limit`). */
export function operatorStations(db: Db, operatorId: string, limit = 500): Promise<StationRowWithStatus[]> {
  return db
    .selectFrom('stations')
    .leftJoin('station_status', 'station_status.station_id', 'stations.id')
    .select([
      'stations.id',
      'stations.name',
      'stations.currency',
      'stations.volume_unit',
      'station_status.online',
      'station_status.backlog',
      'station_status.updated_at as status_at',
    ])
    .where('stations.operator_id', '=', operatorId)
    .orderBy('stations.id')
    .limit(limit)
    .execute()
}

/** One station, only when it is the operator's. */
export function operatorStation(db: Db, operatorId: string, stationId: string) {
  return db
    .selectFrom('stations')
    .select(['id', 'operator_id', 'currency', 'volume_unit', 'name'])
    .where('id', '=', stationId)
    .where('operator_id', '=', operatorId)
    .executeTakeFirst()
}

export { stationPumps }

export function pumpStatuses(db: Db, stationIds: string[]) {
  if (stationIds.length === 0) return Promise.resolve([])
  return db.selectFrom('pump_status').selectAll().where('station_id', 'in', stationIds).execute()
}

export const OPEN_STATES = ['requested', 'held', 'pump_authorized', 'fueling', 'completed']

/** Open sessions and the most recent settled ones, newest first. */
export async function consoleSessions(db: Db, operatorId: string, recent = 25): Promise<SessionRow[]> {
  const open = await db
    .selectFrom('sessions')
    .selectAll()
    .where('operator_id', '=', operatorId)
    .where('settled_at', 'is', null)
    .where('state', 'in', OPEN_STATES)
    .orderBy('created_at', 'desc')
    .limit(500)
    .execute()
  const settled = await db
    .selectFrom('sessions')
    .selectAll()
    .where('operator_id', '=', operatorId)
    .where('settled_at', 'is not', null)
    .orderBy('settled_at', 'desc')
    .limit(recent)
    .execute()
  const seen = new Set(open.map((s) => s.id))
  return [...open, ...settled.filter((s) => !seen.has(s.id))]
}

export function operatorSession(db: Db, operatorId: string, sessionId: string) {
  return db.selectFrom('sessions').selectAll().where('id', '=', sessionId).where('operator_id', '=', operatorId).executeTakeFirst()
}

export async function sessionLedger(db: Db, sessionId: string) {
  const entries = await db
    .selectFrom('journal_entries')
    .select(['id', 'kind', 'currency', 'created_at'])
    .where('session_id', '=', sessionId)
    .orderBy('id')
    .limit(32)
    .execute()
  if (entries.length === 0) return []
  const postings = await db
    .selectFrom('postings')
    .select(['entry_id', 'ledger_account', 'amount_minor'])
    .where(
      'entry_id',
      'in',
      entries.map((e) => e.id),
    )
    .orderBy('id')
    .execute()
  return entries.map((e) => ({
    ...e,
    postings: postings.filter((p) => Number(p.entry_id) === Number(e.id)),
  }))
}

/** Sessions an alert may be about: stuck before fuel flowed, or settlement decided but unfinished. */
export function alertSessions(db: Db, operatorIds: string[], stuckBefore: Date, settleBefore: Date) {
  if (operatorIds.length === 0) return Promise.resolve([])
  return db
    .selectFrom('sessions')
    .select(['id', 'operator_id', 'station_id', 'pump', 'state', 'settle_action', 'created_at', 'updated_at'])
    .where('operator_id', 'in', operatorIds)
    .where('settled_at', 'is', null)
    .where((eb) =>
      eb.or([
        eb.and([eb('state', 'in', ['held', 'pump_authorized']), eb('settle_action', 'is', null), eb('created_at', '<', stuckBefore)]),
        eb.and([eb('settle_action', 'is not', null), eb('updated_at', '<', settleBefore)]),
      ]),
    )
    .orderBy('created_at')
    .limit(500)
    .execute()
}

/**
 * Declined late captures the operators have not acknowledged, of sessions not
 * since captured: the newest `session.settlement-failed` event per session
 * (partial index console_outbox_settlement_failed).
 */
export async function settlementFailures(db: ConsoleDb, operatorIds: string[], limit = 500) {
  if (operatorIds.length === 0) return []
  const rows = await db
    .selectFrom('outbox as o')
    .innerJoin('sessions as s', (j) => j.onRef('s.id', '=', 'o.aggregate_id').onRef('s.operator_id', '=', 'o.operator_id'))
    .leftJoin('console_alert_acks as a', (j) => j.on(sql<boolean>`a.alert_id = 'settlement-failed:' || o.aggregate_id`))
    .select(['o.id', 'o.operator_id', 'o.aggregate_id', 'o.payload', 'o.created_at', 's.station_id', 's.pump', 's.currency'])
    .where('o.kind', '=', 'session.settlement-failed')
    .where('o.operator_id', 'in', operatorIds)
    .where('s.state', '<>', 'captured')
    .where(sql<boolean>`o.id > coalesce(a.event_id, 0)`)
    .orderBy('o.id', 'desc')
    .limit(limit)
    .execute()
  const seen = new Set<string>()
  return rows.flatMap((r) => {
    if (seen.has(r.aggregate_id)) return []
    seen.add(r.aggregate_id)
    return [
      {
        operatorId: r.operator_id as string,
        eventId: Number(r.id),
        sessionId: r.aggregate_id,
        stationId: r.station_id,
        pump: Number(r.pump),
        currency: r.currency,
        payload: r.payload,
        createdAt: r.created_at,
      },
    ]
  })
}

/** Records an operator's acknowledgement of an alert up to outbox event `eventId`. */
export async function acknowledgeAlert(
  db: ConsoleDb,
  row: { alertId: string; operatorId: string; sessionId: string | null; eventId: number; auditId: number | null },
): Promise<void> {
  await db
    .insertInto('console_alert_acks')
    .values({ alert_id: row.alertId, operator_id: row.operatorId, session_id: row.sessionId, event_id: row.eventId, audit_id: row.auditId })
    .onConflict((oc) =>
      oc.column('alert_id').doUpdateSet({
        event_id: sql<number>`greatest(console_alert_acks.event_id, excluded.event_id)`,
        audit_id: sql<number>`excluded.audit_id`,
        acknowledged_at: sql<Date>`now()`,
      }),
    )
    .execute()
}

/** Station and pump status of the given operators' stations, for alerts. */
export async function alertStatuses(db: Db, operatorIds: string[]) {
  if (operatorIds.length === 0) return { stations: [], pumps: [] }
  const stations = await db
    .selectFrom('stations')
    .innerJoin('station_status', 'station_status.station_id', 'stations.id')
    .select(['stations.id', 'stations.operator_id', 'station_status.online', 'station_status.backlog', 'station_status.updated_at'])
    .where('stations.operator_id', 'in', operatorIds)
    .execute()
  const pumps = await db
    .selectFrom('pump_status')
    .innerJoin('stations', 'stations.id', 'pump_status.station_id')
    .select(['stations.operator_id', 'pump_status.station_id', 'pump_status.pump', 'pump_status.state', 'pump_status.payload', 'pump_status.updated_at'])
    .where('stations.operator_id', 'in', operatorIds)
    .where('pump_status.state', 'in', ['fault'])
    .execute()
  return { stations, pumps }
}

/** Whether the operator's station has this pump. */
export async function operatorPump(db: Db, operatorId: string, stationId: string, pump: number) {
  return db
    .selectFrom('pumps')
    .innerJoin('stations', 'stations.id', 'pumps.station_id')
    .select(['pumps.station_id', 'pumps.pump', 'pumps.in_service'])
    .where('stations.operator_id', '=', operatorId)
    .where('pumps.station_id', '=', stationId)
    .where('pumps.pump', '=', pump)
    .executeTakeFirst()
}

/** Pumps of a station currently selling a grade (newest price row not withdrawn). */
export async function pumpsSellingGrade(db: Db, stationId: string, grade: string): Promise<number[]> {
  const rows = await sql<{ pump: number; unit_price_milli: number | null }>`
    SELECT DISTINCT ON (pump) pump, unit_price_milli FROM pump_prices
    WHERE station_id = ${stationId} AND grade = ${grade}
    ORDER BY pump, id DESC`.execute(db)
  return rows.rows.filter((r) => r.unit_price_milli !== null).map((r) => Number(r.pump))
}

export async function insertPrices(db: Db, stationId: string, pumps: number[], grade: string, unitPriceMilli: number): Promise<void> {
  if (pumps.length === 0) return
  await db
    .insertInto('pump_prices')
    .values(pumps.map((pump) => ({ station_id: stationId, pump, grade, unit_price_milli: unitPriceMilli })))
    .execute()
}

export async function insertAudit(
  db: ConsoleDb,
  row: Pick<ConsoleAuditTable, 'operator_id' | 'command' | 'client_request_id' | 'station_id' | 'pump' | 'session_id' | 'remote_address'> & {
    request: Record<string, unknown>
  },
): Promise<number> {
  const r = await db
    .insertInto('console_audit')
    .values({ ...row, request: JSON.stringify(row.request), outcome: 'pending' })
    .returning('id')
    .executeTakeFirstOrThrow()
  return Number(r.id)
}

export async function completeAudit(
  db: ConsoleDb,
  id: number,
  done: { ok: boolean; reasonCode?: string | undefined; reasonMessage?: string | undefined; stationCommandId?: string | undefined },
): Promise<void> {
  await db
    .updateTable('console_audit')
    .set({
      outcome: done.ok ? 'ok' : 'refused',
      reason_code: done.reasonCode ?? null,
      reason_message: done.reasonMessage?.slice(0, 500) ?? null,
      station_command_id: done.stationCommandId ?? null,
      answered_at: new Date(),
    })
    .where('id', '=', id)
    .execute()
}

export function listAudit(db: ConsoleDb, operatorId: string, limit = 100) {
  return db.selectFrom('console_audit').selectAll().where('operator_id', '=', operatorId).orderBy('id', 'desc').limit(limit).execute()
}
