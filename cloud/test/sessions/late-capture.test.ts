import { amountForVolume, generateSigningKey, signSaleRecord } from '@fuelpay/proto'
import t from 'tap'
import { verifyLedger } from '../../src/ledger/ledger.repository.ts'
import type { SimFaults } from '../../src/processor/sim-processor.ts'
import { unusedHoldLifetimeMs } from '../../src/sessions/authorization.service.ts'
import { expireSessions } from '../../src/sessions/settlement.service.ts'
import { ADMIN, authorize, call, type Cloud, makeCloud, provision, reportSale, saleFor, vehicleAuth, type World } from '../helpers.ts'

/**
 * Late capture (design, failure handling): a station that lost the cloud
 * keeps selling and delivers every sale when it returns; a sale that arrives
 * after the sweeper voided its hold is charged by a new authorization and
 * capture (a forced post), exactly once.
 */

async function expireHold(cloud: Cloud, sessionId: string) {
  cloud.clock.now += unusedHoldLifetimeMs(cloud.deps.config) + 1000
  await expireSessions(cloud.deps)
  const row = await cloud.db.selectFrom('sessions').selectAll().where('id', '=', sessionId).executeTakeFirstOrThrow()
  return row
}

const available = async (cloud: Cloud, w: World) =>
  Number((await cloud.db.selectFrom('sim_cards').select('available_minor').where('token', '=', w.cardToken).executeTakeFirstOrThrow()).available_minor)

const entries = (cloud: Cloud, sessionId: string) =>
  cloud.db.selectFrom('journal_entries').select('kind').where('session_id', '=', sessionId).orderBy('id').execute().then((r) => r.map((x) => x.kind))

const outboxKinds = (cloud: Cloud, sessionId: string) =>
  cloud.db.selectFrom('outbox').select(['kind', 'payload']).where('aggregate_id', '=', sessionId).orderBy('id').execute()

t.test('a sale that arrives after its hold expired is captured late, once', async (t) => {
  const cloud = await makeCloud(t)
  const w = await provision(cloud)
  const a = (await authorize(cloud, w, { amountMinor: 5000, grade: 'diesel' })).body
  const expired = await expireHold(cloud, a.sessionId)
  t.equal(expired.state, 'expired', 'the sweeper voided the hold the cloud never saw used')
  t.equal(await available(cloud, w), 100_000, 'the hold went back to the card')

  // The station was offline for the whole time; its sale arrives now.
  const sale = await saleFor(w, a, { volumeMilli: 20_000 })
  const amount = amountForVolume(20_000, 1799, 'EUR')
  const r = await reportSale(cloud, w, sale.jws)
  t.equal(r.status, 200, r.raw)
  t.equal(r.body.state, 'captured')
  t.equal(r.body.capturedMinor, amount)
  t.equal(r.body.releasedMinor, 5000, 'the whole original hold was released')
  t.equal(r.body.receipt.amountMinor, amount)
  t.equal(await available(cloud, w), 100_000 - amount, 'the card is charged what was pumped')

  const row = await cloud.db.selectFrom('sessions').selectAll().where('id', '=', a.sessionId).executeTakeFirstOrThrow()
  t.equal(row.settle_action, 'late_capture', 'recorded as a late capture')
  t.ok(row.late_capture_auth_id, 'with the new processor authorization')
  t.not(row.late_capture_auth_id, row.processor_auth_id)
  t.same(await entries(cloud, a.sessionId), ['hold', 'release', 'late_capture'])
  const events = await outboxKinds(cloud, a.sessionId)
  t.same(events.map((e) => e.kind), ['session.held', 'session.expired', 'session.sale', 'session.captured'])
  t.equal(events.at(-1)?.payload.lateCapture, true)

  // Duplicates: a store-and-forward retry (same key) and a new key both get the same answer.
  const dupSameKey = await reportSale(cloud, w, sale.jws, a.sessionId)
  const dupNewKey = await reportSale(cloud, w, sale.jws)
  for (const d of [dupSameKey, dupNewKey]) {
    t.equal(d.status, 200)
    t.same({ ...d.body, receipt: undefined }, { ...r.body, receipt: undefined })
  }
  t.equal(await available(cloud, w), 100_000 - amount, 'no second charge')
  t.same(await entries(cloud, a.sessionId), ['hold', 'release', 'late_capture'], 'no second posting')
  const receipt = await call(cloud.app, { method: 'GET', url: `/v1/receipts/${a.sessionId}`, auth: await vehicleAuth(w, cloud.clock.now) })
  t.equal(receipt.status, 200)
  t.equal(receipt.body.amountMinor, amount)
  const ledger = await verifyLedger(cloud.db)
  t.ok(ledger.ok, JSON.stringify(ledger))
  t.equal(await expireSessions(cloud.deps), 0, 'nothing left for the sweeper')
})

