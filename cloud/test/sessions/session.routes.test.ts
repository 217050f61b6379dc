import { amountForVolume, generateSigningKey, keyRingFromJwks, maxVolumeForAmount, verifyPumpAuthorization } from '@fuelpay/proto'
import t from 'tap'
import { idempotencyClaim } from '../../src/idempotency/answer-sealing.ts'
import { verifyLedger } from '../../src/ledger/ledger.repository.ts'
import { ADMIN, authorize, call, idem, makeCloud, provision, reportSale, saleFor, stationAuth, vehicleAuth } from '../helpers.ts'

t.test('walking skeleton: hold, pump authorization, sale, capture, receipt', async (t) => {
  const cloud = await makeCloud(t)
  const w = await provision(cloud)
  const res = await authorize(cloud, w, { amountMinor: 5000 })
  t.equal(res.status, 201, res.raw)
  const a = res.body
  t.equal(a.state, 'held')
  t.equal(a.holdAmountMinor, 5000)
  t.equal(a.partial, false)
  t.same(a.grades, ['diesel', 'unleaded95'])
  // Max volume is priced at the dearest grade, so any grade stays within the hold.
  t.equal(a.maxVolumeMilli, maxVolumeForAmount(5000, 1859, 'EUR'))
  t.equal(a.paymentMethod.last4, '4242')

  const jwks = await call(cloud.app, { method: 'GET', url: '/.well-known/jwks.json' })
  const ring = await keyRingFromJwks(jwks.body)
  const claims = await verifyPumpAuthorization(a.token, {
    keys: ring,
    nowMs: cloud.clock.now,
    expect: { stationId: w.stationId, pump: 1, vehicleId: w.vehicleId },
  })
  t.ok(claims.ok, 'the pump authorization verifies against the published JWKS')
  if (claims.ok) {
    t.equal(claims.value.maxAmountMinor, 5000)
    t.equal(claims.value.exp - claims.value.iat, 120)
  }

  const sale = await saleFor(w, a, { volumeMilli: 20_000 })
  const saleKey = idem()
  const settled = await reportSale(cloud, w, sale.jws, saleKey)
  t.equal(settled.status, 200, settled.raw)
  const claim = idempotencyClaim(`station:${w.stationId}`, saleKey)
  const stored = await cloud.db.selectFrom('idempotency_keys').selectAll().where('key', '=', claim.key).executeTakeFirstOrThrow()
  t.match(stored, { state: 'done', status_code: 200 }, 'the answer was stored with the key')
  t.notMatch(String(stored.response), /captured/, 'sealed: not readable from the table')
  t.equal((await cloud.db.selectFrom('idempotency_keys').select('key').where('key', '=', saleKey).execute()).length, 0, 'nor is the key itself stored')
  t.same(JSON.parse(claim.open(String(stored.response))), settled.body, 'exactly the answer sent')
  const replay = await reportSale(cloud, w, sale.jws, saleKey)
  t.equal(replay.status, 200)
  t.equal(replay.headers['idempotent-replayed'], 'true', 'the same key replays')
  t.equal(replay.raw, settled.raw, 'byte for byte')
  const amount = amountForVolume(20_000, 1799, 'EUR')
  t.equal(settled.body.state, 'captured')
  t.equal(settled.body.capturedMinor, amount)
  t.equal(settled.body.releasedMinor, 5000 - amount)
  t.equal(settled.body.receipt.amountMinor, amount)
  t.equal(settled.body.receipt.volumeMilli, 20_000)

  const again = await reportSale(cloud, w, sale.jws)
  t.equal(again.status, 200, 'the same sale again (new idempotency key) answers the same')
  t.same({ ...again.body, receipt: undefined }, { ...settled.body, receipt: undefined })

  const view = await call(cloud.app, { method: 'GET', url: `/v1/sessions/${a.sessionId}`, auth: await vehicleAuth(w) })
  t.equal(view.status, 200)
  t.equal(view.body.state, 'captured')
  const receipt = await call(cloud.app, { method: 'GET', url: `/v1/receipts/${a.sessionId}`, auth: await vehicleAuth(w) })
  t.equal(receipt.status, 200)
  t.equal(receipt.body.amountMinor, amount)
  t.equal(receipt.body.paymentMethod.name, 'business card')

  const card = await cloud.db.selectFrom('sim_cards').selectAll().where('token', '=', w.cardToken).executeTakeFirstOrThrow()
  t.equal(Number(card.available_minor), 100_000 - amount, 'the card was charged exactly once, for what was pumped')
  const ledger = await verifyLedger(cloud.db)
  t.ok(ledger.ok, JSON.stringify(ledger))
  t.equal(ledger.entries, 3, 'hold, capture, release')
})

