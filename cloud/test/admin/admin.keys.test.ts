import { generateSigningKey } from '@fuelpay/proto'
import t from 'tap'
import { ADMIN, call, makeCloud, provision, stationAuth, vehicleAuth } from '../helpers.ts'

const stationBody = (w: Awaited<ReturnType<typeof provision>>, publicJwk: object) => ({
  id: w.stationId,
  operatorId: w.operatorId,
  name: 'Station',
  lat: w.lat,
  lon: w.lon,
  geofenceRadiusM: 80,
  currency: 'EUR',
  volumeUnit: 'L',
  publicJwk,
  pumps: [{ pump: 1, grades: [{ grade: 'diesel', unitPriceMilli: 1799 }] }],
})

t.test('provisioning again with a paired kid: the same key is a no-op, another key or a revoked one is refused', async (t) => {
  const cloud = await makeCloud(t)
  const { app, db } = cloud
  const w = await provision(cloud)
  const credentials = async (auth: string) => (await call(app, { method: 'POST', url: '/v1/mqtt-credentials', auth })).status

  // The same key under its kid again: provisioning scripts may run again.
  const sameVehicle = await call(app, { method: 'POST', url: '/v1/admin/vehicles', auth: ADMIN, payload: { id: w.vehicleId, accountId: w.accountId, publicJwk: w.vehicleKey.publicJwk } })
  t.equal(sameVehicle.status, 201, sameVehicle.raw)
  t.equal((await call(app, { method: 'POST', url: '/v1/admin/stations', auth: ADMIN, payload: stationBody(w, w.stationKey.publicJwk) })).status, 201)

  // Another key under a paired kid would silently replace it (and void every sale the station signed but has not delivered).
  const vehicleImpostor = await generateSigningKey(w.vehicleKey.kid)
  const v = await call(app, { method: 'POST', url: '/v1/admin/vehicles', auth: ADMIN, payload: { id: w.vehicleId, accountId: w.accountId, publicJwk: vehicleImpostor.publicJwk, name: 'renamed' } })
  t.equal(v.status, 403, v.raw)
  t.equal(v.body.error.code, 'FORBIDDEN')
  const stationImpostor = await generateSigningKey(w.stationKey.kid)
  const s = await call(app, { method: 'POST', url: '/v1/admin/stations', auth: ADMIN, payload: { ...stationBody(w, stationImpostor.publicJwk), name: 'renamed' } })
  t.equal(s.status, 403, s.raw)
  t.equal(s.body.error.code, 'FORBIDDEN')
  t.equal(await credentials(await vehicleAuth(w)), 200, 'the paired vehicle key still works')
  t.equal(await credentials(await stationAuth(w)), 200, 'the paired station key still works')
  t.equal(await credentials(await vehicleAuth({ ...w, vehicleKey: vehicleImpostor })), 401, 'the other vehicle key was not paired')
  t.equal(await credentials(await stationAuth({ ...w, stationKey: stationImpostor })), 401, 'the other station key was not paired')
  t.equal((await db.selectFrom('vehicles').select('name').where('id', '=', w.vehicleId).executeTakeFirstOrThrow()).name, null, 'the refused request changed nothing')
  t.equal((await db.selectFrom('stations').select('name').where('id', '=', w.stationId).executeTakeFirstOrThrow()).name, 'Station')

  // A revoked key stays revoked, whoever provisions it again.
  await db.updateTable('vehicle_keys').set({ revoked_at: new Date() }).where('vehicle_id', '=', w.vehicleId).execute()
  await db.updateTable('station_keys').set({ revoked_at: new Date() }).where('station_id', '=', w.stationId).execute()
  t.equal(await credentials(await vehicleAuth(w)), 401)
  const revivedVehicle = await call(app, { method: 'POST', url: '/v1/admin/vehicles', auth: ADMIN, payload: { id: w.vehicleId, accountId: w.accountId, publicJwk: w.vehicleKey.publicJwk } })
  t.equal(revivedVehicle.status, 403, revivedVehicle.raw)
  t.equal(revivedVehicle.body.error.code, 'FORBIDDEN')
  const revivedStation = await call(app, { method: 'POST', url: '/v1/admin/stations', auth: ADMIN, payload: stationBody(w, w.stationKey.publicJwk) })
  t.equal(revivedStation.status, 403, revivedStation.raw)
  t.equal(await credentials(await vehicleAuth(w)), 401, 'the revoked vehicle key is still refused')
  t.equal(await credentials(await stationAuth(w)), 401, 'the revoked station key is still refused')
  t.same((await call(app, { method: 'GET', url: `/v1/stations/${w.stationId}/jwks` })).body.error?.code, 'UNKNOWN_STATION', 'nor published')

  // A new kid pairs a new key (rotation).
  const next = await generateSigningKey(`${w.vehicleKey.kid}-2`)
  t.equal((await call(app, { method: 'POST', url: '/v1/admin/vehicles', auth: ADMIN, payload: { id: w.vehicleId, accountId: w.accountId, publicJwk: next.publicJwk } })).status, 201)
  t.equal(await credentials(await vehicleAuth({ ...w, vehicleKey: next })), 200)
})

