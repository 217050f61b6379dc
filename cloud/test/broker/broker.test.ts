import { type Identity, topics } from '@fuelpay/proto'
import { CLOCK_SKEW_S, generateSigningKey, signBrokerCredential, TYP } from '@fuelpay/proto'
import t from 'tap'
import { DEFAULT_BROKER_LIMITS } from '../../src/broker/broker.ts'
import { CONNACK } from '../../src/broker/broker-hooks.ts'
import {
  attempt,
  brokerKeys,
  closed,
  connectAs,
  inbox,
  startBroker,
  subscribe,
  WAIT_MS,
} from './helpers.ts'

const car7: Identity = { role: 'vehicle', id: 'car7' }
const car8: Identity = { role: 'vehicle', id: 'car8' }
const s1: Identity = { role: 'station', id: 's1' }
const s2: Identity = { role: 'station', id: 's2' }
const cloud: Identity = { role: 'cloud', id: 'c1' }

const { key, keys } = await brokerKeys()

t.test('authentication: username = client id, password = broker credential', async (t) => {
  const { broker, url } = await startBroker(t, { keys })
  const cred = (id: Identity, nowMs?: number, ttlS?: number) =>
    signBrokerCredential(id, key, nowMs, ttlS)
  const as = async (clientId: string, username: string | undefined, password: string | undefined) =>
    attempt(url, {
      clientId,
      ...(username !== undefined ? { username } : {}),
      ...(password !== undefined ? { password } : {}),
    })

  t.same(
    await as('vehicle-car7', 'vehicle-car7', await cred(car7)),
    { outcome: 'connected' },
    'own credential connects',
  )
  t.same(
    await as('vehicle-car7', undefined, undefined),
    { outcome: 'refused', code: CONNACK.BAD_USERNAME_OR_PASSWORD },
    'no credentials',
  )
  t.same(
    await as('vehicle-car7', 'vehicle-car7', undefined),
    { outcome: 'refused', code: CONNACK.BAD_USERNAME_OR_PASSWORD },
    'no password',
  )
  t.same(
    await as('vehicle-car7', 'vehicle-car8', await cred(car7)),
    { outcome: 'refused', code: CONNACK.BAD_USERNAME_OR_PASSWORD },
    'username is not the client id',
  )
  t.same(
    await as('vehicle-car7', 'vehicle-car7', 'not-a-jwt'),
    { outcome: 'refused', code: CONNACK.BAD_USERNAME_OR_PASSWORD },
    'garbage password',
  )

  const dayAgo = Date.now() - 2 * 24 * 3600_000
  t.same(
    await as('vehicle-car7', 'vehicle-car7', await cred(car7, dayAgo, 3600)),
    { outcome: 'refused', code: CONNACK.BAD_USERNAME_OR_PASSWORD },
    'expired credential',
  )
  t.same(
    await as('vehicle-car7', 'vehicle-car7', await cred(car7, Date.now() + 3600_000)),
    { outcome: 'refused', code: CONNACK.BAD_USERNAME_OR_PASSWORD },
    'credential issued in the future',
  )

  const good = await cred(car7)
  const [h, p, sig] = good.split('.') as [string, string, string]
  const forgedPayload = Buffer.from(
    JSON.stringify({
      ...JSON.parse(Buffer.from(p, 'base64url').toString()),
      id: 'car8',
      sub: 'vehicle-car8',
    }),
  ).toString('base64url')
  t.same(
    await as('vehicle-car8', 'vehicle-car8', `${h}.${forgedPayload}.${sig}`),
    { outcome: 'refused', code: CONNACK.BAD_USERNAME_OR_PASSWORD },
    'forged claims (signature no longer matches)',
  )
  const flipped = sig.slice(0, -2) + (sig.endsWith('AA') ? 'BB' : 'AA')
  t.same(
    await as('vehicle-car7', 'vehicle-car7', `${h}.${p}.${flipped}`),
    { outcome: 'refused', code: CONNACK.BAD_USERNAME_OR_PASSWORD },
    'tampered signature',
  )

  const otherSameKid = await generateSigningKey('broker-k1')
  t.same(
    await as('vehicle-car7', 'vehicle-car7', await signBrokerCredential(car7, otherSameKid)),
    { outcome: 'refused', code: CONNACK.BAD_USERNAME_OR_PASSWORD },
    'signed by another key under our key id',
  )
  const otherKid = await generateSigningKey('attacker-k')
  t.same(
    await as('vehicle-car7', 'vehicle-car7', await signBrokerCredential(car7, otherKid)),
    { outcome: 'refused', code: CONNACK.BAD_USERNAME_OR_PASSWORD },
    'signed by an unknown key',
  )

  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url')
  const now = Math.floor(Date.now() / 1000)
  const claims = {
    iss: 'fuelpay-cloud',
    sub: 'vehicle-car7',
    role: 'vehicle',
    id: 'car7',
    iat: now,
    exp: now + 3600,
  }
  const algNone = `${b64({ alg: 'none', typ: TYP.brokerCredential, kid: 'broker-k1' })}.${b64(claims)}.AAAA`
  t.same(
    await as('vehicle-car7', 'vehicle-car7', algNone),
    { outcome: 'refused', code: CONNACK.BAD_USERNAME_OR_PASSWORD },
    'alg none',
  )
  const algHs = `${b64({ alg: 'HS256', typ: TYP.brokerCredential, kid: 'broker-k1' })}.${b64(claims)}.AAAA`
  t.same(
    await as('vehicle-car7', 'vehicle-car7', algHs),
    { outcome: 'refused', code: CONNACK.BAD_USERNAME_OR_PASSWORD },
    'alg HS256',
  )

  t.same(
    await as('car7', 'car7', good),
    { outcome: 'refused', code: CONNACK.IDENTIFIER_REJECTED },
    'client id without role',
  )
  t.same(
    await as('', 'vehicle-car7', good),
    { outcome: 'refused', code: CONNACK.IDENTIFIER_REJECTED },
    'empty client id (server-assigned) is refused',
  )
  t.same(
    await as('vehicle-car/7', 'vehicle-car/7', good),
    { outcome: 'refused', code: CONNACK.IDENTIFIER_REJECTED },
    'client id with a topic separator',
  )
  t.same(
    await as('vehicle-car8', 'vehicle-car8', good),
    { outcome: 'refused', code: CONNACK.NOT_AUTHORIZED },
    "car7's credential does not open car8's client id",
  )
  t.same(
    await as('station-car7', 'station-car7', good),
    { outcome: 'refused', code: CONNACK.NOT_AUTHORIZED },
    'nor another role under the same id',
  )

  t.equal(broker.clientCount(), 0, 'no refused client is counted')
})