t.test('concurrent duplicate late sales reach the processor as one', async (t) => {
  const cloud = await makeCloud(t, { faults: { latencyMs: () => 20 } })
  const w = await provision(cloud)
  const a = (await authorize(cloud, w, { amountMinor: 3000, grade: 'diesel' })).body
  await expireHold(cloud, a.sessionId)
  const sale = await saleFor(w, a, { volumeMilli: 50_000 })
  const answers = await Promise.all(Array.from({ length: 4 }, () => reportSale(cloud, w, sale.jws)))
  const ok = answers.filter((x) => x.status === 200)
  t.ok(ok.length >= 1, answers.map((x) => x.raw).join('\n'))
  for (const x of answers) t.ok(x.status === 200 || x.body.error.code === 'IDEMPOTENCY_IN_PROGRESS' || x.status === 503, x.raw)
  for (const x of ok) t.equal(x.body.capturedMinor, 3000, 'a sale above the hold captures the original hold only')
  const auths = await cloud.db.selectFrom('sim_authorizations').selectAll().where('idempotency_key', 'like', `late-%${a.sessionId}`).execute()
  t.equal(auths.length, 1, 'one late authorization')
  t.equal(Number(auths[0]?.captured_minor), 3000)
  t.same(await entries(cloud, a.sessionId), ['hold', 'release', 'late_capture'])
  t.equal(await available(cloud, w), 100_000 - 3000)
  t.ok((await verifyLedger(cloud.db)).ok)
})

t.test('a sale for a hold the driver cancelled in the cloud after the pump took the token', async (t) => {
  const cloud = await makeCloud(t)
  const w = await provision(cloud)
  const a = (await authorize(cloud, w, { amountMinor: 4000 })).body
  const cancel = await call(cloud.app, { method: 'POST', url: `/v1/sessions/${a.sessionId}/cancel`, auth: await vehicleAuth(w, cloud.clock.now) })
  t.equal(cancel.body.state, 'voided')
  const sale = await saleFor(w, a, { volumeMilli: 5_000, grade: 'unleaded95', unitPriceMilli: 1859 })
  const r = await reportSale(cloud, w, sale.jws)
  t.equal(r.status, 200, r.raw)
  t.equal(r.body.state, 'captured')
  t.equal(r.body.capturedMinor, amountForVolume(5_000, 1859, 'EUR'))
  t.ok((await verifyLedger(cloud.db)).ok)
  // A zero sale for a voided hold is still only acknowledged: nothing to charge.
  const b = (await authorize(cloud, w, { amountMinor: 4000 })).body
  await expireHold(cloud, b.sessionId)
  const zero = await reportSale(cloud, w, (await saleFor(w, b, { volumeMilli: 0, outcome: 'lapsed' })).jws)
  t.equal(zero.status, 200)
  t.equal(zero.body.state, 'expired')
  t.equal(zero.body.capturedMinor, 0)
})

