import type { Selectable } from 'kysely'
import type { Db, FleetTable } from '../db/database.ts'
import { refuse } from '../errors/errors.ts'

export interface FleetInput {
  id: string
  accountId: string
  name: string
  limitCurrency?: string | undefined
  perTransactionLimitMinor?: number | undefined
  dailyLimitMinor?: number | undefined
  monthlyLimitMinor?: number | undefined
  allowedGrades?: string[] | undefined
  allowedStationIds?: string[] | undefined
  allowedOperatorIds?: string[] | undefined
  hoursFromMin?: number | undefined
  hoursToMin?: number | undefined
  utcOffsetMin?: number | undefined
  voiceCodeRequired?: boolean | undefined
}

const json = (v: string[] | undefined) => (v === undefined ? null : JSON.stringify(v))

/**
 * Creates or updates a fleet. A fleet of another account is refused
 * FORBIDDEN by the upsert itself, so two registrations racing for one new
 * id cannot both win.
 */
export async function upsertFleet(db: Db, f: FleetInput): Promise<void> {
  const values = {
    account_id: f.accountId,
    name: f.name,
    limit_currency: f.limitCurrency ?? null,
    per_transaction_limit_minor: f.perTransactionLimitMinor ?? null,
    daily_limit_minor: f.dailyLimitMinor ?? null,
    monthly_limit_minor: f.monthlyLimitMinor ?? null,
    allowed_grades: json(f.allowedGrades),
    allowed_station_ids: json(f.allowedStationIds),
    allowed_operator_ids: json(f.allowedOperatorIds),
    hours_from_min: f.hoursFromMin ?? null,
    hours_to_min: f.hoursToMin ?? null,
    utc_offset_min: f.utcOffsetMin ?? 0,
    voice_code_required: f.voiceCodeRequired ?? false,
  }
  const mine = await db
    .insertInto('fleets')
    .values({ id: f.id, ...values })
    .onConflict((oc) => oc.column('id').doUpdateSet(values).where('fleets.account_id', '=', f.accountId))
    .returning('id')
    .executeTakeFirst()
  if (!mine) throw refuse('FORBIDDEN', 'fleet belongs to another account')
}

export function findFleet(db: Db, id: string) {
  return db.selectFrom('fleets').selectAll().where('id', '=', id).executeTakeFirst()
}

export type FleetRow = Selectable<FleetTable>