t.test(
  'key problems: revoked key refused, key store failure answers server unavailable',
  async (t) => {
    const revoked = await startBroker(t, { keys: () => 'revoked' })
    const cred = await signBrokerCredential(car7, key)
    t.same(
      await attempt(revoked.url, {
        clientId: 'vehicle-car7',
        username: 'vehicle-car7',
        password: cred,
      }),
      { outcome: 'refused', code: CONNACK.BAD_USERNAME_OR_PASSWORD },
    )
    const broken = await startBroker(t, {
      keys: () => Promise.reject(new Error('jwks fetch failed')),
    })
    t.same(
      await attempt(broken.url, {
        clientId: 'vehicle-car7',
        username: 'vehicle-car7',
        password: cred,
      }),
      { outcome: 'refused', code: CONNACK.SERVER_UNAVAILABLE },
    )
  },
)

t.test(
  'an expired clock makes a fresh credential expire: the injected clock is used',
  async (t) => {
    const later = Date.now() + 3 * 24 * 3600_000
    const { url } = await startBroker(t, { keys, nowMs: () => later })
    const cred = await signBrokerCredential(car7, key)
    t.same(
      await attempt(url, { clientId: 'vehicle-car7', username: 'vehicle-car7', password: cred }),
      { outcome: 'refused', code: CONNACK.BAD_USERNAME_OR_PASSWORD },
    )
  },
)