t.test('a late capture the issuer declines ends failed, with its reason and an alert event', async (t) => {
  const cloud = await makeCloud(t)
  const w = await provision(cloud, { availableMinor: 10_000 })
  const a = (await authorize(cloud, w, { amountMinor: 5000, grade: 'diesel' })).body
  await expireHold(cloud, a.sessionId)
  // Meanwhile the card was spent elsewhere.
  await cloud.db.updateTable('sim_cards').set({ available_minor: 100 }).where('token', '=', w.cardToken).execute()
  const sale = await saleFor(w, a, { volumeMilli: 10_000 })
  const r = await reportSale(cloud, w, sale.jws)
  t.equal(r.status, 200, 'acknowledged: the station has delivered; a retry cannot change a decline')
  t.equal(r.body.state, 'failed')
  t.equal(r.body.capturedMinor, 0)
  const view = await call(cloud.app, { method: 'GET', url: `/v1/sessions/${a.sessionId}`, auth: ADMIN })
  t.equal(view.body.state, 'failed')
  t.equal(view.body.reason.code, 'INSUFFICIENT_FUNDS')
  const events = await outboxKinds(cloud, a.sessionId)
  const failed = events.find((e) => e.kind === 'session.settlement-failed')
  t.ok(failed, 'an outbox event for the console')
  t.equal(failed?.payload.reason, 'INSUFFICIENT_FUNDS')
  t.equal(failed?.payload.amountMinor, amountForVolume(10_000, 1799, 'EUR'))
  const again = await reportSale(cloud, w, sale.jws)
  t.equal(again.body.state, 'failed', 'a duplicate gets the same answer')
  t.equal((await outboxKinds(cloud, a.sessionId)).filter((e) => e.kind === 'session.settlement-failed').length, 1, 'one alert event')
  t.equal(await available(cloud, w), 100, 'nothing taken')
  t.same(await entries(cloud, a.sessionId), ['hold', 'release'])
  t.ok((await verifyLedger(cloud.db)).ok)
})

t.test('a processor outage during a late capture is retried by the station and the sweeper', async (t) => {
  const faults: SimFaults = {}
  const cloud = await makeCloud(t, { faults })
  const w = await provision(cloud)
  const a = (await authorize(cloud, w, { amountMinor: 5000, grade: 'diesel' })).body
  await expireHold(cloud, a.sessionId)
  faults.fail = (op) => (op === 'authorize' ? 'ISSUER_UNAVAILABLE' : undefined)
  const saleA = await saleFor(w, a, { volumeMilli: 10_000 })
  const down = await reportSale(cloud, w, saleA.jws, a.sessionId)
  t.equal(down.status, 503, 'the station keeps the sale and retries')
  t.equal(down.body.error.code, 'UNAVAILABLE')
  const pending = await cloud.db.selectFrom('sessions').selectAll().where('id', '=', a.sessionId).executeTakeFirstOrThrow()
  t.equal(pending.settle_action, 'late_capture', 'decided, not finished')
  t.equal(pending.settled_at, null)
  t.ok((await verifyLedger(cloud.db)).ok, 'the ledger is consistent while the capture is pending')

  faults.fail = undefined
  t.equal(await expireSessions(cloud.deps), 1, 'the sweeper finishes it')
  const retry = await reportSale(cloud, w, saleA.jws, a.sessionId)
  t.equal(retry.status, 200, 'the station retry (same key) is answered, not stored as the 503')
  t.equal(retry.body.state, 'captured')
  t.equal(retry.body.capturedMinor, amountForVolume(10_000, 1799, 'EUR'))

  // A void decided but not carried out (processor down while expiring), then the sale arrives.
  const b = (await authorize(cloud, w, { amountMinor: 5000, grade: 'diesel' })).body
  faults.fail = (op) => (op === 'void' ? 'ISSUER_UNAVAILABLE' : undefined)
  cloud.clock.now += unusedHoldLifetimeMs(cloud.deps.config) + 1000
  await expireSessions(cloud.deps)
  const half = await cloud.db.selectFrom('sessions').selectAll().where('id', '=', b.sessionId).executeTakeFirstOrThrow()
  t.equal(half.settle_action, 'void')
  t.equal(half.settled_at, null)
  const saleB = await saleFor(w, b, { volumeMilli: 1_000 })
  const blocked = await reportSale(cloud, w, saleB.jws, b.sessionId)
  t.equal(blocked.status, 503, 'the void must finish before a late capture starts')
  faults.fail = undefined
  const done = await reportSale(cloud, w, saleB.jws, b.sessionId)
  t.equal(done.status, 200, done.raw)
  t.equal(done.body.state, 'captured')
  t.same(await entries(cloud, b.sessionId), ['hold', 'release', 'late_capture'])
  t.equal(await available(cloud, w), 100_000 - amountForVolume(10_000, 1799, 'EUR') - amountForVolume(1_000, 1799, 'EUR'))
  t.ok((await verifyLedger(cloud.db)).ok)
})

