import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { openDatabase } from '@fuelpay/platform'
import { testDatabaseKind } from '@fuelpay/platform/test-db'
import { amountForVolume, newNonce, REASONS } from '@fuelpay/proto'
import { sql } from 'kysely'
import t from 'tap'
import { adminGet, type Car, connectCar, eventually, fuelAuthorization, startWorld } from './helpers/fixture.ts'

/**
 * Issue 4, fault tests across real processes (design, failure handling):
 * the controller killed with SIGKILL mid-fueling delivers the sale once with
 * the right amount; while the cloud (and with it the embedded broker) is
 * down, the station finishes its sales, queues them, and delivers them in
 * order when the cloud is back on the same database; a token used before a
 * controller crash is refused after it.
 */
const PRICE = 1799
// Slow pumps, so that there is time to kill things mid-fueling: 1 L/s, at most 6 L.
const SIM = ['--sim-auto-lift-ms', '300', '--sim-flow-rate', '1000', '--sim-fill-milli', '6000']

const totalizer = async (dir: string, pump: number) => {
  try {
    return (JSON.parse(await readFile(join(dir, 'controller', `pump-${pump}.sim.json`), 'utf8')) as { totalizerMilli: number }).totalizerMilli
  } catch {
    return 0
  }
}

// The cloud, the controller's journal and this test share one database across
// processes and restarts: that takes a PostgreSQL server (a PGlite database
// belongs to one process).
const skip = (await testDatabaseKind()) === 'pglite' ? 'shares one database across processes; this run uses PGlite' : false