t.test("a car's connection does not outlive its credential: past expiry the car is disconnected", async (t) => {
  let now = Date.now()
  const { url } = await startBroker(t, { keys, nowMs: () => now })
  const longLived = await signBrokerCredential(s1, key, now, 7 * 86_400)
  const station = await connectAs(t, url, s1, key, { password: longLived })
  const sIn = inbox(station)
  t.same(await subscribe(station, topics.stationSubscriptions('s1')), [1, 1])
  const car = await connectAs(t, url, car7, key, { password: await signBrokerCredential(car7, key, now, 3600) })
  const listener = await connectAs(t, url, car8, key, { password: await signBrokerCredential(car8, key, now, 3600) })
  const lIn = inbox(listener)
  t.same(await subscribe(listener, topics.vehicleInbox('car8')), [1])
  car.publish(topics.pumpRequest('s1', 1, 'car7'), 'while-valid', { qos: 1 })
  await sIn.next((m) => m.payload === 'while-valid')
  t.ok(car.connected, 'connected while the credential is valid')

  now += 3600_000 + CLOCK_SKEW_S * 1000 + 1000
  car.publish(topics.pumpRequest('s1', 1, 'car7'), 'after-expiry', { qos: 1 })
  await closed(car)
  t.pass('disconnected at its first publish after expiry')
  t.notOk(sIn.all.some((m) => m.payload === 'after-expiry'), 'and the publish was not delivered')
  station.publish(topics.pumpReply('s1', 1, 'car8'), 'to-expired-reader', { qos: 1 })
  await closed(listener)
  t.pass('an idle reader is disconnected when a message would reach it after expiry')
  t.notOk(lIn.all.some((m) => m.payload === 'to-expired-reader'), 'and does not get it')
  t.ok(station.connected, 'a station (credential still valid) stays')
})

t.test('keepalive and client id limits', async (t) => {
  const { url } = await startBroker(t, {
    keys,
    limits: { keepaliveMaxS: 120, maxClientIdLength: 12 },
  })
  const cred = await signBrokerCredential(car7, key)
  const base = { clientId: 'vehicle-car7', username: 'vehicle-car7', password: cred }
  t.same(
    await attempt(url, { ...base, keepalive: 0 }),
    { outcome: 'closed' },
    'keepalive 0: closed without CONNACK [MQTT-3.2.2-6]',
  )
  t.same(
    await attempt(url, { ...base, keepalive: 121 }),
    { outcome: 'closed' },
    'keepalive above the limit',
  )
  t.same(
    await attempt(url, { ...base, keepalive: 120 }),
    { outcome: 'connected' },
    'keepalive at the limit',
  )
  const longId: Identity = { role: 'vehicle', id: 'car7-long' }
  const longCred = await signBrokerCredential(longId, key)
  t.same(
    await attempt(url, {
      clientId: 'vehicle-car7-long',
      username: 'vehicle-car7-long',
      password: longCred,
    }),
    { outcome: 'refused', code: CONNACK.IDENTIFIER_REJECTED },
    'client id over the length limit',
  )
})

t.test(
  'the same identity connecting twice takes over its own session; others cannot',
  async (t) => {
    const { broker, url } = await startBroker(t, { keys })
    const first = await connectAs(t, url, car7, key)
    const second = await connectAs(t, url, car7, key)
    await closed(first)
    t.ok(second.connected, 'the newer connection of the same principal wins [MQTT-3.1.4-2]')
    t.equal(broker.clientCount(), 1)

    const car8Client = await connectAs(t, url, car8, key)
    const car7Cred = await signBrokerCredential(car7, key)
    t.same(
      await attempt(url, {
        clientId: 'vehicle-car8',
        username: 'vehicle-car8',
        password: car7Cred,
      }),
      { outcome: 'refused', code: CONNACK.NOT_AUTHORIZED },
    )
    t.ok(car8Client.connected, "car8's connection survives the attempt")
    t.equal(broker.clientCount(), 2)
  },
)

