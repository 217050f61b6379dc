import { sql } from 'kysely'
import t from 'tap'
import { authorizationContext, authorizationContextRead, parseAuthorizationContext } from '../../src/sessions/authorization.context.ts'
import { ADMIN, authorize, call, makeCloud, provision } from '../helpers.ts'

// The authorization's read runs two ways: on its own, and as a subquery in
// the idempotency claim's statement (route config prefetch). Both must give
// the same context, spend included.
t.test('the context read on its own and as a ride-along subquery agree', async (t) => {
  const cloud = await makeCloud(t)
  const w = await provision(cloud, { suffix: 'ctx' })
  const fleet = await call(cloud.app, { method: 'POST', url: '/v1/admin/fleets', auth: ADMIN, payload: { id: 'fleet-ctx', accountId: w.accountId, name: 'Vans', dailyLimitMinor: 50_000 } })
  t.equal(fleet.status, 201, fleet.raw)
  const day = new Date(cloud.clock.now)
  day.setUTCHours(0, 0, 0, 0)
  const month = new Date(Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), 1))
  const held = await authorize(cloud, w, { amountMinor: 2500 })
  t.equal(held.status, 201, held.raw)

  for (const q of [
    { stationId: w.stationId, pump: 1, accountId: w.accountId, fleetId: null, vehicleId: w.vehicleId, day, month },
    { stationId: w.stationId, pump: 2, accountId: w.accountId, fleetId: 'fleet-ctx', vehicleId: w.vehicleId, day, month },
    { stationId: 'no-such-station', pump: 9, accountId: 'no-such-account', fleetId: null, vehicleId: 'nobody', day, month },
  ]) {
    const alone = await authorizationContext(cloud.db, q)
    const r = await sql<{ ok: number; ride: unknown }>`SELECT 1 AS ok, ${authorizationContextRead(q)} AS ride`.execute(cloud.db)
    t.same(parseAuthorizationContext(r.rows[0]?.ride), alone, `same context for ${q.stationId} pump ${q.pump}, fleet ${q.fleetId}`)
  }
  const fleetCtx = await authorizationContext(cloud.db, { stationId: w.stationId, pump: 1, accountId: w.accountId, fleetId: 'fleet-ctx', vehicleId: w.vehicleId, day, month })
  t.equal(fleetCtx.usage.dayMinor, 2500, 'the open hold counts against the fleet limit')
  t.equal(fleetCtx.station?.id, w.stationId)
  t.equal(fleetCtx.pump?.grades.length, 2)
})
