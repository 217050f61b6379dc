import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { createConnection, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { connectMqtt } from '@fuelpay/platform'
import {
  type CompletedMessage,
  decode,
  generateSigningKey,
  type PumpAuthorizedMessage,
  type PumpRejectedMessage,
  ROOT,
  type StationStatusMessage,
} from '@fuelpay/proto'
import t from 'tap'
import {
  connectVehicle,
  makeToken,
  startCloudStub,
  startStation,
  until,
} from '../helpers/station-fixture.ts'

const MOSQUITTO = '/usr/sbin/mosquitto'
if (!existsSync(MOSQUITTO)) {
  t.plan(0, 'mosquitto is not installed')
  process.exit(0)
}

/**
 * The same station flow with Mosquitto as the broker: password file and a
 * per-client ACL written from the protocol's rules (who publishes what, who
 * reads what), no anonymous clients.
 */
const dir = await mkdtemp(join(tmpdir(), 'fuelpay-mosq-'))
const free = createServer()
await new Promise<void>((r) => free.listen(0, '127.0.0.1', r))
const port = (free.address() as AddressInfo).port
await new Promise<void>((r) => free.close(() => r()))
const users = {
  'station-st5': 'station-secret-5',
  'vehicle-car7': 'vehicle-secret-7',
  'cloud-watch': 'cloud-secret',
}
await writeFile(
  join(dir, 'passwd'),
  `${Object.entries(users)
    .map(([u, p]) => `${u}:${p}`)
    .join('\n')}\n`,
  { mode: 0o600 },
)
await promisify(execFile)('mosquitto_passwd', ['-U', join(dir, 'passwd')])
const acl = [
  'user station-st5',
  `topic read ${ROOT}/st/st5/pump/+/req/+`,
  `topic read ${ROOT}/st/st5/cmd`,
  `topic write ${ROOT}/st/st5/pump/+/res/+`,
  `topic readwrite ${ROOT}/st/st5/pump/+/state`,
  `topic readwrite ${ROOT}/st/st5/status`,
  `topic write ${ROOT}/st/st5/cmd-res`,
  'user vehicle-car7',
  `topic write ${ROOT}/st/+/pump/+/req/car7`,
  `topic read ${ROOT}/st/+/pump/+/res/car7`,
  'user cloud-watch',
  `topic read ${ROOT}/st/#`,
  `topic write ${ROOT}/st/+/cmd`,
].join('\n')
await writeFile(join(dir, 'acl'), `${acl}\n`)
await writeFile(
  join(dir, 'mosquitto.conf'),
  [
    // As root Mosquitto would drop to its own user, who cannot read our private temp dir.
    ...(process.getuid?.() === 0 ? ['user root'] : []),
    `listener ${port} 127.0.0.1`,
    'allow_anonymous false',
    `password_file ${join(dir, 'passwd')}`,
    `acl_file ${join(dir, 'acl')}`,
    'persistence false',
    'log_dest stderr',
    '',
  ].join('\n'),
)
const mosq: ChildProcess = spawn(MOSQUITTO, ['-c', join(dir, 'mosquitto.conf')], {
  stdio: ['ignore', 'ignore', 'pipe'],
})
const mosqLog: string[] = []
mosq.stderr?.on('data', (c) => mosqLog.push(String(c)))
await until(
  'mosquitto listening',
  () =>
    new Promise<boolean>((resolve) => {
      const s = createConnection({ port, host: '127.0.0.1' }, () => {
        s.end()
        resolve(true)
      })
      s.on('error', () => resolve(false))
    }),
  10_000,
).catch((err: Error) => {
  throw new Error(`${err.message}: ${mosqLog.join('')}`)
})
const brokerUrl = `mqtt://127.0.0.1:${port}`

const cloudKey = await generateSigningKey('cloud-k1')
const cloud = await startCloudStub({ brokerUrl, cloudKey })
const station = await startStation({
  stationId: 'st5',
  brokerUrl,
  cloudUrl: cloud.url,
  mqttCredentials: { username: 'station-st5', password: users['station-st5'] },
})
const car = await connectVehicle(brokerUrl, 'car7', {
  username: 'vehicle-car7',
  password: users['vehicle-car7'],
})
t.teardown(async () => {
  await car.close()
  await station.close()
  await cloud.close()
  mosq.kill('SIGTERM')
  await once(mosq, 'exit')
  await rm(dir, { recursive: true, force: true })
})
const isReply = (requestId: string) => (m: { type: string; requestId?: string }) =>
  (m.type === 'pump-authorized' || m.type === 'pump-rejected') && m.requestId === requestId

t.test('authorize, fuel, complete through Mosquitto', async (t) => {
  const token = await makeToken(cloudKey, {
    stationId: 'st5',
    pump: 1,
    vehicleId: 'car7',
    maxAmountMinor: 500,
  })
  const rid = car.authorize('st5', 1, token)
  const ok = await car.waitFor<PumpAuthorizedMessage>(isReply(rid))
  t.equal(ok.type, 'pump-authorized', mosqLog.join(''))
  station.pump(1).lift('diesel')
  const preset = station.pump(1).authorized?.[0]?.presetVolumeMilli ?? 0
  await until('preset', () => station.pump(1).deliveryVolumeMilli >= preset)
  station.pump(1).hangUp()
  const done = await car.waitFor<CompletedMessage>(
    (m) => m.type === 'completed' && m.sessionId === ok.sessionId,
  )
  t.equal(done.sale.volumeMilli, preset)
  t.ok(done.sale.amountMinor <= 500)
  await until('delivered', () => cloud.sales.some((s) => s.idempotencyKey === ok.sessionId))
  const replay = car.authorize('st5', 1, token)
  const r = await car.waitFor<PumpRejectedMessage>(isReply(replay))
  t.equal(r.reason.code, 'TOKEN_REPLAYED')
})

t.test('retained status and the last will through Mosquitto', async (t) => {
  const watch = await connectMqtt(brokerUrl, {
    clientId: 'cloud-watch',
    username: 'cloud-watch',
    password: users['cloud-watch'],
    clean: true,
  })
  t.teardown(() => watch.endAsync())
  const statuses: StationStatusMessage[] = []
  watch.on('message', (topic, payload) => {
    const d = decode(topic, payload)
    if (d.ok && d.value.message.type === 'station-status') statuses.push(d.value.message)
  })
  await watch.subscribeAsync(`${ROOT}/st/st5/status`, { qos: 1 })
  await until('retained online status', () => statuses.some((s) => s.online))
  // The station's connection dies without a DISCONNECT: the broker publishes the will.
  ;(station.link as unknown as { client: { stream: { destroy(): void } } }).client.stream.destroy()
  await until('will: offline', () => statuses.some((s) => !s.online))
  await until('reconnected: online again', () => statuses.at(-1)?.online === true, 15_000)
  const firstOffline = statuses.findIndex((s) => !s.online)
  t.ok(firstOffline > 0, 'online, then the will said offline')
  t.equal(statuses[firstOffline]?.stationId, 'st5')
  t.equal(statuses.at(-1)?.online, true, 'online again after the reconnect')
})
