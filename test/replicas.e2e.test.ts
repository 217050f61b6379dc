import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDatabase } from '@fuelpay/platform'
import { redisReachable, TEST_REDIS_URL, testDatabaseKind } from '@fuelpay/platform/test-db'
import { amountForVolume } from '@fuelpay/proto'
import { sql } from 'kysely'
import t from 'tap'
import { adminGet, connectCar, eventually, fuelAuthorization, startWorld } from './helpers/fixture.ts'
import { startProgram } from './helpers/processes.ts'

/**
 * Design, scale: "beyond one machine: stateless cloud replicas on one
 * PostgreSQL, aedes brokers clustered through Redis". Two cloud processes,
 * each with its embedded broker, on one database and one Redis: the station
 * is on replica A's broker, the car gets its hold and its broker login from
 * replica B, and its pump request crosses from B's broker to A's.
 */
const REDIS_URL = TEST_REDIS_URL

const skip =
  (await testDatabaseKind()) === 'pglite'
    ? 'replicas share one PostgreSQL; this run uses PGlite'
    : (await redisReachable(REDIS_URL))
      ? false
      : `no Redis at ${REDIS_URL}`

t.test('two cloud replicas on one PostgreSQL and one Redis serve as one', { skip }, async (t) => {
  const run = randomBytes(3).toString('hex')
  const world = await startWorld({ cloudEnv: { FUELPAY_REDIS_URL: REDIS_URL, FUELPAY_CLOUD_ID: `a${run}` } })
  t.teardown(world.close)
  if (!world.databaseUrl) return t.fail('no database URL')
  const dirB = await mkdtemp(join(tmpdir(), 'fuelpay-replica-b-'))
  const replicaB = startProgram('cloud/src/server.ts', [], {
    env: {
      DATABASE_URL: world.databaseUrl,
      FUELPAY_DATA_DIR: dirB,
      FUELPAY_HTTP_PORT: '0',
      FUELPAY_MQTT_PORT: '0',
      FUELPAY_ADMIN_TOKEN: world.adminToken,
      FUELPAY_REDIS_URL: REDIS_URL,
      FUELPAY_CLOUD_ID: `b${run}`,
    },
  })
  t.teardown(async () => {
    await replicaB.kill()
    await rm(dirB, { recursive: true, force: true })
  })
  const readyB = await replicaB.waitForLog('fuelpay cloud ready', 60_000)
  const b = { httpUrl: String(readyB.httpUrl), mqttUrl: String(readyB.mqttUrl) }
  t.not(b.mqttUrl, world.mqttUrl, 'each replica runs its own broker')

  await world.startController(['--sim-auto-lift-ms', '200', '--sim-flow-rate', '4000', '--sim-fill-milli', '8000'])
  const car = await connectCar(b, world.vehicle)
  t.teardown(() => car.close())
  t.equal(car.credentials.brokerUrl, b.mqttUrl, "the car is on replica B's broker")

  const auth = await fuelAuthorization(b, world.vehicle, { station: world.station, pump: 1, amountMinor: 3000, grade: 'diesel' })
  // Subscriptions reach the other broker through Redis asynchronously: ask again until the station answers.
  const authorized = await eventually('the pump on replica A answers the car on replica B', async () => {
    const requestId = await car.authorize(world.station, 1, auth.token, `req${randomBytes(6).toString('hex')}`)
    return car.waitFor((m) => (m.type === 'pump-authorized' || m.type === 'pump-rejected') && m.requestId === requestId, 2000).catch(() => undefined)
  }, 30_000, 0)
  t.equal(authorized.type, 'pump-authorized', `the pump answered ${authorized.type}`)
  const done = await car.waitFor((m) => m.type === 'completed' && m.sessionId === auth.sessionId, 60_000)
  if (done.type !== 'completed') return
  t.equal(done.sale.volumeMilli, 8000, '8 L pumped')

  const viewed = await eventually('captured, as both replicas see it', async () => {
    const [sa, sb] = await Promise.all([
      adminGet(world.httpUrl, world.adminToken, `/v1/sessions/${auth.sessionId}`),
      adminGet(b.httpUrl, world.adminToken, `/v1/sessions/${auth.sessionId}`),
    ])
    return sa.state === 'captured' && sb.state === 'captured' ? sb : undefined
  }, 60_000, 250)
  t.equal(viewed.capturedMinor, amountForVolume(8000, 1799, 'EUR'))

  // Both replicas' links hear every pump message (one broker across them): each is written once.
  const db = await openDatabase<any>({ url: world.databaseUrl })
  t.teardown(() => db.close())
  const counts = await eventually('pump states of the session recorded', async () => {
    const r = await sql<{ n: number; distinct_msgs: number }>`
      SELECT count(*)::int AS n, count(DISTINCT payload->>'msgId')::int AS distinct_msgs
      FROM outbox WHERE kind = 'pump.state' AND payload->>'sessionId' = ${auth.sessionId}`.execute(db.db)
    const row = r.rows[0]
    return row && row.n >= 2 ? row : undefined
  }, 30_000, 250)
  t.equal(counts.n, counts.distinct_msgs, `each of the ${counts.distinct_msgs} pump-state messages became one console event`)
  const ledger = await adminGet(b.httpUrl, world.adminToken, '/v1/admin/ledger/verify')
  t.equal(ledger.ok, true, 'ledger balanced')
})