t.test('bad late sales change nothing', async (t) => {
  const cloud = await makeCloud(t)
  const w = await provision(cloud)
  const a = (await authorize(cloud, w, { amountMinor: 5000 })).body
  await expireHold(cloud, a.sessionId)
  const good = await saleFor(w, a, { volumeMilli: 10_000 })
  const forger = await generateSigningKey(w.stationKey.kid)
  const forged = await reportSale(cloud, w, await signSaleRecord(good.record, forger))
  t.equal(forged.body.error.code, 'SALE_SIGNATURE_INVALID')
  const wrongToken = await reportSale(cloud, w, (await saleFor(w, a, { volumeMilli: 10_000, tokenId: 'tok-not-this-one' })).jws)
  t.equal(wrongToken.body.error.code, 'SALE_MISMATCH')
  const badSum = await reportSale(cloud, w, (await saleFor(w, a, { volumeMilli: 10_000, amountMinor: 1 })).jws)
  t.equal(badSum.body.error.code, 'SALE_ARITHMETIC_INVALID')
  const row = await cloud.db.selectFrom('sessions').selectAll().where('id', '=', a.sessionId).executeTakeFirstOrThrow()
  t.equal(row.state, 'expired')
  t.equal(row.settle_action, 'void')
  t.equal(row.sale, null)
  t.same(await entries(cloud, a.sessionId), ['hold', 'release'])
})

t.test('the sweeper leaves a held session alone while a pump may still use its token', async (t) => {
  const cloud = await makeCloud(t, { env: { FUELPAY_UNUSED_HOLD_TTL_MS: '60000', FUELPAY_PUMP_SESSION_MAX_MS: '600000', FUELPAY_PUMP_AUTHORIZATION_TTL_S: '60' } })
  t.equal(unusedHoldLifetimeMs(cloud.deps.config), (60 + 30) * 1000 + 600_000, 'token ttl + skew + longest pump session')
  const w = await provision(cloud)
  const a = (await authorize(cloud, w, { amountMinor: 2000 })).body
  const claims = JSON.parse(Buffer.from(a.token.split('.')[1], 'base64url').toString()) as { iat: number; exp: number }
  t.equal(claims.exp - claims.iat, 60, 'FUELPAY_PUMP_AUTHORIZATION_TTL_S sets the token lifetime')
  cloud.clock.now += 600_000
  t.equal(await expireSessions(cloud.deps), 0, 'a pump may still be dispensing')
  cloud.clock.now += 91_000
  t.equal(await expireSessions(cloud.deps), 1)
})

