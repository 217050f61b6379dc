import t from 'tap'
import { verifyLedger } from '../../src/ledger/ledger.repository.ts'
import { UNRECORDED_HOLD_GIVE_UP_MS, UNRECORDED_HOLD_RETRY_MS, unusedHoldLifetimeMs } from '../../src/sessions/authorization.service.ts'
import { expireSessions } from '../../src/sessions/settlement.service.ts'
import { authorize, type Cloud, makeCloud, provision, type World } from '../helpers.ts'

/**
 * A hold the processor placed but the session never recorded (design,
 * failure handling: a cloud restart loses nothing) is given back: after a
 * crash between the processor's answer and the hold's commit, and after a
 * processor that answered too late. Until the processor confirms, the
 * session stays unsettled and the sweeper keeps asking.
 */

const available = async (cloud: Cloud, w: World) =>
  Number((await cloud.db.selectFrom('sim_cards').select('available_minor').where('token', '=', w.cardToken).executeTakeFirstOrThrow()).available_minor)

const simAuths = (cloud: Cloud, w: World) =>
  cloud.db.selectFrom('sim_authorizations').select(['state', 'approved_minor']).where('card_token', '=', w.cardToken).execute()

const onlySession = (cloud: Cloud) => cloud.db.selectFrom('sessions').selectAll().executeTakeFirstOrThrow()

t.test('the cloud fails after the processor placed the hold: the sweeper releases it', async (t) => {
  const cloud = await makeCloud(t)
  const w = await provision(cloud)
  const real = cloud.deps.processor
  let crash = true
  cloud.deps.processor = {
    ...real,
    authorize: async (i) => {
      const r = await real.authorize(i)
      if (crash) throw new Error('the process dies after the processor answered')
      return r
    },
  }
  const key = 'crash-retry-000001'
  t.equal((await authorize(cloud, w, { amountMinor: 5000, grade: 'diesel' }, key)).status, 500)
  crash = false
  t.equal(await available(cloud, w), 95_000, 'the processor holds 50.00 the session does not show')
  t.equal((await onlySession(cloud)).state, 'requested')

  const retry = await authorize(cloud, w, { amountMinor: 5000, grade: 'diesel' }, key)
  t.equal(retry.status, 409)
  t.equal(retry.body.error.code, 'IDEMPOTENCY_IN_PROGRESS', 'a retry meanwhile hears the first attempt is unfinished')

  t.equal(await expireSessions(cloud.deps), 0, 'not yet: the request may still be running')
  cloud.clock.now += 6 * 60_000
  t.equal(await expireSessions(cloud.deps), 1, 'the sweeper fails the request and voids its hold')
  const s = await onlySession(cloud)
  t.equal(s.state, 'failed')
  t.ok(s.settled_at, 'settled once the processor confirmed the void')
  t.ok(s.processor_auth_id, 'the voided authorization is recorded')
  t.equal(await available(cloud, w), 100_000, 'the card has its 50.00 back')
  t.same(await simAuths(cloud, w), [{ state: 'voided', approved_minor: 5000 }], 'one authorization, voided: no second hold')
  t.equal(await expireSessions(cloud.deps), 0, 'nothing left to do')

  const late = await authorize(cloud, w, { amountMinor: 5000, grade: 'diesel' }, key)
  t.equal(late.status, 504, 'the same key now hears how its attempt ended, not "in progress" for ever')
  t.equal(late.body.error.code, 'PROCESSOR_TIMEOUT')
  t.same((await verifyLedger(cloud.db)).ok, true)
})

