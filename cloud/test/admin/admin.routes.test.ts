import { generateSigningKey } from '@fuelpay/proto'
import t from 'tap'
import { ADMIN, authorize, call, makeCloud, provision, vehicleAuth } from '../helpers.ts'

t.test('admin provisioning: auth, bad input, tenant checks, upsert', async (t) => {
  const cloud = await makeCloud(t)
  const { app } = cloud
  const w = await provision(cloud)
  const noAuth = await call(app, { method: 'POST', url: '/v1/admin/accounts', payload: { name: 'x' } })
  t.equal(noAuth.status, 401)
  const asOperator = await call(app, { method: 'POST', url: '/v1/admin/accounts', auth: w.operatorKey, payload: { name: 'x' } })
  t.equal(asOperator.status, 403)
  const wrongToken = await call(app, { method: 'POST', url: '/v1/admin/accounts', auth: `${ADMIN}x`, payload: { name: 'x' } })
  t.equal(wrongToken.status, 401)

  const bad: [string, Record<string, unknown>][] = [
    ['/v1/admin/operators', { name: '' }],
    ['/v1/admin/operators', { id: 'a/b', name: 'x' }],
    ['/v1/admin/accounts', { name: 'x', defaultHoldMinor: 1.5 }],
    ['/v1/admin/sim-processor/cards', { brand: 'visa', last4: '42', availableMinor: 1, currency: 'EUR', expMonth: 1, expYear: 2030 }],
    ['/v1/admin/sim-processor/cards', { brand: 'visa', last4: '4242', availableMinor: 1, currency: 'XXX', expMonth: 1, expYear: 2030 }],
    ['/v1/admin/vehicles', { id: 'v1', accountId: w.accountId, publicJwk: { kty: 'RSA', n: 'x', e: 'AQAB', kid: 'k' } }],
    ['/v1/admin/vehicles', { id: 'v1', accountId: w.accountId, publicJwk: { ...w.vehicleKey.publicJwk, d: 'secret' } }],
    ['/v1/admin/fleets', { accountId: w.accountId, name: 'f', dailyLimitMinor: -1 }],
  ]
  for (const [url, payload] of bad) {
    const r = await call(app, { method: 'POST', url, auth: ADMIN, payload })
    t.equal(r.status, 400, `${url} ${JSON.stringify(payload)}`)
    t.equal(r.body.error.code, 'SCHEMA_INVALID')
  }
  const key = await generateSigningKey('k2')
  const stationBody = {
    id: 'st-new',
    operatorId: 'op-none',
    name: 'N',
    lat: 1,
    lon: 1,
    geofenceRadiusM: 50,
    currency: 'EUR',
    volumeUnit: 'L',
    publicJwk: key.publicJwk,
    pumps: [{ pump: 1, grades: [{ grade: 'diesel', unitPriceMilli: 1000 }] }],
  }
  t.equal((await call(app, { method: 'POST', url: '/v1/admin/stations', auth: ADMIN, payload: stationBody })).body.error.code, 'NOT_FOUND')
  const dupPumps = { ...stationBody, operatorId: w.operatorId, pumps: [stationBody.pumps[0], stationBody.pumps[0]] }
  t.equal((await call(app, { method: 'POST', url: '/v1/admin/stations', auth: ADMIN, payload: dupPumps })).status, 400)
  const other = await provision(cloud)
  const steal = { ...stationBody, id: w.stationId, operatorId: other.operatorId }
  t.equal((await call(app, { method: 'POST', url: '/v1/admin/stations', auth: ADMIN, payload: steal })).status, 403, "another operator's station")
  const foreignFleet = await call(app, { method: 'POST', url: '/v1/admin/fleets', auth: ADMIN, payload: { id: 'fl-x', accountId: other.accountId, name: 'f' } })
  t.equal(foreignFleet.status, 201)
  const v = await call(app, {
    method: 'POST',
    url: '/v1/admin/vehicles',
    auth: ADMIN,
    payload: { id: 'car-z', accountId: w.accountId, fleetId: 'fl-x', publicJwk: w.vehicleKey.publicJwk },
  })
  t.equal(v.status, 404, "a fleet of another account reads as absent")
  const moveVehicle = await call(app, { method: 'POST', url: '/v1/admin/vehicles', auth: ADMIN, payload: { id: w.vehicleId, accountId: other.accountId, publicJwk: w.vehicleKey.publicJwk } })
  t.equal(moveVehicle.status, 403)
  const pmNoAccount = await call(app, { method: 'POST', url: '/v1/admin/accounts/nope/payment-methods', auth: ADMIN, payload: { processorToken: 'tok_sim_xxxxxxxx', brand: 'visa', last4: '1111' } })
  t.equal(pmNoAccount.status, 404)

  // Re-provisioning a station changes its price as a new history row.
  const again = await call(app, {
    method: 'POST',
    url: '/v1/admin/stations',
    auth: ADMIN,
    payload: { ...stationBody, id: w.stationId, operatorId: w.operatorId, lat: w.lat, lon: w.lon, publicJwk: w.stationKey.publicJwk, pumps: [{ pump: 1, grades: [{ grade: 'diesel', unitPriceMilli: 1899 }] }] },
  })
  t.equal(again.status, 201)
  const prices = await cloud.db.selectFrom('pump_prices').selectAll().where('station_id', '=', w.stationId).where('pump', '=', 1).orderBy('id').execute()
  t.same(prices.map((p) => [p.grade, p.unit_price_milli]), [['diesel', 1799], ['unleaded95', 1859], ['diesel', 1899], ['unleaded95', null]])
  const a = await authorize(cloud, w, { amountMinor: 1899 })
  t.same(a.body.grades, ['diesel'], 'a withdrawn grade is no longer offered')
  const price = await call(app, { method: 'POST', url: `/v1/admin/stations/${w.stationId}/prices`, auth: ADMIN, payload: { grade: 'diesel', unitPriceMilli: 1999 } })
  t.equal(price.body.pumps, 2)
  t.same(cloud.commands.at(-1), { stationId: w.stationId, command: { op: 'set-price', grade: 'diesel', unitPriceMilli: 1999 } })
})