t.test('revoking a vehicle or station key: it stops authenticating at once; others of the same principal go on', async (t) => {
  const cloud = await makeCloud(t)
  const { app } = cloud
  const w = await provision(cloud)
  const other = await provision(cloud)
  const credentials = async (auth: string) => (await call(app, { method: 'POST', url: '/v1/mqtt-credentials', auth })).status
  const revoke = (kind: string, id: string, kid: string, auth = ADMIN) => call(app, { method: 'POST', url: `/v1/admin/${kind}/${id}/keys/${kid}/revoke`, auth })
  const spare = await generateSigningKey(`${w.vehicleKey.kid}-spare`)
  t.equal((await call(app, { method: 'POST', url: '/v1/admin/vehicles', auth: ADMIN, payload: { id: w.vehicleId, accountId: w.accountId, publicJwk: spare.publicJwk } })).status, 201)

  t.equal((await revoke('vehicles', w.vehicleId, w.vehicleKey.kid, w.operatorKey)).status, 403, 'admin only')
  t.equal((await revoke('vehicles', w.vehicleId, w.vehicleKey.kid, await vehicleAuth(w))).status, 403, 'a car cannot revoke')
  t.equal((await revoke('vehicles', other.vehicleId, w.vehicleKey.kid)).body.error.code, 'NOT_FOUND', "a kid of another vehicle is not this vehicle's")
  t.equal((await revoke('vehicles', w.vehicleId, 'bad/kid')).status, 404)
  t.equal((await revoke('vehicles', w.vehicleId, 'x'.repeat(65))).body.error.code, 'SCHEMA_INVALID')
  t.equal(await credentials(await vehicleAuth(other)), 200)

  const r = await revoke('vehicles', w.vehicleId, w.vehicleKey.kid)
  t.equal(r.status, 200, r.raw)
  t.equal(await credentials(await vehicleAuth(w)), 401, 'the revoked key no longer authenticates')
  t.equal(await credentials(await vehicleAuth({ ...w, vehicleKey: spare })), 200, "the car's other key still does")
  const first = await cloud.db.selectFrom('vehicle_keys').select('revoked_at').where('vehicle_id', '=', w.vehicleId).where('kid', '=', w.vehicleKey.kid).executeTakeFirstOrThrow()
  cloud.clock.now += 60_000
  t.equal((await revoke('vehicles', w.vehicleId, w.vehicleKey.kid)).status, 200, 'again: a no-op')
  const second = await cloud.db.selectFrom('vehicle_keys').select('revoked_at').where('vehicle_id', '=', w.vehicleId).where('kid', '=', w.vehicleKey.kid).executeTakeFirstOrThrow()
  t.same(second.revoked_at, first.revoked_at, 'the first revocation time stands')

  t.equal((await revoke('stations', w.stationId, w.stationKey.kid)).status, 200)
  t.equal(await credentials(await stationAuth(w, cloud.clock.now)), 401)
  t.equal((await call(app, { method: 'GET', url: `/v1/stations/${w.stationId}/jwks` })).status, 404, 'no longer published')
  t.equal(await credentials(await stationAuth(other, cloud.clock.now)), 200, 'another station is untouched')
})

t.test('a public key no signature check can rely on (a small-order point) is refused at pairing, nothing stored', async (t) => {
  const cloud = await makeCloud(t)
  const { app, db } = cloud
  const w = await provision(cloud)
  // The identity point: with it, one fixed 64-byte signature verifies for every message.
  const weak = { kty: 'OKP', crv: 'Ed25519', x: 'AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', kid: 'weak-k1', alg: 'EdDSA', use: 'sig' }
  const v = await call(app, { method: 'POST', url: '/v1/admin/vehicles', auth: ADMIN, payload: { id: 'car-weak', accountId: w.accountId, publicJwk: weak } })
  t.equal(v.status, 400, v.raw)
  t.equal(v.body.error.code, 'SCHEMA_INVALID')
  const s = await call(app, { method: 'POST', url: '/v1/admin/stations', auth: ADMIN, payload: { ...stationBody(w, weak), id: 'st-weak' } })
  t.equal(s.status, 400, s.raw)
  t.equal(s.body.error.code, 'SCHEMA_INVALID')
  t.equal((await db.selectFrom('vehicles').select('id').where('id', '=', 'car-weak').execute()).length, 0, 'no vehicle')
  t.equal((await db.selectFrom('stations').select('id').where('id', '=', 'st-weak').execute()).length, 0, 'no station')
  t.equal((await db.selectFrom('vehicle_keys').select('kid').where('kid', '=', 'weak-k1').execute()).length, 0, 'no key')
})