t.test('fuel authorization refusals change nothing', async (t) => {
  const cloud = await makeCloud(t)
  const w = await provision(cloud)
  const cases: [string, Record<string, unknown>, number, string][] = [
    ['unknown station', { stationId: 'nope' }, 404, 'UNKNOWN_STATION'],
    ['pump not at station', { pump: 7 }, 404, 'PUMP_NOT_AT_STATION'],
    ['grade not sold at pump', { pump: 2, grade: 'unleaded95' }, 422, 'UNKNOWN_GRADE'],
    ['outside geofence', { position: { lat: 52.53, lon: 13.405 } }, 403, 'OUTSIDE_GEOFENCE'],
    ['other currency', { currency: 'USD' }, 422, 'CURRENCY_MISMATCH'],
    ['unknown payment method', { paymentMethodId: 'pm_nope' }, 409, 'NO_PAYMENT_METHOD'],
    ['unknown card name', { paymentMethodName: 'my gold card' }, 409, 'NO_PAYMENT_METHOD'],
    ['wrong voice code', { voiceCode: '1234' }, 403, 'VOICE_CODE_WRONG'],
    ['extra field', { tip: 1 }, 400, 'SCHEMA_INVALID'],
    ['amount zero', { amountMinor: 0 }, 400, 'SCHEMA_INVALID'],
    ['pump as string', { pump: '1' }, 400, 'SCHEMA_INVALID'],
  ]
  for (const [name, body, status, code] of cases) {
    const r = await authorize(cloud, w, body)
    t.equal(r.status, status, `${name}: ${r.raw}`)
    t.equal(r.body.error.code, code, name)
    t.type(r.body.requestId, 'string')
  }
  const sessions = await cloud.db.selectFrom('sessions').select('id').execute()
  t.equal(sessions.length, 0, 'no session was created')
  const postings = await cloud.db.selectFrom('postings').select('id').execute()
  t.equal(postings.length, 0)

  const noKey = await call(cloud.app, {
    method: 'POST',
    url: '/v1/fuel-authorizations',
    auth: await vehicleAuth(w),
    key: false,
    payload: { stationId: w.stationId, pump: 1 },
  })
  t.equal(noKey.status, 400, 'an Idempotency-Key is required')
  const noAuth = await call(cloud.app, { method: 'POST', url: '/v1/fuel-authorizations', payload: { stationId: w.stationId, pump: 1 } })
  t.equal(noAuth.status, 401)
  t.equal(noAuth.body.error.code, 'UNAUTHENTICATED')
  const asStation = await call(cloud.app, {
    method: 'POST',
    url: '/v1/fuel-authorizations',
    auth: await stationAuth(w),
    payload: { stationId: w.stationId, pump: 1 },
  })
  t.equal(asStation.status, 403, 'a station cannot ask for a hold')
  const badJson = await call(cloud.app, {
    method: 'POST',
    url: '/v1/fuel-authorizations',
    auth: await vehicleAuth(w),
    headers: { 'content-type': 'application/json' },
    payload: '{"stationId":',
  })
  t.equal(badJson.status, 400)
  t.equal(badJson.body.error.code, 'BAD_JSON')
})

t.test('out-of-service pump and payment method by spoken name', async (t) => {
  const cloud = await makeCloud(t)
  const w = await provision(cloud)
  const off = await call(cloud.app, { method: 'POST', url: `/v1/admin/stations/${w.stationId}/pumps/2/service`, auth: ADMIN, payload: { inService: false } })
  t.equal(off.status, 200)
  const r = await authorize(cloud, w, { pump: 2 })
  t.equal(r.body.error.code, 'PUMP_OUT_OF_SERVICE')
  const byName = await authorize(cloud, w, { paymentMethodName: 'Business Card' })
  t.equal(byName.status, 201, byName.raw)
  t.equal(byName.body.paymentMethod.id, w.paymentMethodId)
  t.equal(byName.body.holdAmountMinor, 5000, "the account's default hold")
})

