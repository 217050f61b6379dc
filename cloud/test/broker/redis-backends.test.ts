import { randomBytes } from 'node:crypto'
import { redisReachable, TEST_REDIS_URL } from '@fuelpay/platform/test-db'
import { type Identity, topics } from '@fuelpay/proto'
import t from 'tap'
import { createRedisBackends } from '../../src/broker/broker.ts'
import { redisOptionsFromUrl } from '../../src/broker/redis-backends.ts'
import { brokerKeys, connectAs, inbox, startBroker, subscribe, WAIT_MS } from './helpers.ts'

const REDIS_URL = TEST_REDIS_URL

t.test('redis urls', async (t) => {
  t.same(redisOptionsFromUrl('redis://127.0.0.1:6379/2'), { host: '127.0.0.1', port: 6379, db: 2 })
  t.same(redisOptionsFromUrl('rediss://u:p%40ss@h.example'), {
    host: 'h.example',
    port: 6379,
    username: 'u',
    password: 'p@ss',
    tls: {},
  })
  t.throws(() => redisOptionsFromUrl('http://x'), TypeError)
  t.throws(() => redisOptionsFromUrl('not a url'), TypeError)
  t.throws(() => redisOptionsFromUrl('redis://h/99'), TypeError)
})

const skip = (await redisReachable(REDIS_URL)) ? false : `no Redis at ${REDIS_URL}`

t.test('two brokers on one Redis act as one', { skip }, async (t) => {
  const { key, keys } = await brokerKeys()
  // Unique ids: the Redis may be shared with other test runs.
  const run = randomBytes(4).toString('hex')
  const station: Identity = { role: 'station', id: `rs${run}` }
  const car: Identity = { role: 'vehicle', id: `rc${run}` }
  const a = await startBroker(t, { keys, ...createRedisBackends({ url: REDIS_URL }) })
  const b = await startBroker(t, { keys, ...createRedisBackends({ url: REDIS_URL }) })

  const st = await connectAs(t, a.url, station, key)
  const stIn = inbox(st)
  t.same(await subscribe(st, topics.stationSubscriptions(station.id)), [1, 1])
  const v = await connectAs(t, b.url, car, key)
  const vIn = inbox(v)
  t.same(await subscribe(v, topics.vehicleInbox(car.id)), [1])

  // Subscriptions travel between brokers asynchronously: repeat the request until it arrives (bounded).
  const deadline = Date.now() + WAIT_MS
  let got: Awaited<ReturnType<typeof stIn.next>> | undefined
  while (!got && Date.now() < deadline) {
    v.publish(topics.pumpRequest(station.id, 1, car.id), 'over-redis', { qos: 1 })
    got = await stIn.next((m) => m.payload === 'over-redis', 250).catch(() => undefined)
  }
  t.ok(got, 'a request published on broker B reaches the station on broker A')
  st.publish(topics.pumpReply(station.id, 1, car.id), 'reply-over-redis', { qos: 1 })
  await vIn.next((m) => m.payload === 'reply-over-redis')
  t.pass('and the reply travels back')

  await st.publishAsync(topics.stationStatus(station.id), '{"online":true}', {
    qos: 1,
    retain: true,
  })
  const cloudB = await connectAs(t, b.url, { role: 'cloud', id: `cl${run}` }, key)
  const cIn = inbox(cloudB)
  t.same(await subscribe(cloudB, topics.stationStatus(station.id)), [1])
  const retained = await cIn.next((m) => m.topic === topics.stationStatus(station.id))
  t.ok(retained.retain, 'a retained status stored through broker A is served by broker B')
  await st.publishAsync(topics.stationStatus(station.id), '', { qos: 1, retain: true })

  const intruder = await connectAs(t, b.url, { role: 'vehicle', id: `rx${run}` }, key)
  t.same(
    await subscribe(intruder, topics.vehicleInbox(car.id)),
    [128],
    'the ACL holds on every broker',
  )
})
