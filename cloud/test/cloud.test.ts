import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connectMqtt, silentLogger } from '@fuelpay/platform'
import { createTestDatabase } from '@fuelpay/platform/test-db'
import { decode, encode, generateSigningKey, signClientAssertion, topics } from '@fuelpay/proto'
import t from 'tap'
import { startCloud } from '../src/cloud.ts'
import { loadConfig } from '../src/config.ts'

async function post(url: string, auth: string, body: unknown) {
  const r = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${auth}`, 'content-type': 'application/json', 'idempotency-key': `k-${Math.random().toString(36).slice(2)}` },
    body: JSON.stringify(body),
  })
  return { status: r.status, body: (await r.json()) as any }
}

t.test('startCloud: HTTP, embedded broker, cloud MQTT link follows pump state and sends commands', async (t) => {
  const tdb = await createTestDatabase()
  const dir = await mkdtemp(join(tmpdir(), 'fuelpay-cloud-'))
  const cloud = await startCloud(
    loadConfig({ DATABASE_URL: tdb.url ?? '', FUELPAY_DATA_DIR: tdb.dataDir ?? dir, FUELPAY_HTTP_PORT: '0', FUELPAY_MQTT_PORT: '0', FUELPAY_ADMIN_TOKEN: 'admin-token-0123456789' }),
    { log: silentLogger() },
  )
  t.teardown(async () => {
    await cloud.close()
    await tdb.cleanup()
    await rm(dir, { recursive: true, force: true })
  })
  t.match(cloud.httpUrl, /^http:\/\/127\.0\.0\.1:\d+$/)
  t.match(cloud.mqttUrl, /^mqtt:\/\/127\.0\.0\.1:\d+$/)
  t.equal((await fetch(`${cloud.httpUrl}/readyz`)).status, 200)

  const admin = cloud.adminToken
  t.equal((await post(`${cloud.httpUrl}/v1/admin/operators`, admin, { id: 'op1', name: 'Op' })).status, 201)
  const sk = await generateSigningKey('st1-k')
  const st = await post(`${cloud.httpUrl}/v1/admin/stations`, admin, {
    id: 'st1', operatorId: 'op1', name: 'S', lat: 1, lon: 1, geofenceRadiusM: 50, currency: 'EUR', volumeUnit: 'L', publicJwk: sk.publicJwk,
    pumps: [{ pump: 1, grades: [{ grade: 'diesel', unitPriceMilli: 1799 }] }],
  })
  t.equal(st.status, 201)
  t.equal((await post(`${cloud.httpUrl}/v1/admin/accounts`, admin, { id: 'a1', name: 'A' })).status, 201)
  const card = await post(`${cloud.httpUrl}/v1/admin/sim-processor/cards`, admin, { brand: 'visa', last4: '4242', availableMinor: 50_000, currency: 'EUR', expMonth: 1, expYear: 2099 })
  t.equal((await post(`${cloud.httpUrl}/v1/admin/accounts/a1/payment-methods`, admin, { processorToken: card.body.token, brand: 'visa', last4: '4242' })).status, 201)
  const vk = await generateSigningKey('car1-k')
  t.equal((await post(`${cloud.httpUrl}/v1/admin/vehicles`, admin, { id: 'car1', accountId: 'a1', publicJwk: vk.publicJwk })).status, 201)

  const cred = await post(`${cloud.httpUrl}/v1/mqtt-credentials`, await signClientAssertion({ role: 'station', id: 'st1' }, sk), {})
  t.equal(cred.status, 200)
  t.equal(cred.body.brokerUrl, cloud.mqttUrl)
  const station = await connectMqtt(cred.body.brokerUrl, { clientId: cred.body.clientId, username: cred.body.username, password: cred.body.password, connectTimeoutMs: 5000 })
  t.teardown(() => station.endAsync())
  const commands: unknown[] = []
  station.on('message', (topic, payload) => {
    const d = decode(topic, payload)
    if (d.ok) commands.push(d.value.message)
  })
  await station.subscribeAsync(topics.stationCommand('st1'), { qos: 1 })

  const auth = await post(`${cloud.httpUrl}/v1/fuel-authorizations`, await signClientAssertion({ role: 'vehicle', id: 'car1' }, vk), { stationId: 'st1', pump: 1 })
  t.equal(auth.status, 201)
  await station.publishAsync(
    topics.pumpState('st1', 1),
    encode(topics.pumpState('st1', 1), { type: 'pump-state', stationId: 'st1', pump: 1, state: 'authorized', sessionId: auth.body.sessionId, volumeMilli: 0, amountMinor: 0, currency: 'EUR' }),
    { qos: 1, retain: true },
  )
  let state = ''
  for (let i = 0; i < 100 && state !== 'pump_authorized'; i++) {
    await new Promise((r) => setTimeout(r, 50))
    const row = await cloud.deps.db.selectFrom('sessions').select('state').where('id', '=', auth.body.sessionId).executeTakeFirst()
    state = row?.state ?? ''
  }
  t.equal(state, 'pump_authorized', 'the cloud follows retained pump state over MQTT')

  const cmd = await post(`${cloud.httpUrl}/v1/operator/stations/st1/commands`, admin, { command: { op: 'emergency-stop', pump: 1 } })
  t.equal(cmd.status, 202)
  for (let i = 0; i < 100 && commands.length === 0; i++) await new Promise((r) => setTimeout(r, 50))
  t.match(commands[0], { type: 'station-command', commandId: cmd.body.commandId, command: { op: 'emergency-stop', pump: 1 } })
})
