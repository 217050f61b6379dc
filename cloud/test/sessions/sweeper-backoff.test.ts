import t from 'tap'
import { unusedHoldLifetimeMs } from '../../src/sessions/authorization.service.ts'
import { expireSessions, SETTLE_RETRY_MS } from '../../src/sessions/settlement.service.ts'
import { authorize, call, makeCloud, provision, vehicleAuth } from '../helpers.ts'

/**
 * A settlement the processor keeps refusing (here: every void, the issuer unavailable)
 * is tried again later each time, so that enough of them cannot fill every
 * sweep's batch and keep other holds from ever being expired and released.
 */
t.test('settlements the processor keeps refusing back off; the sweeper gets to the other sessions', async (t) => {
  let refuseVoids = true
  const cloud = await makeCloud(t, { faults: { fail: (op) => (refuseVoids && op === 'void' ? 'ISSUER_UNAVAILABLE' : undefined) } })
  const w = await provision(cloud)
  const ids: string[] = []
  for (let i = 0; i < 3; i++) {
    const a = await authorize(cloud, w, { amountMinor: 1000 })
    t.equal(a.status, 201)
    ids.push(a.body.sessionId as string)
    cloud.clock.now += 1000
  }
  const rows = () => cloud.db.selectFrom('sessions').select(['id', 'state', 'settle_action', 'settled_at', 'settle_attempts']).orderBy('created_at').execute()
  cloud.clock.now += unusedHoldLifetimeMs(cloud.deps.config) + 1000

  await expireSessions(cloud.deps, { limit: 2 })
  t.same((await rows()).map((r) => [r.state, r.settle_action, r.settle_attempts]), [['expired', 'void', 1], ['expired', 'void', 1], ['held', null, 0]],
    'the two oldest decided; their voids refused')
  await expireSessions(cloud.deps, { limit: 2 })
  t.same((await rows()).map((r) => [r.state, r.settle_attempts]), [['expired', 1], ['expired', 1], ['expired', 1]],
    'the next sweep reaches the third instead of asking about the first two again')
  t.equal(await expireSessions(cloud.deps, { limit: 2 }), 0, 'nothing is due while all three wait')

  cloud.clock.now += SETTLE_RETRY_MS
  await expireSessions(cloud.deps, { limit: 10 })
  t.same((await rows()).map((r) => r.settle_attempts), [2, 2, 2], 'tried again after the wait, and refused again')
  cloud.clock.now += SETTLE_RETRY_MS
  t.equal(await expireSessions(cloud.deps, { limit: 10 }), 0, 'the second wait is twice as long')

  refuseVoids = false
  cloud.clock.now += SETTLE_RETRY_MS
  t.equal(await expireSessions(cloud.deps, { limit: 10 }), 3, 'once the processor agrees, all three are settled')
  t.ok((await rows()).every((r) => r.settled_at !== null))
})

t.test('a cancelled hold whose void keeps failing backs off too, once its hold time has passed', async (t) => {
  let refuseVoids = true
  const cloud = await makeCloud(t, { faults: { fail: (op) => (refuseVoids && op === 'void' ? 'ISSUER_UNAVAILABLE' : undefined) } })
  const w = await provision(cloud)
  const ids: string[] = []
  for (let i = 0; i < 3; i++) {
    const a = await authorize(cloud, w, { amountMinor: 1000 })
    t.equal(a.status, 201)
    ids.push(a.body.sessionId as string)
    cloud.clock.now += 1000
  }
  // The drivers of the two oldest cancel while the processor is down: decided, not carried out (state still held).
  for (const id of ids.slice(0, 2)) {
    const c = await call(cloud.app, { method: 'POST', url: `/v1/sessions/${id}/cancel`, auth: await vehicleAuth(w, cloud.clock.now) })
    t.equal(c.status, 503)
  }
  const rows = () => cloud.db.selectFrom('sessions').select(['id', 'state', 'settle_action', 'settle_attempts']).orderBy('created_at').execute()
  cloud.clock.now += unusedHoldLifetimeMs(cloud.deps.config) + 1000
  await expireSessions(cloud.deps, { limit: 2 })
  t.same((await rows()).map((r) => [r.state, r.settle_action, r.settle_attempts]), [['held', 'void', 1], ['held', 'void', 1], ['held', null, 0]],
    'the two cancelled are tried and wait')
  await expireSessions(cloud.deps, { limit: 2 })
  t.same((await rows()).map((r) => [r.state, r.settle_action, r.settle_attempts]), [['held', 'void', 1], ['held', 'void', 1], ['expired', 'void', 1]],
    'the next sweep reaches the third, not the two waiting ones again')
  refuseVoids = false
  cloud.clock.now += SETTLE_RETRY_MS
  t.equal(await expireSessions(cloud.deps, { limit: 10 }), 3)
  t.same((await rows()).map((r) => r.state), ['voided', 'voided', 'expired'])
})