t.test('controller and cloud failures lose no sale and settle none twice', { skip }, async (t) => {
  const world = await startWorld()
  t.teardown(world.close)
  t.ok(world.databaseUrl, 'PostgreSQL: the database outlives the cloud process')
  if (!world.databaseUrl) return
  const db = await openDatabase<any>({ url: world.databaseUrl })
  t.teardown(() => db.close())
  // The station's journal in PostgreSQL too (a schema of its own), so a SIGKILL cannot tear it.
  const controllerArgs = [...SIM, '--database-url', world.databaseUrl, '--journal-schema', 'pc_st_e2e']
  await world.startController(controllerArgs)
  const cars: Car[] = []
  t.teardown(async () => {
    for (const c of cars) await c.close()
  })
  const car = await connectCar(world, world.vehicle)
  cars.push(car)
  const A = world.station
  const session = (id: string) => adminGet(world.httpUrl, world.adminToken, `/v1/sessions/${id}`)
  const captured = (id: string, timeoutMs = 90_000) =>
    eventually(`session ${id} captured`, async () => {
      const s = await session(id)
      return s.state === 'captured' ? s : undefined
    }, timeoutMs, 250)
  const settlements = async (id: string) =>
    (await sql<{ kind: string }>`SELECT kind FROM journal_entries WHERE session_id = ${id} ORDER BY id`.execute(db.db)).rows.map((r) => r.kind)

  await t.test('SIGKILL mid-fueling: recovered from the journal, delivered once, the right amount', async (t) => {
    const before = await totalizer(world.dir, 1)
    const auth = await fuelAuthorization(world, world.vehicle, { station: A, pump: 1, amountMinor: 3000, grade: 'diesel' })
    const requestId = await car.authorize(A, 1, auth.token)
    await car.waitFor((m) => m.type === 'pump-authorized' && m.requestId === requestId)
    await car.waitFor((m) => m.type === 'progress' && m.sessionId === auth.sessionId && m.volumeMilli >= 1500, 30_000)
    await world.controller?.kill('SIGKILL')
    const pumped = (await totalizer(world.dir, 1)) - before
    t.ok(pumped > 0 && pumped < 6000, `killed mid-fueling, after ${pumped} mL`)
    t.notOk(car.inbox.some((m) => m.message.type === 'completed' && m.message.sessionId === auth.sessionId), 'no sale before the crash')

    await world.startController(controllerArgs)
    const s = await captured(auth.sessionId)
    t.equal(s.capturedMinor, amountForVolume(pumped, PRICE, 'EUR'), 'captured exactly what the totalizer says was pumped')
    t.equal(s.releasedMinor, 3000 - s.capturedMinor)
    const ended = await car.waitFor((m) => (m.type === 'completed' || m.type === 'session-ended') && m.sessionId === auth.sessionId)
    t.ok(ended, `the car hears how the session ended (${ended.type})`)
    if (ended.type === 'completed') t.equal(ended.sale.volumeMilli, pumped)
    t.same(await settlements(auth.sessionId), ['hold', 'capture', 'release'], 'one capture, one release')

    await t.test('the token used before the crash is refused after the restart: TOKEN_REPLAYED', async (t) => {
      const again = await car.authorize(A, 1, auth.token)
      const m = await car.waitFor((x) => x.type === 'pump-rejected' && x.requestId === again)
      t.equal(m.type === 'pump-rejected' && m.reason.code, 'TOKEN_REPLAYED')
      t.equal(m.type === 'pump-rejected' && m.reason.number, REASONS.TOKEN_REPLAYED.number)
    })
  })

  await t.test('the cloud goes away: sales queue at the station and arrive in order, each captured once', async (t) => {
    const controller = world.controller
    if (!controller) return t.fail('no controller')
    const healthUrl = String((await controller.waitForLog('pump controller ready')).healthUrl)
    const health = async () => (await (await fetch(healthUrl, { signal: AbortSignal.timeout(5000) })).json()) as { backlog: number }
    const a1 = await fuelAuthorization(world, world.vehicle, { station: A, pump: 1, amountMinor: 2000, grade: 'diesel' })
    const a2 = await fuelAuthorization(world, world.vehicle, { station: A, pump: 2, amountMinor: 2000, grade: 'diesel' })
    const r1 = await car.authorize(A, 1, a1.token)
    await car.waitFor((m) => m.type === 'pump-authorized' && m.requestId === r1)
    const r2 = await car.authorize(A, 2, a2.token)
    await car.waitFor((m) => m.type === 'pump-authorized' && m.requestId === r2)
    await car.waitFor((m) => m.type === 'progress' && m.sessionId === a2.sessionId && m.volumeMilli > 0)

    // The cloud dies (and its embedded broker with it) while both pumps run.
    await world.stopCloud('SIGKILL')
    const queued = await eventually('both sales journaled and queued', async () => ((await health()).backlog === 2 ? 2 : undefined), 60_000, 250)
    t.equal(queued, 2, 'the station finished both sales without the cloud and holds them')

    await world.restartCloud()
    const s1 = await captured(a1.sessionId)
    const s2 = await captured(a2.sessionId)
    for (const [s, id] of [[s1, a1.sessionId], [s2, a2.sessionId]] as const) {
      t.equal(s.capturedMinor, amountForVolume(6000, PRICE, 'EUR'), `${id}: 6 L charged`)
      t.same(await settlements(id), ['hold', 'capture', 'release'], `${id}: captured once`)
    }
    const arrivals = await sql<{ aggregate_id: string; seq: number }>`
      SELECT aggregate_id, (payload->>'seq')::int AS seq FROM outbox
      WHERE kind = 'session.sale' AND aggregate_id IN (${a1.sessionId}, ${a2.sessionId}) ORDER BY id`.execute(db.db)
    t.equal(arrivals.rows.length, 2, 'each sale arrived once')
    const seqs = arrivals.rows.map((r) => Number(r.seq))
    t.same(seqs, [...seqs].sort((x, y) => x - y), `in the station's order (seq ${seqs.join(', ')})`)
    await eventually('backlog drained', async () => ((await health()).backlog === 0 ? true : undefined), 30_000, 250)
  })

  await t.test('the database drops every connection (a restart, a failover): cloud and station carry on', async (t) => {
    const ended = await sql<{ n: number }>`
      SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid()`.execute(db.db)
    t.ok((ended.rows[0]?.n ?? 0) >= 3, `the server ended ${ended.rows[0]?.n} sessions (cloud pool and listener, station journal)`)
    const before = await totalizer(world.dir, 1)
    // As a car does: the first requests may be handed a connection the server is ending (503
    // UNAVAILABLE, a retry will do), so it asks again under the same Idempotency-Key (and
    // waits out IDEMPOTENCY_IN_PROGRESS, as its client does).
    const key = newNonce()
    const auth = await eventually('a hold once the pool has new connections', async () => {
      try {
        return await fuelAuthorization(world, world.vehicle, { station: A, pump: 1, amountMinor: 2000, grade: 'diesel', idempotencyKey: key })
      } catch (err) {
        if (/-> (503 |409 .*IDEMPOTENCY_IN_PROGRESS)/.test((err as Error).message)) return undefined
        throw err
      }
    }, 15_000, 200)
    const requestId = await car.authorize(A, 1, auth.token)
    await car.waitFor((m) => m.type === 'pump-authorized' && m.requestId === requestId)
    const s = await captured(auth.sessionId)
    const pumped = (await totalizer(world.dir, 1)) - before
    t.ok(pumped > 0, `${pumped} mL pumped`)
    t.equal(s.capturedMinor, amountForVolume(pumped, PRICE, 'EUR'), 'the next session is held, pumped and captured')
    t.same(await settlements(auth.sessionId), ['hold', 'capture', 'release'])
  })

  const ledger = await adminGet(world.httpUrl, world.adminToken, '/v1/admin/ledger/verify')
  t.equal(ledger.ok, true, 'ledger verifies after the crashes')
})