t.test('fleet controls and voice codes through the API', async (t) => {
  const cloud = await makeCloud(t)
  const { app } = cloud
  const base = await provision(cloud)
  const fleet = await call(app, {
    method: 'POST',
    url: '/v1/admin/fleets',
    auth: ADMIN,
    payload: { id: 'fleet1', accountId: base.accountId, name: 'Vans', perTransactionLimitMinor: 4000, dailyLimitMinor: 6000, allowedGrades: ['diesel'], voiceCodeRequired: true },
  })
  t.equal(fleet.status, 201, fleet.raw)
  const key = (await import('@fuelpay/proto')).generateSigningKey
  const vk = await key('van-k')
  t.equal((await call(app, { method: 'POST', url: '/v1/admin/vehicles', auth: ADMIN, payload: { id: 'van1', accountId: base.accountId, fleetId: 'fleet1', publicJwk: vk.publicJwk } })).status, 201)
  const van = { ...base, vehicleId: 'van1', vehicleKey: vk }
  t.equal((await authorize(cloud, van)).body.error.code, 'VOICE_CODE_REQUIRED')
  t.equal((await call(app, { method: 'POST', url: `/v1/admin/accounts/${base.accountId}/voice-code`, auth: ADMIN, payload: { voiceCode: 'Blue Falcon' } })).status, 200)
  const stored = await cloud.db.selectFrom('accounts').select('voice_code_hash').where('id', '=', base.accountId).executeTakeFirstOrThrow()
  t.match(stored.voice_code_hash, /^scrypt\$/, 'stored hashed')
  t.notMatch(stored.voice_code_hash, /falcon/i)
  t.equal((await authorize(cloud, van, { voiceCode: 'red falcon' })).body.error.code, 'VOICE_CODE_WRONG')
  t.equal((await authorize(cloud, van, { voiceCode: 'blue falcon', amountMinor: 5000 })).body.error.code, 'LIMIT_TRANSACTION')
  const ok1 = await authorize(cloud, van, { voiceCode: 'blue, falcon' })
  t.equal(ok1.status, 201, ok1.raw)
  t.equal(ok1.body.holdAmountMinor, 4000, 'default hold lowered to the per-transaction limit')
  t.same(ok1.body.grades, ['diesel'])
  const ok2 = await authorize(cloud, van, { voiceCode: 'blue falcon' })
  t.equal(ok2.body.holdAmountMinor, 2000, 'lowered to what the daily limit leaves')
  t.equal((await authorize(cloud, van, { voiceCode: 'blue falcon' })).body.error.code, 'LIMIT_DAILY')
  t.equal((await authorize(cloud, van, { voiceCode: 'blue falcon', grade: 'unleaded95' })).body.error.code, 'GRADE_NOT_PERMITTED')
  const plain = await authorize(cloud, base, {})
  t.equal(plain.status, 201, 'a vehicle outside the fleet is not bound by it')
  const vv = await call(app, { method: 'GET', url: '/v1/stations/near?lat=52.52&lon=13.405', auth: await vehicleAuth(base) })
  t.equal(vv.status, 200)
  t.equal(vv.body[0].id, base.stationId)
  t.equal(vv.body[0].distanceM, 0)
  const far = await call(app, { method: 'GET', url: '/v1/stations/near?lat=10&lon=10', auth: await vehicleAuth(base) })
  t.same(far.body, [])
  const badNear = await call(app, { method: 'GET', url: '/v1/stations/near?lat=abc&lon=1', auth: await vehicleAuth(base) })
  t.equal(badNear.status, 400)
  // A position as a car's double prints it: 15 decimals, or an exponent near zero.
  const precise = await call(app, { method: 'GET', url: `/v1/stations/near?lat=${String(52.52 + 1e-12)}&lon=${String(13.405 - 3e-13)}`, auth: await vehicleAuth(base) })
  t.equal(precise.status, 200, precise.raw)
  t.equal(precise.body[0]?.id, base.stationId, 'a position with every digit of a double finds its station')
  const nearZero = await call(app, { method: 'GET', url: `/v1/stations/near?lat=${String(-1.2e-7)}&lon=${String(1e-7)}`, auth: await vehicleAuth(base) })
  t.equal(nearZero.status, 200, nearZero.raw)
  const huge = await call(app, { method: 'GET', url: '/v1/stations/near?lat=1e300&lon=1', auth: await vehicleAuth(base) })
  t.equal(huge.body.error?.code, 'SCHEMA_INVALID', 'an exponent still cannot leave the globe')
  const opStations = await call(app, { method: 'GET', url: '/v1/operator/stations', auth: base.operatorKey })
  t.equal(opStations.body.items.length, 1)
})