t.test('declines and partial approval', async (t) => {
  const cloud = await makeCloud(t)
  const poor = await provision(cloud, { availableMinor: 3000 })
  const partial = await authorize(cloud, poor, { amountMinor: 5000 })
  t.equal(partial.status, 201)
  t.equal(partial.body.partial, true)
  t.equal(partial.body.holdAmountMinor, 3000)
  t.equal(partial.body.requestedAmountMinor, 5000)
  const empty = await authorize(cloud, poor, { amountMinor: 100 })
  t.equal(empty.status, 402)
  t.equal(empty.body.error.code, 'INSUFFICIENT_FUNDS')
  for (const code of ['SUSPECTED_FRAUD', 'CARD_EXPIRED', 'ISSUER_UNAVAILABLE']) {
    const w = await provision(cloud, { forcedDecline: code })
    const r = await authorize(cloud, w)
    t.equal(r.body.error.code, code)
  }
  const declined = await cloud.db.selectFrom('sessions').select(['state', 'reason_code']).where('state', 'in', ['declined', 'failed']).execute()
  t.equal(declined.length, 4, 'declines are recorded with their reason')
  t.ok((await verifyLedger(cloud.db)).ok)
})

t.test('idempotency: same key and body replays; other body is refused', async (t) => {
  const cloud = await makeCloud(t)
  const w = await provision(cloud)
  const key = idem()
  const first = await authorize(cloud, w, { amountMinor: 4000 }, key)
  const second = await authorize(cloud, w, { amountMinor: 4000 }, key)
  t.equal(second.status, 201)
  t.equal(second.headers['idempotent-replayed'], 'true')
  t.same(second.body, first.body, 'the stored response, token included')
  const other = await authorize(cloud, w, { amountMinor: 4100 }, key)
  t.equal(other.status, 422)
  t.equal(other.body.error.code, 'IDEMPOTENCY_KEY_REUSED')
  const concurrent = idem()
  const both = await Promise.all([authorize(cloud, w, {}, concurrent), authorize(cloud, w, {}, concurrent)])
  const statuses = both.map((b) => b.status).sort()
  t.ok(statuses.includes(201), 'one executes')
  const sessions = await cloud.db.selectFrom('sessions').select('id').execute()
  t.equal(sessions.length, 2, 'concurrent duplicates never both execute')
  const card = await cloud.db.selectFrom('sim_cards').selectAll().where('token', '=', w.cardToken).executeTakeFirstOrThrow()
  t.equal(Number(card.available_minor), 100_000 - 4000 - 5000)
})

t.test('sales: bad signature, mismatches, arithmetic, tenant isolation, zero volume voids', async (t) => {
  const cloud = await makeCloud(t)
  const w = await provision(cloud)
  const other = await provision(cloud)
  const a = (await authorize(cloud, w, { amountMinor: 5000 })).body

  const forged = await saleFor(other, a, { volumeMilli: 1000, stationId: w.stationId })
  const r1 = await reportSale(cloud, w, forged.jws)
  t.equal(r1.body.error.code, 'SALE_SIGNATURE_INVALID', 'signed with another station key')

  const foreign = await saleFor(other, a, { volumeMilli: 1000 })
  const r2 = await reportSale(cloud, other, foreign.jws)
  t.equal(r2.body.error.code, 'SESSION_NOT_FOUND', "another station's session reads as absent")

  const wrongGrade = await saleFor(w, a, { volumeMilli: 1000, grade: 'unleaded98', unitPriceMilli: 1999 })
  t.equal((await reportSale(cloud, w, wrongGrade.jws)).body.error.code, 'SALE_MISMATCH', 'a grade the hold did not allow')
  const wrongPump = await saleFor(w, a, { volumeMilli: 1000, pump: 2 })
  t.equal((await reportSale(cloud, w, wrongPump.jws)).body.error.code, 'SALE_MISMATCH')
  const badMath = await saleFor(w, a, { volumeMilli: 1000, amountMinor: 999 })
  t.equal((await reportSale(cloud, w, badMath.jws)).body.error.code, 'SALE_ARITHMETIC_INVALID')
  const garbage = await reportSale(cloud, w, 'not-a-jws-at-all-really')
  t.equal(garbage.status, 400)

  const row = await cloud.db.selectFrom('sessions').selectAll().where('id', '=', a.sessionId).executeTakeFirstOrThrow()
  t.equal(row.state, 'held', 'refused sales changed nothing')
  t.equal(row.sale, null)

  const zero = await saleFor(w, a, { volumeMilli: 0, outcome: 'lapsed' })
  const voided = await reportSale(cloud, w, zero.jws)
  t.equal(voided.status, 200, voided.raw)
  t.equal(voided.body.state, 'voided')
  t.equal(voided.body.capturedMinor, 0)
  t.equal(voided.body.releasedMinor, 5000)
  const late = await saleFor(w, a, { volumeMilli: 1000 })
  t.equal((await reportSale(cloud, w, late.jws)).body.error.code, 'SALE_MISMATCH', 'a second, different sale is refused')
  const card = await cloud.db.selectFrom('sim_cards').selectAll().where('token', '=', w.cardToken).executeTakeFirstOrThrow()
  t.equal(Number(card.available_minor), 100_000)
  t.ok((await verifyLedger(cloud.db)).ok)
})

