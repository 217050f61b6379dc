import { generateSigningKey } from '@fuelpay/proto'
import t from 'tap'
import { ADMIN, call, makeCloud, provision } from '../helpers.ts'

/**
 * Two registrations of one new id for two tenants at once: exactly one gets
 * it, the other is refused, and the winner's row is never handed over.
 */
t.test('concurrent registrations of one id for two tenants: one wins, the other is refused', async (t) => {
  const cloud = await makeCloud(t)
  const { app, db } = cloud
  const a = await provision(cloud)
  const b = await provision(cloud)
  const post = (url: string, payload: object) => call(app, { method: 'POST', url, auth: ADMIN, payload })

  for (let i = 0; i < 8; i++) {
    const [ka, kb] = [await generateSigningKey(`ka${i}`), await generateSigningKey(`kb${i}`)]
    const vehicles = await Promise.all([
      post('/v1/admin/vehicles', { id: `race-car-${i}`, accountId: a.accountId, publicJwk: ka.publicJwk }),
      post('/v1/admin/vehicles', { id: `race-car-${i}`, accountId: b.accountId, publicJwk: kb.publicJwk }),
    ])
    t.same(vehicles.map((r) => r.status).sort(), [201, 403], `vehicle ${i}: ${vehicles.map((r) => r.raw).join(' ')}`)
    const winner = vehicles[0]?.status === 201 ? 'ka' : 'kb'
    const keys = await db.selectFrom('vehicle_keys').select('kid').where('vehicle_id', '=', `race-car-${i}`).execute()
    t.same(keys.map((k) => k.kid), [`${winner}${i}`], "the loser's key is not paired to the winner's vehicle")

    const fleets = await Promise.all([
      post('/v1/admin/fleets', { id: `race-fleet-${i}`, accountId: a.accountId, name: 'A' }),
      post('/v1/admin/fleets', { id: `race-fleet-${i}`, accountId: b.accountId, name: 'B' }),
    ])
    t.same(fleets.map((r) => r.status).sort(), [201, 403], `fleet ${i}`)
    const fleet = await db.selectFrom('fleets').select(['account_id', 'name']).where('id', '=', `race-fleet-${i}`).executeTakeFirstOrThrow()
    t.equal(fleet.name, fleet.account_id === a.accountId ? 'A' : 'B', 'the fleet is as its owner made it')

    const sk = [await generateSigningKey(`sa${i}`), await generateSigningKey(`sb${i}`)]
    const stations = await Promise.all(
      [a, b].map((w, j) =>
        post('/v1/admin/stations', {
          id: `race-st-${i}`,
          operatorId: w.operatorId,
          name: `S${j}`,
          lat: 1,
          lon: 1,
          geofenceRadiusM: 50,
          currency: 'EUR',
          volumeUnit: 'L',
          publicJwk: sk[j]?.publicJwk,
          pumps: [{ pump: 1, grades: [{ grade: 'diesel', unitPriceMilli: 1000 }] }],
        }),
      ),
    )
    t.same(stations.map((r) => r.status).sort(), [201, 403], `station ${i}: ${stations.map((r) => r.raw).join(' ')}`)
    const stationKeys = await db.selectFrom('station_keys').select('kid').where('station_id', '=', `race-st-${i}`).execute()
    t.equal(stationKeys.length, 1, "the loser's key is not paired to the winner's station")
  }
})
