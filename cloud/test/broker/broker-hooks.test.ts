import { silentLogger } from '@fuelpay/platform'
import type { Client, PublishPacket } from 'aedes'
import t from 'tap'
import { createBrokerHooks, identityFromClientId } from '../../src/broker/broker-hooks.ts'
import { resolveLimits } from '../../src/broker/broker-limits.ts'

const hooks = createBrokerHooks({
  log: silentLogger(),
  keys: () => undefined,
  nowMs: Date.now,
  limits: resolveLimits(),
})
const publish = (client: Client | null, packet: Partial<PublishPacket> & { clientId?: string }) =>
  new Promise<Error | null | undefined>((resolve) =>
    hooks.authorizePublish(
      client,
      {
        cmd: 'publish',
        qos: 1,
        dup: false,
        retain: false,
        payload: '',
        ...packet,
      } as PublishPacket,
      resolve,
    ),
  )

t.test('client ids name identities', async (t) => {
  t.same(identityFromClientId('vehicle-car7'), { role: 'vehicle', id: 'car7' })
  t.same(identityFromClientId('station-s-1'), { role: 'station', id: 's-1' })
  t.same(identityFromClientId('cloud-c1'), { role: 'cloud', id: 'c1' })
  for (const bad of [
    'car7',
    'vehicle-',
    'admin-x',
    'vehicle-car/7',
    'vehicle-car#',
    '',
    7,
    undefined,
  ]) {
    t.equal(identityFromClientId(bad), undefined, String(bad))
  }
})

t.test("a will left by a dead broker is judged by its client id's identity", async (t) => {
  t.equal(
    await publish(null, { topic: 'fuelpay/v1/st/s1/status', retain: true, clientId: 'station-s1' }),
    null,
  )
  t.ok(
    await publish(null, { topic: 'fuelpay/v1/st/s2/status', retain: true, clientId: 'station-s1' }),
    "another station's topic",
  )
  t.ok(await publish(null, { topic: 'fuelpay/v1/st/s1/status', retain: true }), 'no client id')
  t.ok(await publish(null, { topic: '$SYS/x', clientId: 'station-s1' }), '$SYS')
})

t.test('a client that never authenticated gets nothing', async (t) => {
  const stranger = { id: 'vehicle-car7', subscriptions: {} } as unknown as Client
  t.ok(await publish(stranger, { topic: 'fuelpay/v1/st/s1/pump/1/req/car7' }))
  t.equal(
    hooks.authorizeForward(stranger, { topic: 'fuelpay/v1/st/s1/pump/1/res/car7' } as never),
    null,
  )
  const granted = await new Promise((resolve) =>
    hooks.authorizeSubscribe(
      stranger,
      { topic: 'fuelpay/v1/st/+/pump/+/res/car7', qos: 1 },
      (_e, s) => resolve(s),
    ),
  )
  t.equal(granted, null)
})

t.test(
  'forwarding: an authenticated client gets only what it may read (retained and cross-broker too)',
  async (t) => {
    const { generateSigningKey, signBrokerCredential, topics } = await import('@fuelpay/proto')
    const key = await generateSigningKey('k1')
    const h = createBrokerHooks({
      log: silentLogger(),
      keys: (kid) => (kid === 'k1' ? key.publicKey : undefined),
      nowMs: Date.now,
      limits: resolveLimits(),
    })
    const car = { id: 'vehicle-car7', subscriptions: {} } as unknown as Client
    await new Promise<void>((resolve, reject) =>
      h.preConnect(
        car,
        { cmd: 'connect', clientId: 'vehicle-car7', keepalive: 60 } as never,
        (e, ok) => (e || !ok ? reject(e) : resolve()),
      ),
    )
    const cred = await signBrokerCredential({ role: 'vehicle', id: 'car7' }, key)
    const ok = await new Promise((resolve) =>
      h.authenticate(car, 'vehicle-car7', Buffer.from(cred), (_e, s) => resolve(s)),
    )
    t.equal(ok, true)
    const fwd = (topic: string) => h.authorizeForward(car, { topic } as never)
    t.ok(fwd(topics.pumpReply('s1', 2, 'car7')), 'its own reply')
    t.equal(fwd(topics.pumpReply('s1', 2, 'car8')), null, "another vehicle's reply")
    t.equal(fwd(topics.stationStatus('s1')), null, 'retained station status')
    t.equal(fwd(topics.pumpState('s1', 1)), null, 'retained pump state')
    t.equal(fwd('$SYS/broker/heartbeat'), null, '$SYS')
  },
)
