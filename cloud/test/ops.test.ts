import { generateSigningKey, keyRingFromJwks, signBrokerCredential, verifyBrokerCredential } from '@fuelpay/proto'
import { sql } from 'kysely'
import t from 'tap'
import { createOutboxReader } from '../src/outbox/outbox-reader.ts'
import type { OutboxEvent } from '../src/outbox/outbox.repository.ts'
import { unusedHoldLifetimeMs } from '../src/sessions/authorization.service.ts'
import { expireSessions } from '../src/sessions/settlement.service.ts'
import { verifyLedger } from '../src/ledger/ledger.repository.ts'
import { ADMIN, authorize, call, makeCloud, provision } from './helpers.ts'

t.test('health, metrics, docs, jwks and rotation, ledger rules, expiry, outbox', async (t) => {
  const cloud = await makeCloud(t)
  const { app } = cloud
  t.same((await call(app, { method: 'GET', url: '/healthz' })).body, { ok: true })
  t.equal((await call(app, { method: 'GET', url: '/readyz' })).status, 200)
  const metrics = await call(app, { method: 'GET', url: '/metrics' })
  t.match(metrics.raw, 'fuelpay_http_requests_total')
  const docs = await call(app, { method: 'GET', url: '/docs/json' })
  t.ok(docs.body.paths['/v1/fuel-authorizations'], 'OpenAPI lists the routes')
  t.equal((await call(app, { method: 'GET', url: '/nope' })).body.error.code, 'NOT_FOUND')

  const jwks1 = (await call(app, { method: 'GET', url: '/.well-known/jwks.json' })).body
  t.equal(jwks1.keys.length, 1)
  t.notOk('d' in jwks1.keys[0], 'no private part published')
  const oldKey = cloud.deps.keys.active()
  const cred = await signBrokerCredential({ role: 'vehicle', id: 'c1' }, oldKey)
  const rot = await call(app, { method: 'POST', url: '/v1/admin/keys/rotate', auth: ADMIN })
  t.equal(rot.status, 200)
  t.not(rot.body.kid, oldKey.kid)
  const jwks2 = (await call(app, { method: 'GET', url: '/.well-known/jwks.json' })).body
  t.same(jwks2.keys.map((k: { kid: string }) => k.kid).sort(), [oldKey.kid, rot.body.kid].sort(), 'current and previous')
  const verified = await verifyBrokerCredential(cred, { keys: await keyRingFromJwks(jwks2), nowMs: Date.now() })
  t.ok(verified.ok, 'tokens signed before the rotation still verify')
  await call(app, { method: 'POST', url: '/v1/admin/keys/rotate', auth: ADMIN })
  const jwks3 = (await call(app, { method: 'GET', url: '/.well-known/jwks.json' })).body
  t.notOk(jwks3.keys.some((k: { kid: string }) => k.kid === oldKey.kid), 'the key before the previous one retires')

  const w = await provision(cloud)
  const stJwks = await call(app, { method: 'GET', url: `/v1/stations/${w.stationId}/jwks` })
  t.equal(stJwks.body.keys[0].kid, w.stationKey.kid)
  t.equal((await call(app, { method: 'GET', url: '/v1/stations/nope/jwks' })).status, 404)

  const events: OutboxEvent[] = []
  const reader = createOutboxReader({ handle: cloud.handle, log: cloud.deps.log, onEvent: (e) => void events.push(e), pollMs: 50 })
  await reader.start()
  t.teardown(() => reader.stop())

  const a = await authorize(cloud, w, { amountMinor: 3000 })
  t.equal(a.status, 201)
  // Expiry: a hold never taken up is voided after the unused-hold time, with the reason recorded.
  cloud.clock.now += cloud.deps.config.unusedHoldTtlMs + 1000
  t.equal(await expireSessions(cloud.deps), 0, 'not while a pump may still be dispensing against the token')
  cloud.clock.now += unusedHoldLifetimeMs(cloud.deps.config) + 1000
  t.equal(await expireSessions(cloud.deps), 1)
  const s = await call(app, { method: 'GET', url: `/v1/sessions/${a.body.sessionId}`, auth: ADMIN })
  t.equal(s.body.state, 'expired')
  t.equal(s.body.releasedMinor, 3000)
  t.equal(s.body.reason.code, 'TIMEOUT')
  t.equal(await expireSessions(cloud.deps), 0, 'nothing twice')
  const card = await cloud.db.selectFrom('sim_cards').selectAll().where('token', '=', w.cardToken).executeTakeFirstOrThrow()
  t.equal(Number(card.available_minor), 100_000, 'the issuer released the hold')

  const report = await call(app, { method: 'GET', url: '/v1/admin/ledger/verify', auth: ADMIN })
  t.equal(report.body.ok, true, report.raw)
  t.equal(report.body.entries, 2)
  await t.rejects(sql`UPDATE postings SET amount_minor = amount_minor + 1`.execute(cloud.db), /append-only/)
  await t.rejects(sql`DELETE FROM journal_entries`.execute(cloud.db), /append-only/)
  await t.rejects(
    cloud.db.transaction().execute(async (tx) => {
      const e = await tx.insertInto('journal_entries').values({ session_id: null, kind: 'hold', currency: 'EUR' }).returning('id').executeTakeFirstOrThrow()
      await tx.insertInto('postings').values({ entry_id: e.id, ledger_account: 'x', amount_minor: 5 }).execute()
    }),
    /does not balance/,
    'an unbalanced entry cannot commit',
  )
  t.ok((await verifyLedger(cloud.db)).ok)

  for (let i = 0; i < 100 && !events.some((e) => e.kind === 'session.expired'); i++) await new Promise((r) => setTimeout(r, 50))
  t.same(
    events.map((e) => e.kind),
    ['session.held', 'session.expired'],
    'outbox events arrive once each, in order',
  )
  t.equal(events[0]?.operatorId, w.operatorId)
  const feed = await call(app, { method: 'GET', url: '/v1/events?after=0', auth: w.operatorKey })
  t.equal(feed.body.items.length, 2)
  const other = await provision(cloud)
  const otherFeed = await call(app, { method: 'GET', url: '/v1/events?after=0', auth: other.operatorKey })
  t.same(otherFeed.body.items, [], "another operator's events are not visible")
  const k = await generateSigningKey('unused')
  t.ok(k.kid)
})

