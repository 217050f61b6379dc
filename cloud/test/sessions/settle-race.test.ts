import { amountForVolume } from '@fuelpay/proto'
import t from 'tap'
import { verifyLedger } from '../../src/ledger/ledger.repository.ts'
import type { SimFaults } from '../../src/processor/sim-processor.ts'
import { finishSettlement } from '../../src/sessions/settlement.service.ts'
import { authorize, call, makeCloud, provision, reportSale, saleFor, vehicleAuth } from '../helpers.ts'

/**
 * Races between two carriers of one session's settlement: one read the
 * session before another finished it and decided something new.
 */
t.test('a void carried out from a stale read does not settle the late capture decided meanwhile', async (t) => {
  const faults: SimFaults = {}
  const cloud = await makeCloud(t, { faults })
  const w = await provision(cloud)
  const a = (await authorize(cloud, w, { amountMinor: 4000, grade: 'diesel' })).body
  // The driver cancels while the processor is down: the void is decided, not carried out.
  faults.fail = (op) => (op === 'void' ? 'ISSUER_UNAVAILABLE' : undefined)
  const cancel = await call(cloud.app, { method: 'POST', url: `/v1/sessions/${a.sessionId}/cancel`, auth: await vehicleAuth(w, cloud.clock.now) })
  t.equal(cancel.status, 503)
  // A second report of the pump's sale (or the sweeper) reads the session now, with the void still to do...
  const stale = await cloud.db.selectFrom('sessions').selectAll().where('id', '=', a.sessionId).executeTakeFirstOrThrow()
  t.equal(stale.settle_action, 'void')

  // ...while the first report finishes the void and decides a late capture (not yet carried out: the issuer is slow).
  faults.fail = (op) => (op === 'authorize' ? 'ISSUER_UNAVAILABLE' : undefined)
  const sale = await saleFor(w, a, { volumeMilli: 10_000 })
  const first = await reportSale(cloud, w, sale.jws)
  t.equal(first.status, 503, first.raw)
  const decided = await cloud.db.selectFrom('sessions').selectAll().where('id', '=', a.sessionId).executeTakeFirstOrThrow()
  t.equal(decided.settle_action, 'late_capture')
  t.equal(decided.settled_at, null)

  // The second carrier now does its (stale) void and records it.
  faults.fail = undefined
  await finishSettlement(cloud.deps, a.sessionId, stale).catch(() => undefined)

  const again = await reportSale(cloud, w, sale.jws)
  t.equal(again.status, 200, again.raw)
  t.equal(again.body.state, 'captured', 'the pumped fuel is charged')
  t.equal(again.body.capturedMinor, amountForVolume(10_000, 1799, 'EUR'))
  const kinds = (await cloud.db.selectFrom('journal_entries').select('kind').where('session_id', '=', a.sessionId).orderBy('id').execute()).map((e) => e.kind)
  t.same(kinds, ['hold', 'release', 'late_capture'], 'the hold released once')
  const ledger = await verifyLedger(cloud.db)
  t.ok(ledger.ok, JSON.stringify(ledger))
})

t.test('a void the processor refuses for good does not block the station\'s sales for ever', async (t) => {
  const faults: SimFaults = {}
  const cloud = await makeCloud(t, { faults })
  const w = await provision(cloud)
  const a = (await authorize(cloud, w, { amountMinor: 4000, grade: 'diesel' })).body
  const b = (await authorize(cloud, w, { amountMinor: 4000, grade: 'diesel' })).body
  // The issuer already let the hold go (it lapsed while the station was offline): it refuses the void.
  faults.fail = (op) => (op === 'void' ? 'DECLINED' : undefined)
  const zero = await reportSale(cloud, w, (await saleFor(w, a, { volumeMilli: 0, outcome: 'lapsed' })).jws)
  t.equal(zero.status, 200, `answered, so the station's in-order queue moves on: ${zero.raw.slice(0, 200)}`)
  t.equal(zero.body.state, 'voided')
  t.equal(zero.body.releasedMinor, 4000)
  const next = await reportSale(cloud, w, (await saleFor(w, b, { volumeMilli: 10_000 })).jws)
  t.equal(next.status, 200)
  t.equal(next.body.state, 'captured', 'the next sale in the queue is charged')
  const ledger = await verifyLedger(cloud.db)
  t.ok(ledger.ok, JSON.stringify(ledger))
})

t.test('a late capture refused for good, whose void is refused for good too, is answered and alerted, not retried for ever', async (t) => {
  const faults: SimFaults = {}
  const cloud = await makeCloud(t, { faults })
  const w = await provision(cloud)
  const a = (await authorize(cloud, w, { amountMinor: 4000, grade: 'diesel' })).body
  const cancel = await call(cloud.app, { method: 'POST', url: `/v1/sessions/${a.sessionId}/cancel`, auth: await vehicleAuth(w, cloud.clock.now) })
  t.equal(cancel.body.state, 'voided')
  faults.fail = (op) => (op === 'capture' || op === 'void' ? 'DECLINED' : undefined)
  const r = await reportSale(cloud, w, (await saleFor(w, a, { volumeMilli: 10_000 })).jws)
  t.equal(r.status, 200, `answered, so the station's in-order queue moves on: ${r.raw.slice(0, 200)}`)
  t.equal(r.body.state, 'failed')
  t.equal(r.body.capturedMinor, 0)
  const alerts = await cloud.db.selectFrom('outbox').select('kind').where('aggregate_id', '=', a.sessionId).where('kind', '=', 'session.settlement-failed').execute()
  t.equal(alerts.length, 1, 'the console is told: fuel pumped, not paid')
  const ledger = await verifyLedger(cloud.db)
  t.ok(ledger.ok, JSON.stringify(ledger))
})