t.test('publish ACL: a vehicle publishes only its own requests', async (t) => {
  const { url } = await startBroker(t, { keys })
  const station = await connectAs(t, url, s1, key)
  const cloudClient = await connectAs(t, url, cloud, key)
  const stationIn = inbox(station)
  const cloudIn = inbox(cloudClient)
  t.same(await subscribe(station, topics.stationSubscriptions('s1')), [1, 1])
  t.same(await subscribe(cloudClient, topics.cloudSubscriptions()), [1, 1, 1])
  const honest = await connectAs(t, url, car8, key)

  const forbidden: [string, string, { retain?: boolean }][] = [
    ["another vehicle's request topic", topics.pumpRequest('s1', 2, 'car8'), {}],
    ["a station's pump state", topics.pumpState('s1', 2), { retain: true }],
    ["a station's status", topics.stationStatus('s1'), { retain: true }],
    ['a reply to itself, as if from the station', topics.pumpReply('s1', 2, 'car7'), {}],
    ['a station command', topics.stationCommand('s1'), {}],
    ['its own request topic, retained', topics.pumpRequest('s1', 2, 'car7'), { retain: true }],
    ['a malformed pump number', 'fuelpay/v1/st/s1/pump/02/req/car7', {}],
    ['outside the fuelpay root', 'elsewhere/topic', {}],
  ]
  let n = 0
  for (const [what, topic, flags] of forbidden) {
    const attacker = await connectAs(t, url, car7, key)
    const payload = `attack-${n++}`
    attacker.publish(topic, payload, { qos: 1, ...flags })
    await closed(attacker)
    t.pass(`${what}: publisher disconnected`)
    // Sentinel: a legitimate request after the refusal; the attack, had it passed, would be seen first.
    const sentinel = `sentinel-${n}`
    honest.publish(topics.pumpRequest('s1', 1, 'car8'), sentinel, { qos: 1 })
    await stationIn.next((m) => m.payload === sentinel)
    await cloudIn
      .next((m) => m.topic === topics.stationStatus('s2') || true, 1)
      .catch(() => undefined)
    t.notOk(
      stationIn.all.some((m) => m.payload === payload),
      `${what}: station never got it`,
    )
    t.notOk(
      cloudIn.all.some((m) => m.payload === payload),
      `${what}: cloud never got it`,
    )
  }

  const own = await connectAs(t, url, car7, key)
  own.publish(topics.pumpRequest('s1', 2, 'car7'), 'legit', { qos: 1 })
  const got = await stationIn.next((m) => m.payload === 'legit')
  t.equal(got.topic, topics.pumpRequest('s1', 2, 'car7'), 'its own request reaches the station')
})

t.test('subscribe ACL: a vehicle reads only its own inbox', async (t) => {
  const { url } = await startBroker(t, { keys })
  const station = await connectAs(t, url, s1, key)
  const v7 = await connectAs(t, url, car7, key)
  const v8 = await connectAs(t, url, car8, key)
  const in7 = inbox(v7)
  const in8 = inbox(v8)

  t.same(
    await subscribe(v7, topics.vehicleInbox('car8')),
    [128],
    "another vehicle's inbox: 0x80 [MQTT-3.9.3]",
  )
  t.same(
    await subscribe(v7, topics.pumpReply('s1', 2, 'car8')),
    [128],
    "another vehicle's concrete reply topic",
  )
  t.same(await subscribe(v7, 'fuelpay/v1/st/+/pump/+/res/+'), [128], 'every inbox')
  t.same(await subscribe(v7, 'fuelpay/v1/#'), [128], 'the whole tree')
  t.same(await subscribe(v7, '#'), [128], 'everything')
  t.same(await subscribe(v7, topics.pumpState('s1', 2)), [128], "a station's pump state")
  t.same(await subscribe(v7, topics.stationStatus('s1')), [128], "a station's status")
  t.same(
    await subscribe(v7, topics.pumpRequest('s1', 2, 'car8')),
    [128],
    "another vehicle's requests",
  )
  t.same(await subscribe(v7, topics.vehicleInbox('car7')), [1], 'its own inbox')
  t.same(await subscribe(v8, topics.vehicleInbox('car8')), [1])
  t.same(
    await subscribe(v7, [topics.vehicleInbox('car8'), topics.vehicleInbox('car7')]),
    [128, 1],
    'mixed: each filter judged alone',
  )

  station.publish(topics.pumpReply('s1', 2, 'car8'), 'for-car8', { qos: 1 })
  station.publish(topics.pumpReply('s1', 2, 'car7'), 'for-car7', { qos: 1 })
  await in8.next((m) => m.payload === 'for-car8')
  await in7.next((m) => m.payload === 'for-car7')
  t.same(
    in7.all.map((m) => m.payload),
    ['for-car7'],
    'car7 got only its own reply',
  )
  t.same(
    in8.all.map((m) => m.payload),
    ['for-car8'],
    'car8 got only its own reply',
  )
})