t.test('the processor answers after the cloud stopped waiting: the hold is voided, retried until it is', async (t) => {
  let latency = 0
  let down = false
  const cloud = await makeCloud(t, {
    env: { FUELPAY_PROCESSOR_TIMEOUT_MS: '100' },
    faults: { latencyMs: () => latency, fail: (op) => (down && op === 'void' ? 'ISSUER_UNAVAILABLE' : undefined) },
  })
  const w = await provision(cloud)
  latency = 400
  down = true
  const r = await authorize(cloud, w, { amountMinor: 5000, grade: 'diesel' })
  t.equal(r.status, 504)
  t.equal(r.body.error.code, 'PROCESSOR_TIMEOUT')
  await new Promise((res) => setTimeout(res, 1200))
  t.equal(await available(cloud, w), 95_000, 'the slow processor placed the hold after all, and its void failed')
  const failed = await onlySession(cloud)
  t.equal(failed.state, 'failed')
  t.equal(failed.settled_at, null, 'unsettled while the processor may hold money for it')

  latency = 0
  cloud.clock.now += 6 * 60_000
  t.equal(await expireSessions(cloud.deps), 0, 'the issuer is still down: asked, and to be asked again later')
  down = false
  t.equal(await expireSessions(cloud.deps), 0, 'not again within the retry interval')
  cloud.clock.now += UNRECORDED_HOLD_RETRY_MS + 1000
  t.equal(await expireSessions(cloud.deps), 1)
  t.equal(await available(cloud, w), 100_000, 'the card has its 50.00 back')
  t.ok((await onlySession(cloud)).settled_at)
  t.same((await simAuths(cloud, w)).map((a) => a.state), ['voided'])
})

t.test('an approved amount too small for any fuel is voided before the session is settled', async (t) => {
  let down = true
  const cloud = await makeCloud(t, { faults: { fail: (op) => (down && op === 'void' ? 'ISSUER_UNAVAILABLE' : undefined) } })
  const w = await provision(cloud)
  // At 20.000 a litre, 0.01 buys half a millilitre: nothing a pump can deliver.
  await cloud.db.insertInto('pump_prices').values({ station_id: w.stationId, pump: 1, grade: 'diesel', unit_price_milli: 20_000 }).execute()
  const r = await authorize(cloud, w, { amountMinor: 1, grade: 'diesel' })
  t.equal(r.body.error?.code, 'AMOUNT_OUT_OF_RANGE', r.raw)
  t.equal(await available(cloud, w), 99_999, 'held, and the void failed')
  t.equal((await onlySession(cloud)).settled_at, null)
  down = false
  cloud.clock.now += UNRECORDED_HOLD_RETRY_MS + 1000
  t.equal(await expireSessions(cloud.deps), 1)
  const s = await onlySession(cloud)
  t.equal(s.state, 'declined')
  t.ok(s.settled_at)
  t.equal(await available(cloud, w), 100_000)
})

t.test('an error between the processor hold and its commit fails the session and voids the hold at once', async (t) => {
  const cloud = await makeCloud(t)
  const w = await provision(cloud)
  const keys = cloud.deps.keys
  cloud.deps.keys = {
    ...keys,
    active: () => {
      throw new Error('no signing key')
    },
  }
  const r = await authorize(cloud, w, { amountMinor: 5000, grade: 'diesel' })
  t.equal(r.status, 500)
  const s = await onlySession(cloud)
  t.equal(s.state, 'failed')
  t.ok(s.settled_at, 'settled: the processor confirmed the void')
  t.equal(await available(cloud, w), 100_000, 'no sweeper needed')
  t.same((await simAuths(cloud, w)).map((a) => a.state), ['voided'])
})

t.test('a retry that takes over a slow attempt\'s stale claim does not lose that attempt\'s answer', async (t) => {
  const cloud = await makeCloud(t)
  const w = await provision(cloud)
  const real = cloud.deps.processor
  let release!: () => void
  const gate = new Promise<void>((r) => {
    release = r
  })
  cloud.deps.processor = {
    ...real,
    authorize: async (i) => {
      await gate
      return real.authorize(i)
    },
  }
  const key = 'slow-attempt-000001'
  const slow = authorize(cloud, w, { amountMinor: 5000, grade: 'diesel' }, key)
  while ((await cloud.db.selectFrom('sessions').select('id').execute()).length === 0) await new Promise((r) => setTimeout(r, 10))
  cloud.clock.now += 61_000
  const meanwhile = await authorize(cloud, w, { amountMinor: 5000, grade: 'diesel' }, key)
  t.equal(meanwhile.body.error?.code, 'IDEMPOTENCY_IN_PROGRESS', 'the first attempt is still running')
  release()
  const first = await slow
  t.equal(first.status, 201, first.raw)
  const later = await authorize(cloud, w, { amountMinor: 5000, grade: 'diesel' }, key)
  t.equal(later.status, 201, 'a later retry gets the first attempt\'s answer')
  t.equal(later.body.sessionId, first.body.sessionId)
  t.equal(later.body.token, first.body.token)
})

