import t from 'tap'
import type { FleetRow } from '../../src/fleets/fleet.repository.ts'
import { checkControls } from '../../src/fleets/purchase-controls.ts'

const fleet = (o: Partial<FleetRow> = {}): FleetRow => ({
  id: 'f1',
  account_id: 'a1',
  name: 'F',
  limit_currency: 'EUR',
  per_transaction_limit_minor: null,
  daily_limit_minor: null,
  monthly_limit_minor: null,
  allowed_grades: null,
  allowed_station_ids: null,
  allowed_operator_ids: null,
  hours_from_min: null,
  hours_to_min: null,
  utc_offset_min: 0,
  voice_code_required: false,
  created_at: new Date(),
  ...o,
})
const base = { stationId: 's1', operatorId: 'o1', grades: ['diesel', 'unleaded95'], amountMinor: 8000, explicitAmount: true, currency: 'EUR', usage: { dayMinor: 0, monthMinor: 0 }, nowMs: Date.UTC(2025, 0, 1, 12, 0) }
const code = (r: ReturnType<typeof checkControls>) => (r.ok ? 'ok' : r.reason.code)

t.test('limits: named amounts are refused, default amounts are lowered', async (t) => {
  t.equal(code(checkControls({ ...base, fleet: undefined })), 'ok')
  t.equal(code(checkControls({ ...base, fleet: fleet({ per_transaction_limit_minor: 5000 }) })), 'LIMIT_TRANSACTION')
  const lowered = checkControls({ ...base, explicitAmount: false, fleet: fleet({ per_transaction_limit_minor: 5000 }) })
  t.same(lowered.ok && lowered.value.amountMinor, 5000)
  t.equal(code(checkControls({ ...base, fleet: fleet({ daily_limit_minor: 10000 }), usage: { dayMinor: 3000, monthMinor: 3000 } })), 'LIMIT_DAILY')
  t.equal(code(checkControls({ ...base, fleet: fleet({ daily_limit_minor: 10000 }), usage: { dayMinor: 10000, monthMinor: 0 }, explicitAmount: false })), 'LIMIT_DAILY')
  t.equal(code(checkControls({ ...base, fleet: fleet({ monthly_limit_minor: 9000 }), usage: { dayMinor: 0, monthMinor: 2000 } })), 'LIMIT_MONTHLY')
  t.equal(code(checkControls({ ...base, currency: 'USD', fleet: fleet({ daily_limit_minor: 9000 }) })), 'CURRENCY_MISMATCH')
})

t.test('grades, stations, operators, hours', async (t) => {
  const g = checkControls({ ...base, fleet: fleet({ allowed_grades: ['diesel'] }) })
  t.same(g.ok && g.value.grades, ['diesel'])
  t.equal(code(checkControls({ ...base, grades: ['unleaded95'], fleet: fleet({ allowed_grades: ['diesel'] }) })), 'GRADE_NOT_PERMITTED')
  t.equal(code(checkControls({ ...base, fleet: fleet({ allowed_station_ids: ['s2'] }) })), 'STATION_NOT_PERMITTED')
  t.equal(code(checkControls({ ...base, fleet: fleet({ allowed_operator_ids: ['o2'] }) })), 'STATION_NOT_PERMITTED')
  t.equal(code(checkControls({ ...base, fleet: fleet({ hours_from_min: 6 * 60, hours_to_min: 18 * 60 }) })), 'ok')
  t.equal(code(checkControls({ ...base, fleet: fleet({ hours_from_min: 13 * 60, hours_to_min: 18 * 60 }) })), 'OUTSIDE_HOURS')
  t.equal(code(checkControls({ ...base, fleet: fleet({ hours_from_min: 22 * 60, hours_to_min: 6 * 60, utc_offset_min: 11 * 60 }) })), 'ok', 'a window across midnight, in local time')
  t.equal(code(checkControls({ ...base, fleet: fleet({ hours_from_min: 22 * 60, hours_to_min: 6 * 60 }) })), 'OUTSIDE_HOURS')
})