t.test('$SYS is closed to clients', async (t) => {
  const { url } = await startBroker(t, { keys })
  const c = await connectAs(t, url, cloud, key)
  t.same(await subscribe(c, '$SYS/#'), [128], 'no subscribe to $SYS/#')
  t.same(await subscribe(c, '$SYS/+/heartbeat'), [128], 'nor to a $SYS topic')
  t.same(await subscribe(c, '#'), [128], 'the cloud may not use # above the root either')
  const v = await connectAs(t, url, car7, key)
  v.publish('$SYS/fake/heartbeat', 'x', { qos: 1 })
  await closed(v)
  t.pass('publishing to $SYS disconnects')
})

t.test('retained station state reaches only allowed readers', async (t) => {
  const { url } = await startBroker(t, { keys })
  const station = await connectAs(t, url, s1, key)
  await station.publishAsync(topics.stationStatus('s1'), '{"online":true}', {
    qos: 1,
    retain: true,
  })
  await station.publishAsync(topics.pumpState('s1', 2), '{"state":"idle"}', {
    qos: 1,
    retain: true,
  })

  const c = await connectAs(t, url, cloud, key)
  const cIn = inbox(c)
  t.same(await subscribe(c, topics.cloudSubscriptions()), [1, 1, 1])
  const status = await cIn.next((m) => m.topic === topics.stationStatus('s1'))
  t.ok(status.retain, 'the cloud gets the retained status')
  await cIn.next((m) => m.topic === topics.pumpState('s1', 2))

  const own = await connectAs(t, url, s1, key, { clientId: 'station-s1' })
  const ownIn = inbox(own)
  t.same(await subscribe(own, topics.stationStatus('s1')), [1])
  await ownIn.next((m) => m.topic === topics.stationStatus('s1'))
  t.pass('the station reads back its own retained status')

  const other = await connectAs(t, url, s2, key)
  const otherIn = inbox(other)
  t.same(
    await subscribe(other, topics.stationStatus('s1')),
    [128],
    "another station may not read s1's status",
  )
  t.same(await subscribe(other, 'fuelpay/v1/st/+/status'), [128])
  const v = await connectAs(t, url, car7, key)
  const vIn = inbox(v)
  t.same(await subscribe(v, topics.stationStatus('s1')), [128])
  t.same(await subscribe(v, topics.pumpState('s1', 2)), [128])
  // Sentinel: subscribing to an allowed filter after the refused ones; its retained-free
  // SUBACK comes after any retained message a refused filter could have produced.
  t.same(await subscribe(other, topics.stationStatus('s2')), [1])
  t.same(await subscribe(v, topics.vehicleInbox('car7')), [1])
  t.same(otherIn.all, [], 'another station got no retained message')
  t.same(vIn.all, [], 'a vehicle got no retained message')
})

t.test('last wills: checked at CONNECT by the same rule', async (t) => {
  const { url } = await startBroker(t, { keys })
  const cred = await signBrokerCredential(s1, key)
  const base = { clientId: 'station-s1', username: 'station-s1', password: cred }
  const will = (topic: string, retain = true) => ({
    will: { topic, payload: Buffer.from('{"online":false}'), qos: 1 as const, retain },
  })
  t.same(
    await attempt(url, { ...base, ...will(topics.stationStatus('s2')) }),
    { outcome: 'refused', code: CONNACK.NOT_AUTHORIZED },
    "a will on another station's status refuses the connection",
  )
  t.same(
    await attempt(url, { ...base, ...will('$SYS/x', false) }),
    { outcome: 'refused', code: CONNACK.NOT_AUTHORIZED },
    'a will on $SYS',
  )
  t.same(
    await attempt(url, { ...base, ...will(topics.pumpRequest('s1', 1, 'car7'), false) }),
    { outcome: 'refused', code: CONNACK.NOT_AUTHORIZED },
    "a will on a vehicle's request topic",
  )
  const vcred = await signBrokerCredential(car7, key)
  t.same(
    await attempt(url, {
      clientId: 'vehicle-car7',
      username: 'vehicle-car7',
      password: vcred,
      ...will(topics.pumpRequest('s1', 1, 'car7'), true),
    }),
    { outcome: 'refused', code: CONNACK.NOT_AUTHORIZED },
    'a retained will where retain is not allowed',
  )

  const c = await connectAs(t, url, cloud, key)
  const cIn = inbox(c)
  t.same(await subscribe(c, topics.stationStatus('s1')), [1])
  const station = await connectAs(t, url, s1, key, will(topics.stationStatus('s1')))
  t.ok(station.connected, 'its own status is an allowed will')
  ;(station.stream as unknown as { destroy(): void }).destroy()
  const m = await cIn.next((x) => x.topic === topics.stationStatus('s1'))
  t.equal(m.payload, '{"online":false}', 'the will is published when the station drops')
})