t.test('a sale above the hold captures the hold only', async (t) => {
  const cloud = await makeCloud(t)
  const w = await provision(cloud)
  const a = (await authorize(cloud, w, { amountMinor: 1000, grade: 'diesel' })).body
  const sale = await saleFor(w, a, { volumeMilli: 10_000 })
  const r = await reportSale(cloud, w, sale.jws)
  t.equal(r.body.capturedMinor, 1000)
  t.equal(r.body.releasedMinor, 0)
  t.ok((await verifyLedger(cloud.db)).ok)
})

t.test('sessions: reads are scoped, cancel voids, receipts only when captured', async (t) => {
  const cloud = await makeCloud(t)
  const w = await provision(cloud)
  const other = await provision(cloud)
  const a = (await authorize(cloud, w)).body
  const foreignRead = await call(cloud.app, { method: 'GET', url: `/v1/sessions/${a.sessionId}`, auth: await vehicleAuth(other) })
  t.equal(foreignRead.status, 404)
  t.equal(foreignRead.body.error.code, 'SESSION_NOT_FOUND')
  t.notMatch(foreignRead.raw, w.stationId, 'nothing of the session leaks')
  const byOperator = await call(cloud.app, { method: 'GET', url: `/v1/sessions/${a.sessionId}`, auth: w.operatorKey })
  t.equal(byOperator.status, 200)
  const byOtherOperator = await call(cloud.app, { method: 'GET', url: `/v1/sessions/${a.sessionId}`, auth: other.operatorKey })
  t.equal(byOtherOperator.status, 404)
  const byStation = await call(cloud.app, { method: 'GET', url: `/v1/sessions/${a.sessionId}`, auth: await stationAuth(w) })
  t.equal(byStation.status, 200)
  const noReceipt = await call(cloud.app, { method: 'GET', url: `/v1/receipts/${a.sessionId}`, auth: await vehicleAuth(w) })
  t.equal(noReceipt.body.error.code, 'SESSION_STATE_CONFLICT')
  const badId = await call(cloud.app, { method: 'GET', url: '/v1/sessions/..%2Fetc', auth: await vehicleAuth(w) })
  t.equal(badId.status, 400)

  const foreignCancel = await call(cloud.app, { method: 'POST', url: `/v1/sessions/${a.sessionId}/cancel`, auth: await vehicleAuth(other) })
  t.equal(foreignCancel.status, 404)

  // Another car on the same account (a fleet's second van) neither follows nor cancels this car's session.
  const vanKey = await generateSigningKey('van2-k1')
  const van = await call(cloud.app, { method: 'POST', url: '/v1/admin/vehicles', auth: ADMIN, payload: { id: `van2-${w.vehicleId}`, accountId: w.accountId, publicJwk: vanKey.publicJwk } })
  t.equal(van.status, 201, van.raw)
  const sibling = { ...w, vehicleId: `van2-${w.vehicleId}`, vehicleKey: vanKey }
  const siblingRead = await call(cloud.app, { method: 'GET', url: `/v1/sessions/${a.sessionId}`, auth: await vehicleAuth(sibling) })
  t.equal(siblingRead.body.error?.code, 'SESSION_NOT_FOUND', 'a sibling car does not see it')
  const siblingList = await call(cloud.app, { method: 'GET', url: '/v1/sessions', auth: await vehicleAuth(sibling) })
  t.equal(siblingList.status, 200, siblingList.raw)
  t.notMatch(siblingList.raw, a.sessionId, 'nor list it')
  const siblingCancel = await call(cloud.app, { method: 'POST', url: `/v1/sessions/${a.sessionId}/cancel`, auth: await vehicleAuth(sibling) })
  t.equal(siblingCancel.body.error?.code, 'SESSION_NOT_FOUND', 'nor cancel it')
  const cancel = await call(cloud.app, { method: 'POST', url: `/v1/sessions/${a.sessionId}/cancel`, auth: await vehicleAuth(w) })
  t.equal(cancel.status, 200, cancel.raw)
  t.equal(cancel.body.state, 'voided')
  t.equal(cancel.body.reason.code, 'CANCELLED')
  t.same(cloud.commands.at(-1), { stationId: w.stationId, command: { op: 'void-session', sessionId: a.sessionId } })
  const again = await call(cloud.app, { method: 'POST', url: `/v1/sessions/${a.sessionId}/cancel`, auth: await vehicleAuth(w) })
  t.equal(again.body.state, 'voided', 'cancel is idempotent')

  const page = await call(cloud.app, { method: 'GET', url: '/v1/sessions?limit=1', auth: await vehicleAuth(w) })
  t.equal(page.status, 200)
  t.equal(page.body.items.length, 1)
  t.equal(page.body.nextCursor, undefined)
  t.ok((await verifyLedger(cloud.db)).ok)
})

