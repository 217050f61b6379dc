import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { writeMosquittoConfig } from '@fuelpay/cloud'
import { connectMqtt, openDatabase } from '@fuelpay/platform'
import { amountForVolume, encode, topics } from '@fuelpay/proto'
import { sql } from 'kysely'
import t from 'tap'
import { adminGet, type Car, connectCar, eventually, fuelAuthorization, startWorld, vehiclePost } from './helpers/fixture.ts'

/**
 * Issue 4: "the same flow passes with Mosquitto as the broker". A real
 * `mosquitto -c` (on a free port, never 1883) with the password file and
 * per-client ACL generated from proto's rules; the cloud runs without its
 * embedded broker (FUELPAY_EMBEDDED_BROKER=false, FUELPAY_BROKER_URL) and
 * hands out each client's Mosquitto secret (FUELPAY_MQTT_PASSWORDS_FILE); the
 * real controller process and an MQTT car pay for a fueling through it, and
 * a second vehicle cannot read the first one's inbox.
 */
const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0
const skip = !have('mosquitto') || !have('mosquitto_passwd') ? 'mosquitto is not installed' : false

async function freePort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  const addr = s.address()
  await new Promise<void>((resolve) => s.close(() => resolve()))
  if (typeof addr !== 'object' || !addr) throw new Error('no port')
  return addr.port
}

async function startMosquitto(confPath: string): Promise<{ child: ChildProcess; stop(): Promise<void> }> {
  const child = spawn('mosquitto', ['-c', confPath], { stdio: ['ignore', 'ignore', 'pipe'] })
  let log = ''
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`mosquitto did not start in 10 s: ${log}`)), 10_000)
    child.stderr?.on('data', (d: Buffer) => {
      log = (log + d.toString('utf8')).slice(-4000)
      if (/mosquitto version \S+ running/.test(log)) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`mosquitto exited (${code}): ${log}`))
    })
  })
  return {
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve()
        const kill = setTimeout(() => child.kill('SIGKILL'), 5000)
        child.once('exit', () => {
          clearTimeout(kill)
          resolve()
        })
        child.kill('SIGTERM')
      }),
  }
}