t.test('an oversized packet closes the connection and is never delivered', async (t) => {
  const { url } = await startBroker(t, { keys, limits: { maxPacketBytes: 2048 } })
  const station = await connectAs(t, url, s1, key)
  const sIn = inbox(station)
  t.same(await subscribe(station, topics.stationSubscriptions('s1')), [1, 1])
  const v = await connectAs(t, url, car7, key)
  v.publish(topics.pumpRequest('s1', 1, 'car7'), 'x'.repeat(1500), { qos: 1 })
  await sIn.next((m) => m.payload.length === 1500)
  t.pass('a packet under the limit passes')
  v.publish(topics.pumpRequest('s1', 1, 'car7'), 'y'.repeat(4000), { qos: 1 })
  await closed(v)
  t.pass('a packet over the limit disconnects')
  const v2 = await connectAs(t, url, car8, key)
  v2.publish(topics.pumpRequest('s1', 1, 'car8'), 'after', { qos: 1 })
  await sIn.next((m) => m.payload === 'after')
  t.notOk(
    sIn.all.some((m) => m.payload.startsWith('y')),
    'the oversized message was not delivered',
  )
})

t.test('a publisher over its rate is disconnected; one within it is not', async (t) => {
  const frozen = Date.now()
  const burst = 5
  const { url } = await startBroker(t, {
    keys,
    nowMs: () => frozen,
    limits: { publishRatePerS: { vehicle: 1 }, publishBurst: { vehicle: burst } },
  })
  const station = await connectAs(t, url, s1, key)
  const sIn = inbox(station)
  t.same(await subscribe(station, topics.stationSubscriptions('s1')), [1, 1])
  const flooder = await connectAs(t, url, car7, key)
  for (let i = 0; i < 50; i++)
    flooder.publish(topics.pumpRequest('s1', 1, 'car7'), `flood-${i}`, { qos: 0 })
  await closed(flooder)
  t.pass('the flooder is disconnected')
  const calm = await connectAs(t, url, car8, key)
  for (let i = 0; i < burst; i++)
    calm.publish(topics.pumpRequest('s1', 1, 'car8'), `calm-${i}`, { qos: 1 })
  await sIn.next((m) => m.payload === `calm-${burst - 1}`)
  t.ok(calm.connected, 'a client within its burst stays connected')
  const flooded = sIn.all.filter((m) => m.payload.startsWith('flood-')).length
  t.ok(flooded <= burst, `at most the burst got through (${flooded} <= ${burst})`)
})

t.test('subscriptions per client are capped', async (t) => {
  const { url } = await startBroker(t, { keys, limits: { maxSubscriptionsPerClient: 2 } })
  const st = await connectAs(t, url, s1, key)
  t.same(
    await subscribe(st, [
      topics.stationCommand('s1'),
      topics.stationStatus('s1'),
      topics.pumpState('s1', 1),
    ]),
    [1, 1, 128],
  )
  t.same(
    await subscribe(st, topics.stationCommand('s1')),
    [1],
    're-subscribing to a held filter is not a new one',
  )
  await st.unsubscribeAsync(topics.stationStatus('s1'))
  t.same(
    await subscribe(st, topics.pumpState('s1', 1)),
    [1],
    'after an unsubscribe there is room again',
  )
})

t.test('limits are validated', async (t) => {
  await t.rejects(startBroker(t, { keys, limits: { maxPacketBytes: 0 } }), RangeError)
  await t.rejects(
    startBroker(t, { keys, limits: { publishBurst: { vehicle: Number.NaN } } }),
    RangeError,
  )
  t.equal(DEFAULT_BROKER_LIMITS.maxPacketBytes, 20 * 1024)
  t.ok(WAIT_MS > 0)
})