t.test('a processor that stays unsure is asked every few minutes, last in the sweep, and given up on after a week', async (t) => {
  const cloud = await makeCloud(t)
  // The issuer answers "unavailable" and the processor replays that answer for the session's key.
  const stuck = await provision(cloud, { forcedDecline: 'ISSUER_UNAVAILABLE' })
  const r = await authorize(cloud, stuck, { amountMinor: 5000, grade: 'diesel' })
  t.equal(r.body.error?.code, 'ISSUER_UNAVAILABLE')
  const w = await provision(cloud)
  const held = (await authorize(cloud, w, { amountMinor: 5000, grade: 'diesel' })).body
  await new Promise((res) => setTimeout(res, 200))

  cloud.clock.now += unusedHoldLifetimeMs(cloud.deps.config) + 1000
  t.equal(await expireSessions(cloud.deps, { limit: 1 }), 1, 'a sweep of one takes the expired hold first')
  const expired = await cloud.db.selectFrom('sessions').selectAll().where('id', '=', held.sessionId).executeTakeFirstOrThrow()
  t.equal(expired.state, 'expired')
  t.equal(await expireSessions(cloud.deps), 0, 'the unsure one is asked, and stays unsettled')
  const failed = await cloud.db.selectFrom('sessions').selectAll().where('state', '=', 'failed').executeTakeFirstOrThrow()
  t.equal(failed.settled_at, null)
  const real = cloud.deps.processor
  let asked = 0
  cloud.deps.processor = {
    ...real,
    authorize: (i) => {
      asked++
      return real.authorize(i)
    },
  }
  t.equal(await expireSessions(cloud.deps), 0)
  t.equal(asked, 0, 'not asked again within the retry interval')
  cloud.clock.now += UNRECORDED_HOLD_RETRY_MS + 1000
  t.equal(await expireSessions(cloud.deps), 0)
  t.equal(asked, 1, 'asked again after it')

  cloud.clock.now += UNRECORDED_HOLD_GIVE_UP_MS
  t.equal(await expireSessions(cloud.deps), 1, 'after a week the sweeper settles it')
  const given = await cloud.db.selectFrom('sessions').selectAll().where('id', '=', failed.id).executeTakeFirstOrThrow()
  t.ok(given.settled_at)
  t.equal(await expireSessions(cloud.deps), 0, 'and leaves it')
})

t.test('a hold the processor named is never given up on: its void is retried past the week', async (t) => {
  let down = true
  const cloud = await makeCloud(t, { faults: { fail: (op) => (down && op === 'void' ? 'ISSUER_UNAVAILABLE' : undefined) } })
  const w = await provision(cloud)
  await cloud.db.insertInto('pump_prices').values({ station_id: w.stationId, pump: 1, grade: 'diesel', unit_price_milli: 20_000 }).execute()
  t.equal((await authorize(cloud, w, { amountMinor: 1, grade: 'diesel' })).body.error?.code, 'AMOUNT_OUT_OF_RANGE')
  cloud.clock.now += UNRECORDED_HOLD_GIVE_UP_MS + 60_000
  t.equal(await expireSessions(cloud.deps), 0, 'the void still fails a week on')
  t.equal((await onlySession(cloud)).settled_at, null, 'and the session is not settled over a hold still on the card')
  t.equal(await available(cloud, w), 99_999)
  down = false
  cloud.clock.now += UNRECORDED_HOLD_RETRY_MS + 1000
  t.equal(await expireSessions(cloud.deps), 1)
  t.equal(await available(cloud, w), 100_000)
  t.ok((await onlySession(cloud)).settled_at)
})