t.test('a station that comes back after the cloud expired the hold: the sale is captured late', { skip }, async (t) => {
  // Short lives so the sweeper expires the hold while the controller is down.
  const world = await startWorld({
    cloudEnv: {
      FUELPAY_HOLD_TTL_MS: '1000',
      FUELPAY_UNUSED_HOLD_TTL_MS: '1000',
      FUELPAY_PUMP_AUTHORIZATION_TTL_S: '1',
      FUELPAY_PUMP_SESSION_MAX_MS: '1000',
      FUELPAY_EXPIRY_SWEEP_MS: '300',
    },
  })
  t.teardown(world.close)
  t.ok(world.databaseUrl, 'PostgreSQL: the test reads the ledger rows')
  if (!world.databaseUrl) return
  const db = await openDatabase<any>({ url: world.databaseUrl })
  t.teardown(() => db.close())
  const controllerArgs = [...SIM, '--database-url', world.databaseUrl, '--journal-schema', 'pc_st_late']
  await world.startController(controllerArgs)
  const car = await connectCar(world, world.vehicle)
  t.teardown(() => car.close())
  const before = await totalizer(world.dir, 1)
  const auth = await fuelAuthorization(world, world.vehicle, { station: world.station, pump: 1, amountMinor: 3000, grade: 'diesel' })
  const requestId = await car.authorize(world.station, 1, auth.token)
  await car.waitFor((m) => m.type === 'pump-authorized' && m.requestId === requestId)
  await car.waitFor((m) => m.type === 'progress' && m.sessionId === auth.sessionId && m.volumeMilli >= 1000, 30_000)
  await world.controller?.kill('SIGKILL')
  const pumped = (await totalizer(world.dir, 1)) - before

  // The sweeper first decides (state expired), then voids at the processor
  // and releases the hold: wait for the release, not just the state.
  const expired = await eventually('the sweeper expires the hold and releases it', async () => {
    const s = await adminGet(world.httpUrl, world.adminToken, `/v1/sessions/${auth.sessionId}`)
    return s.state === 'expired' && s.releasedMinor > 0 ? s : undefined
  }, 30_000, 250)
  t.equal(expired.releasedMinor, 3000, 'the hold went back to the card while the station was away')

  await world.startController(controllerArgs)
  const s = await eventually('late capture', async () => {
    const v = await adminGet(world.httpUrl, world.adminToken, `/v1/sessions/${auth.sessionId}`)
    return v.state === 'captured' ? v : undefined
  }, 90_000, 250)
  t.equal(s.capturedMinor, amountForVolume(pumped, PRICE, 'EUR'), `the ${pumped} mL pumped are charged`)
  const kinds = (await sql<{ kind: string }>`SELECT kind FROM journal_entries WHERE session_id = ${auth.sessionId} ORDER BY id`.execute(db.db)).rows.map((r) => r.kind)
  t.same(kinds, ['hold', 'release', 'late_capture'], 'released, then charged once by a late capture')
  const row = (await sql<{ settle_action: string }>`SELECT settle_action FROM sessions WHERE id = ${auth.sessionId}`.execute(db.db)).rows[0]
  t.equal(row?.settle_action, 'late_capture')
  const ledger = await adminGet(world.httpUrl, world.adminToken, '/v1/admin/ledger/verify')
  t.equal(ledger.ok, true)
})