t.test('metrics: with FUELPAY_METRICS_TOKEN set, only its bearer or the admin reads them', async (t) => {
  const token = 'scrape-0123456789abcdef'
  const cloud = await makeCloud(t, { env: { FUELPAY_METRICS_TOKEN: token } })
  const get = (auth?: string) => call(cloud.app, { method: 'GET', url: '/metrics', ...(auth ? { auth } : {}) })
  const none = await get()
  t.equal(none.status, 401)
  t.equal(none.body.error.code, 'UNAUTHENTICATED')
  t.notMatch(none.raw, 'fuelpay_', 'no figures without the token')
  t.equal((await get('scrape-0123456789abcdeX')).status, 401, 'a wrong token')
  t.match((await get(token)).raw, 'fuelpay_http_requests_total', 'the scrape token')
  t.match((await get(ADMIN)).raw, 'fuelpay_http_requests_total', 'the admin token')
  t.equal((await call(cloud.app, { method: 'GET', url: '/healthz' })).status, 200, 'health stays open')
})

t.test('state gauges: unsettled money and the database pool, read at each scrape', async (t) => {
  const { watchState } = await import('../src/ops/state-gauges.ts')
  const cloud = await makeCloud(t)
  watchState(cloud.deps.metrics, { db: cloud.db, pool: cloud.handle.pool, nowMs: () => cloud.clock.now })
  const w = await provision(cloud)
  const gauge = async (name: string) => {
    const text = await cloud.deps.metrics.registry.metrics()
    return text.split('\n').filter((l) => l.startsWith(name)).map((l) => l.trim())
  }
  t.same(await gauge('fuelpay_sessions_unsettled{'), ['fuelpay_sessions_unsettled{kind="decided"} 0', 'fuelpay_sessions_unsettled{kind="unrecorded_hold"} 0'])
  const a = await authorize(cloud, w, { amountMinor: 2000 })
  t.equal(a.status, 201)
  await cloud.db.updateTable('sessions').set({ settle_action: 'void', settle_amount_minor: 0, updated_at: new Date(cloud.clock.now - 90_000) }).where('id', '=', a.body.sessionId).execute()
  t.same(await gauge('fuelpay_sessions_unsettled{'), ['fuelpay_sessions_unsettled{kind="decided"} 1', 'fuelpay_sessions_unsettled{kind="unrecorded_hold"} 0'], 'a decided void not yet confirmed')
  t.same(await gauge('fuelpay_sessions_unsettled_oldest_seconds'), ['fuelpay_sessions_unsettled_oldest_seconds 90'], 'waiting 90 s')
  if (cloud.handle.pool) t.match((await gauge('fuelpay_db_pool_connections{state="total"}'))[0], /^fuelpay_db_pool_connections\{state="total"\} [1-9]/, 'the pool is counted')
})