t.test('a late drip that prices to nothing is acknowledged and charges nothing', async (t) => {
  const cloud = await makeCloud(t)
  const w = await provision(cloud)
  const a = (await authorize(cloud, w, { amountMinor: 5000, grade: 'diesel' })).body
  await expireHold(cloud, a.sessionId)
  const drip = await saleFor(w, a, { volumeMilli: 2, outcome: 'lapsed' })
  t.equal(drip.record.amountMinor, 0, '2 ml at 1.799 is 0.00')
  for (const attempt of ['first', 'retry']) {
    const r = await reportSale(cloud, w, drip.jws, a.sessionId)
    t.equal(r.status, 200, `${attempt}: acknowledged, so the station's queue moves on (${r.raw.slice(0, 200)})`)
    t.equal(r.body.state, 'expired')
    t.equal(r.body.capturedMinor, 0)
  }
  const row = await cloud.db.selectFrom('sessions').selectAll().where('id', '=', a.sessionId).executeTakeFirstOrThrow()
  t.ok(row.settled_at, 'still settled')
  t.ok(row.sale, 'the sale is recorded')
  t.equal(await expireSessions(cloud.deps), 0, 'nothing for the sweeper')
  t.equal(await available(cloud, w), 100_000)
  t.same(await entries(cloud, a.sessionId), ['hold', 'release'])
})

t.test('a sale at a price the operator changed after the hold is captured, and the change is flagged', async (t) => {
  const cloud = await makeCloud(t)
  const w = await provision(cloud)
  const a = (await authorize(cloud, w, { amountMinor: 5000, grade: 'diesel' })).body
  const p = await call(cloud.app, { method: 'POST', url: `/v1/admin/stations/${w.stationId}/prices`, auth: ADMIN, payload: { grade: 'diesel', unitPriceMilli: 1849 } })
  t.equal(p.status, 200, p.raw)
  const sale = await saleFor(w, a, { volumeMilli: 20_000, unitPriceMilli: 1849 })
  const r = await reportSale(cloud, w, sale.jws)
  t.equal(r.status, 200, r.raw)
  t.equal(r.body.capturedMinor, amountForVolume(20_000, 1849, 'EUR'), 'charged at the price the pump showed and signed')
  const event = (await outboxKinds(cloud, a.sessionId)).find((e) => e.kind === 'session.sale')
  t.equal(event?.payload.authorizedUnitPriceMilli, 1799, 'the console sees the price differed from the authorized one')
  t.ok((await verifyLedger(cloud.db)).ok)
})

t.test('a capture the issuer refuses for good is charged by a late capture, and the station is answered', async (t) => {
  const cloud = await makeCloud(t)
  const w = await provision(cloud)
  const a = (await authorize(cloud, w, { amountMinor: 5000, grade: 'diesel' })).body
  t.equal(await available(cloud, w), 95_000)
  // The station was offline for days: the issuer let the authorization lapse and gave the credit back.
  const row = await cloud.db.selectFrom('sessions').selectAll().where('id', '=', a.sessionId).executeTakeFirstOrThrow()
  await cloud.db.updateTable('sim_authorizations').set({ state: 'voided' }).where('id', '=', row.processor_auth_id as string).execute()
  await cloud.db.updateTable('sim_cards').set({ available_minor: 100_000 }).where('token', '=', w.cardToken).execute()

  const sale = await saleFor(w, a, { volumeMilli: 20_000 })
  const amount = amountForVolume(20_000, 1799, 'EUR')
  const r = await reportSale(cloud, w, sale.jws)
  t.equal(r.status, 200, `answered, so the station's queue moves on: ${r.raw.slice(0, 200)}`)
  t.equal(r.body.state, 'captured')
  t.equal(r.body.capturedMinor, amount)
  t.equal(await available(cloud, w), 100_000 - amount, 'charged once, for what was pumped')
  t.same(await entries(cloud, a.sessionId), ['hold', 'release', 'late_capture'])
  const after = await cloud.db.selectFrom('sessions').selectAll().where('id', '=', a.sessionId).executeTakeFirstOrThrow()
  t.equal(after.settle_action, 'late_capture')
  t.match(after.reason_message, /capture refused/)
  const again = await reportSale(cloud, w, sale.jws)
  t.equal(again.body.state, 'captured', 'a retry of the sale joins it')
  t.equal(await available(cloud, w), 100_000 - amount)
  t.ok((await verifyLedger(cloud.db)).ok)
})