t.test('fleet daily limit: concurrent requests of one vehicle do not share its room', async (t) => {
  // A slow issuer keeps each hold in flight while the others are checked.
  const cloud = await makeCloud(t, { faults: { latencyMs: () => 150 } })
  const { app } = cloud
  const base = await provision(cloud)
  const fleet = await call(app, { method: 'POST', url: '/v1/admin/fleets', auth: ADMIN, payload: { id: 'fleet2', accountId: base.accountId, name: 'Trucks', dailyLimitMinor: 5000 } })
  t.equal(fleet.status, 201, fleet.raw)
  const vk = await generateSigningKey('truck-k')
  t.equal((await call(app, { method: 'POST', url: '/v1/admin/vehicles', auth: ADMIN, payload: { id: 'truck1', accountId: base.accountId, fleetId: 'fleet2', publicJwk: vk.publicJwk } })).status, 201)
  const truck = { ...base, vehicleId: 'truck1', vehicleKey: vk }
  const answers = await Promise.all(Array.from({ length: 4 }, () => authorize(cloud, truck, { amountMinor: 3000 })))
  const held = answers.filter((a) => a.status === 201)
  t.equal(held.length, 1, 'one 3000 hold fits a 5000 daily limit, not two')
  t.same(
    answers.filter((a) => a.status !== 201).map((a) => a.body.error.code),
    ['LIMIT_DAILY', 'LIMIT_DAILY', 'LIMIT_DAILY'],
  )
  const sessions = await cloud.db.selectFrom('sessions').select('hold_amount_minor').where('vehicle_id', '=', 'truck1').execute()
  t.same(sessions.map((s) => Number(s.hold_amount_minor)), [3000], 'nothing else was recorded')
  const rest = await authorize(cloud, truck, {})
  t.equal(rest.body.holdAmountMinor, 2000, 'the default hold is lowered to what the day leaves')
})
