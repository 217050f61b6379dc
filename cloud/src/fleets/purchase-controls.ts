import { fail, ok, type Result } from '@fuelpay/proto'
import type { FleetRow } from './fleet.repository.ts'

/**
 * A fleet's purchase controls as a pure function: given the request and what
 * the vehicle already spent, the amount to hold or the reason to refuse.
 * An amount the driver named is refused when over a limit; the default
 * amount is lowered to fit instead (a driver who said nothing should still
 * be able to buy what the rules allow).
 *
 * @example checkControls({ fleet, stationId: 's1', operatorId: 'op1', grades: ['diesel'], amountMinor: 8000, explicitAmount: true, currency: 'EUR', usage: { dayMinor: 0, monthMinor: 0 }, nowMs })
 */
export interface ControlInput {
  /** The fleet's controls (its creation time plays no part). */
  fleet: Omit<FleetRow, 'created_at'> | undefined
  stationId: string
  operatorId: string
  grades: string[]
  amountMinor: number
  explicitAmount: boolean
  currency: string
  usage: { dayMinor: number; monthMinor: number }
  nowMs: number
}

export function checkControls(input: ControlInput): Result<{ amountMinor: number; grades: string[] }> {
  const f = input.fleet
  if (!f) return ok({ amountMinor: input.amountMinor, grades: input.grades })
  if (f.allowed_station_ids && !f.allowed_station_ids.includes(input.stationId)) return fail('STATION_NOT_PERMITTED')
  if (f.allowed_operator_ids && !f.allowed_operator_ids.includes(input.operatorId)) return fail('STATION_NOT_PERMITTED')
  if (f.hours_from_min !== null && f.hours_to_min !== null) {
    const minute = (((Math.floor(input.nowMs / 60_000) + f.utc_offset_min) % 1440) + 1440) % 1440
    const from = f.hours_from_min
    const to = f.hours_to_min
    // A window may wrap midnight (22:00-06:00).
    const inside = from <= to ? minute >= from && minute < to : minute >= from || minute < to
    if (!inside) return fail('OUTSIDE_HOURS')
  }
  let grades = input.grades
  if (f.allowed_grades) {
    grades = grades.filter((g) => f.allowed_grades?.includes(g))
    if (grades.length === 0) return fail('GRADE_NOT_PERMITTED')
  }
  const limitsApply = !f.limit_currency || f.limit_currency === input.currency
  if (!limitsApply) return fail('CURRENCY_MISMATCH', 'fleet limits are in another currency')
  let amount = input.amountMinor
  const caps: [number | null, number, 'LIMIT_TRANSACTION' | 'LIMIT_DAILY' | 'LIMIT_MONTHLY'][] = [
    [f.per_transaction_limit_minor, 0, 'LIMIT_TRANSACTION'],
    [f.daily_limit_minor, input.usage.dayMinor, 'LIMIT_DAILY'],
    [f.monthly_limit_minor, input.usage.monthMinor, 'LIMIT_MONTHLY'],
  ]
  for (const [limit, used, code] of caps) {
    if (limit === null) continue
    const room = limit - used
    if (room <= 0) return fail(code)
    if (amount > room) {
      if (input.explicitAmount) return fail(code)
      amount = room
    }
  }
  return ok({ amountMinor: amount, grades })
}