t.test('client assertions: replay refused, unknown vehicle refused', async (t) => {
  const cloud = await makeCloud(t)
  const w = await provision(cloud)
  const a = await vehicleAuth(w)
  const first = await call(cloud.app, { method: 'POST', url: '/v1/mqtt-credentials', auth: a })
  t.equal(first.status, 200, first.raw)
  t.equal(first.body.username, `vehicle-${w.vehicleId}`)
  t.equal(first.body.clientId, `vehicle-${w.vehicleId}`)
  t.equal(first.body.brokerUrl, 'mqtt://127.0.0.1:1884')
  const replay = await call(cloud.app, { method: 'POST', url: '/v1/mqtt-credentials', auth: a })
  t.equal(replay.status, 401, 'the same assertion twice is a replay')
  const st = await call(cloud.app, { method: 'POST', url: '/v1/mqtt-credentials', auth: await stationAuth(w) })
  t.equal(st.body.username, `station-${w.stationId}`)
  const op = await call(cloud.app, { method: 'POST', url: '/v1/mqtt-credentials', auth: w.operatorKey })
  t.equal(op.status, 403)

  // On an idempotent POST the assertion is spent together with the idempotency
  // claim: a replayed assertion claims nothing and places no hold, whether it
  // comes with a new key or with the key of the request it was stolen from.
  const b = await vehicleAuth(w, cloud.clock.now)
  const payload = { stationId: w.stationId, pump: 1, position: { lat: w.lat, lon: w.lon } }
  const key = idem()
  const held = await call(cloud.app, { method: 'POST', url: '/v1/fuel-authorizations', auth: b, key, payload })
  t.equal(held.status, 201, held.raw)
  for (const k of [idem(), key]) {
    const again = await call(cloud.app, { method: 'POST', url: '/v1/fuel-authorizations', auth: b, key: k, payload })
    t.equal(again.status, 401, 'a replayed assertion is refused')
    t.equal(again.body.error.code, 'UNAUTHENTICATED')
    t.equal(again.headers['idempotent-replayed'], undefined, 'and is not answered from the stored response')
  }
  t.equal((await cloud.db.selectFrom('sessions').select('id').execute()).length, 1, 'one hold, no second session')
  t.equal((await cloud.db.selectFrom('idempotency_keys').select('key').where('scope', 'like', 'vehicle:%').execute()).length, 2, 'the replays claimed no key (credentials + one hold)')

  // Without a usable Idempotency-Key the request is refused, and its assertion is spent all the same.
  const c = await vehicleAuth(w, cloud.clock.now)
  const noKey = await call(cloud.app, { method: 'POST', url: '/v1/fuel-authorizations', auth: c, key: false, payload })
  t.equal(noKey.body.error.code, 'SCHEMA_INVALID')
  const withKey = await call(cloud.app, { method: 'POST', url: '/v1/fuel-authorizations', auth: c, payload })
  t.equal(withKey.status, 401, 'the assertion was spent by the refused request')
})