t.test('authorize, fuel, complete, capture through Mosquitto', { skip }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fuelpay-mosq-e2e-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const port = await freePort()
  t.not(port, 1883, 'not the system Mosquitto port')
  // The ids startWorld provisions, a second vehicle, and the cloud's own client.
  const files = await writeMosquittoConfig({
    outDir: dir,
    port,
    vehicles: ['car-e2e', 'car-snoop'],
    stations: ['st-e2e'],
    clouds: ['main'],
    // Mosquitto started as root drops to user mosquitto, which cannot read the 0600 files.
    ...(process.getuid?.() === 0 ? { runAsUser: 'root' } : {}),
  })
  const mosquitto = await startMosquitto(files.confPath)
  t.teardown(() => mosquitto.stop())
  const brokerUrl = `mqtt://127.0.0.1:${port}`

  const world = await startWorld({
    cloudEnv: { FUELPAY_EMBEDDED_BROKER: 'false', FUELPAY_BROKER_URL: brokerUrl, FUELPAY_MQTT_PASSWORDS_FILE: files.credentialsPath },
  })
  // Registered after mosquitto's teardown, so it runs first: the cloud goes before its broker.
  t.teardown(world.close)
  t.equal(world.mqttUrl, brokerUrl, 'the cloud runs no broker of its own and names Mosquitto')
  t.equal((await fetch(`${world.httpUrl}/readyz`, { signal: AbortSignal.timeout(5000) })).status, 200, "the cloud's own client is logged in to Mosquitto")

  await world.startController(['--sim-auto-lift-ms', '300', '--sim-fill-milli', '4000', '--sim-flow-rate', '4000'])
  const snoopVehicle = await world.provisionVehicle('car-snoop')
  const cars: Car[] = []
  t.teardown(async () => {
    for (const c of cars) await c.close()
  })
  const car = await connectCar(world, world.vehicle)
  cars.push(car)
  t.equal(car.credentials.password, files.credentials['vehicle-car-e2e'], 'the car logged in with its Mosquitto secret from the cloud')

  // Another vehicle, logged in with its own secret, tries to read the car's inbox.
  const snoopCred = await vehiclePost(world.httpUrl, snoopVehicle, '/v1/mqtt-credentials', {})
  t.equal(snoopCred.status, 200)
  const snoop = await connectMqtt(brokerUrl, {
    clientId: snoopCred.body.clientId,
    username: snoopCred.body.username,
    password: snoopCred.body.password,
    reconnectPeriod: 0,
    connectTimeoutMs: 10_000,
  })
  t.teardown(() => snoop.endAsync(true).catch(() => {}))
  const snooped: string[] = []
  snoop.on('message', (topic) => snooped.push(topic))

  // Mosquitto 2.0 grants any subscription and applies the ACL's read rules when delivering.
  await snoop.subscribeAsync([topics.vehicleInbox(world.vehicle.id), 'fuelpay/#', topics.vehicleInbox(snoopVehicle.id)], { qos: 1 })

  const auth = await fuelAuthorization(world, world.vehicle, { station: world.station, pump: 1, amountMinor: 2000, grade: 'diesel' })
  // The snooper presents the car's token as its own: refused, and the answer reaches the snooper's own inbox
  // (which shows its subscriptions do deliver what it may read).
  const stolenTopic = topics.pumpRequest(world.station.id, 1, snoopVehicle.id)
  await snoop.publishAsync(stolenTopic, encode(stolenTopic, { type: 'authorize', requestId: 'rsnoop1', token: auth.token }), { qos: 1 })
  await eventually('the snooper\'s own rejection', async () => (snooped.some((x) => x.endsWith(`/res/${snoopVehicle.id}`)) ? true : undefined), 15_000, 100)
  const requestId = await car.authorize(world.station, 1, auth.token)
  const ok = await car.waitFor((m) => (m.type === 'pump-authorized' || m.type === 'pump-rejected') && m.requestId === requestId)
  t.equal(ok.type, 'pump-authorized', 'the controller heard the car through Mosquitto')
  const done = await car.waitFor((m) => m.type === 'completed' && m.sessionId === auth.sessionId)
  if (done.type !== 'completed') return
  t.equal(done.sale.volumeMilli, 4000)
  t.equal(done.sale.amountMinor, amountForVolume(4000, 1799, 'EUR'))
  const s = await eventually('capture', async () => {
    const v = await adminGet(world.httpUrl, world.adminToken, `/v1/sessions/${auth.sessionId}`)
    return v.state === 'captured' ? v : undefined
  })
  t.equal(s.capturedMinor, done.sale.amountMinor, 'captured what was pumped')
  // Telemetry reached the cloud's own client through Mosquitto too (retained pump state -> pump_status).
  if (world.databaseUrl) {
    const db = await openDatabase<any>({ url: world.databaseUrl })
    try {
      const rows = await eventually('pump state at the cloud', async () => {
        const r = await sql<{ pump: number }>`SELECT pump FROM pump_status WHERE station_id = ${world.station.id}`.execute(db.db)
        return r.rows.length >= 2 ? r.rows : undefined
      }, 15_000)
      t.equal(rows.length, 2, 'the cloud follows both pumps')
    } finally {
      await db.close()
    }
  }
  t.ok(car.inbox.length > 2, 'the car received its replies')
  t.same(snooped.filter((x) => !x.endsWith(`/res/${snoopVehicle.id}`)), [], "the other vehicle read nothing of the car's inbox, nor anything else")
  const ledger = await adminGet(world.httpUrl, world.adminToken, '/v1/admin/ledger/verify')
  t.equal(ledger.ok, true)
})
