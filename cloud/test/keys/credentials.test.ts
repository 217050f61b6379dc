import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { call, makeCloud, provision, stationAuth, vehicleAuth } from '../helpers.ts'

t.test('with FUELPAY_MQTT_PASSWORDS_FILE the cloud hands out the Mosquitto secret of the caller only', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fuelpay-creds-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'credentials.json')
  const cloud = await makeCloud(t, {
    env: { FUELPAY_EMBEDDED_BROKER: 'false', FUELPAY_BROKER_URL: 'mqtt://127.0.0.1:18999', FUELPAY_MQTT_PASSWORDS_FILE: file },
  })
  const w = await provision(cloud)
  const other = await provision(cloud)
  const secret = 's'.repeat(43)
  await writeFile(file, JSON.stringify({ [`vehicle-${w.vehicleId}`]: secret, [`vehicle-${other.vehicleId}`]: 'o'.repeat(43), [`station-${w.stationId}`]: 'short' }))

  const r = await call(cloud.app, { method: 'POST', url: '/v1/mqtt-credentials', auth: await vehicleAuth(w) })
  t.equal(r.status, 200, r.body?.error?.code)
  t.equal(r.body.username, `vehicle-${w.vehicleId}`)
  t.equal(r.body.clientId, `vehicle-${w.vehicleId}`)
  t.equal(r.body.password, secret, "the caller's own secret")
  t.not(r.body.password, 'o'.repeat(43))

  const badSecret = await call(cloud.app, { method: 'POST', url: '/v1/mqtt-credentials', auth: await stationAuth(w) })
  t.equal(badSecret.status, 403, 'a malformed secret in the file is no login')
  const absent = await call(cloud.app, { method: 'POST', url: '/v1/mqtt-credentials', auth: await stationAuth(other) })
  t.equal(absent.status, 403)
  t.equal(absent.body.error.code, 'FORBIDDEN')
  t.notMatch(absent.raw, 'o'.repeat(43), 'nothing of another client leaks')

  await writeFile(file, '{not json')
  const broken = await call(cloud.app, { method: 'POST', url: '/v1/mqtt-credentials', auth: await vehicleAuth(w) })
  t.equal(broken.status, 503)
  t.equal(broken.body.error.code, 'UNAVAILABLE')
  await rm(file)
  t.equal((await call(cloud.app, { method: 'POST', url: '/v1/mqtt-credentials', auth: await vehicleAuth(w) })).status, 503)
})
