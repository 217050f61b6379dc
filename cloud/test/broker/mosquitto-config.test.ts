import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connectMqtt } from '@fuelpay/platform'
import { allowed, clientIdFor, type Identity, topics } from '@fuelpay/proto'
import t from 'tap'
import { aclFor, main, writeMosquittoConfig } from '../../src/broker/mosquitto-config.ts'
import { runAclTable } from './acl-runner.ts'
import { ACL_CASES, car7, car8, s1, s2 } from './acl-table.ts'
import { attempt, inbox, subscribe, type Teardown, track, WAIT_MS, withTimeout } from './helpers.ts'

const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0
const skip =
  !have('mosquitto') || !have('mosquitto_passwd')
    ? 'mosquitto or mosquitto_passwd not installed'
    : false

const cloud: Identity = { role: 'cloud', id: 'cloud' }
const observer: Identity = { role: 'cloud', id: 'observer' }

t.test('acl lines come from proto topic builders', async (t) => {
  t.same(aclFor(car7), [
    'user vehicle-car7',
    'topic write fuelpay/v1/st/+/pump/+/req/car7',
    'topic read fuelpay/v1/st/+/pump/+/res/car7',
  ])
  t.same(aclFor(cloud), [
    'user cloud-cloud',
    'topic write fuelpay/v1/st/+/cmd',
    'topic read fuelpay/v1/#',
  ])
  // Every concrete ACL line for a station names only that station.
  for (const line of aclFor(s1).slice(1)) t.match(line, /^topic (read|write) fuelpay\/v1\/st\/s1\//)
})

t.test('bad input is refused before anything is written', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fp-mosq-bad-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await t.rejects(
    writeMosquittoConfig({ outDir: dir, port: 1885, vehicles: ['car/7'], stations: [] }),
    TypeError,
  )
  await t.rejects(
    writeMosquittoConfig({ outDir: dir, port: 1885, vehicles: ['#'], stations: [] }),
    TypeError,
  )
  await t.rejects(
    writeMosquittoConfig({ outDir: dir, port: 0, vehicles: [], stations: [] }),
    RangeError,
  )
  t.equal(await main([]), 2, 'the CLI without --out prints usage and fails')
})

async function freePort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  const addr = s.address()
  await new Promise<void>((resolve) => s.close(() => resolve()))
  if (typeof addr !== 'object' || !addr) throw new Error('no port')
  return addr.port
}

interface Mosquitto {
  url: string
  credentials: Record<string, string>
  connect(identity: Identity, clientId?: string): Promise<import('mqtt').MqttClient>
}

async function startMosquitto(t: Teardown): Promise<Mosquitto> {
  const dir = await mkdtemp(join(tmpdir(), 'fp-mosq-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const port = await freePort()
  const files = await writeMosquittoConfig({
    outDir: dir,
    port,
    vehicles: ['car7', 'car8'],
    stations: ['s1', 's2'],
    clouds: ['cloud', 'observer'],
    // Mosquitto started as root drops to user mosquitto, which cannot read a 0700 test dir.
    ...(process.getuid?.() === 0 ? { runAsUser: 'root' } : {}),
  })
  const child: ChildProcess = spawn('mosquitto', ['-c', files.confPath], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve()
        const kill = setTimeout(() => child.kill('SIGKILL'), WAIT_MS)
        child.once('exit', () => {
          clearTimeout(kill)
          resolve()
        })
        child.kill('SIGTERM')
      }),
  )
  let log = ''
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      child.stderr?.on('data', (d: Buffer) => {
        log += d.toString('utf8')
        if (/mosquitto version \S+ running/.test(log)) resolve()
      })
      child.once('exit', (code) => reject(new Error(`mosquitto exited (${code}): ${log}`)))
    }),
    'mosquitto start',
  )
  const url = `mqtt://127.0.0.1:${port}`
  const connect = async (identity: Identity, clientId = clientIdFor(identity)) => {
    const username = clientIdFor(identity)
    const client = await connectMqtt(url, {
      clientId,
      username,
      password: files.credentials[username] ?? '',
      reconnectPeriod: 0,
      connectTimeoutMs: WAIT_MS,
    })
    return track(t, client)
  }
  return { url, credentials: files.credentials, connect }
}

t.test('generated files: modes, hashed passwords, no 1883', { skip }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fp-mosq-files-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const files = await writeMosquittoConfig({
    outDir: dir,
    port: 18830,
    vehicles: ['car7'],
    stations: ['s1'],
  })
  for (const p of [files.passwordPath, files.credentialsPath, files.aclPath, files.confPath]) {
    t.equal((await stat(p)).mode & 0o077, 0, `${p} is private`)
  }
  const passwd = await readFile(files.passwordPath, 'utf8')
  t.notOk(
    passwd.includes(files.credentials['vehicle-car7'] ?? 'x'),
    'the password file holds no clear secret',
  )
  t.match(passwd, /^vehicle-car7:\$7\$/m, 'hashed by mosquitto_passwd')
  const conf = await readFile(files.confPath, 'utf8')
  t.match(conf, /^allow_anonymous false$/m)
  t.match(conf, /^persistence false$/m)
  t.match(conf, /^listener 18830 127\.0\.0\.1$/m)
  t.notMatch(conf, /1883\b/)
  const again = await writeMosquittoConfig({
    outDir: dir,
    port: 18830,
    vehicles: ['car7', 'car8'],
    stations: ['s1'],
  })
  t.equal(
    again.credentials['vehicle-car7'],
    files.credentials['vehicle-car7'],
    'regenerating keeps existing secrets',
  )
  t.ok(again.credentials['vehicle-car8'], 'and adds the new client')
})

t.test('a real Mosquitto with the generated config', { skip }, async (t) => {
  const m = await startMosquitto(t)

  t.test('authentication', async (t) => {
    t.same(
      await attempt(m.url, { clientId: 'vehicle-car7' }),
      { outcome: 'refused', code: 5 },
      'anonymous refused',
    )
    const wrong = await attempt(m.url, {
      clientId: 'vehicle-car7',
      username: 'vehicle-car7',
      password: m.credentials['vehicle-car8'] ?? '',
    })
    t.equal(wrong.outcome, 'refused', "another client's secret is refused")
    t.same(
      await attempt(m.url, {
        clientId: 'vehicle-car7',
        username: 'vehicle-car7',
        password: m.credentials['vehicle-car7'] ?? '',
      }),
      { outcome: 'connected' },
    )
  })

  t.test('a vehicle uses its own topics and no one else’s', async (t) => {
    const station = await m.connect(s1)
    const sIn = inbox(station)
    t.same(await subscribe(station, topics.stationSubscriptions('s1')), [1, 1])
    const v7 = await m.connect(car7)
    const v8 = await m.connect(car8)
    const in7 = inbox(v7)
    const in8 = inbox(v8)
    t.same(await subscribe(v7, topics.vehicleInbox('car7')), [1])
    t.same(await subscribe(v8, topics.vehicleInbox('car8')), [1])
    // Mosquitto 2.0 grants the SUBSCRIBE and refuses each message on delivery.
    await subscribe(v7, topics.vehicleInbox('car8'))

    await v7.publishAsync(topics.pumpRequest('s1', 2, 'car8'), 'forged-by-car7', { qos: 1 })
    await v7.publishAsync(topics.pumpRequest('s1', 2, 'car7'), 'own-request', { qos: 1 })
    await sIn.next((x) => x.payload === 'own-request')
    t.notOk(
      sIn.all.some((x) => x.payload === 'forged-by-car7'),
      "car7's request in car8's name never reached the station",
    )

    await station.publishAsync(topics.pumpReply('s1', 2, 'car8'), 'reply-to-car8', { qos: 1 })
    await station.publishAsync(topics.pumpReply('s1', 2, 'car7'), 'reply-to-car7', { qos: 1 })
    await in7.next((x) => x.payload === 'reply-to-car7')
    await in8.next((x) => x.payload === 'reply-to-car8')
    t.same(
      in7.all.map((x) => x.payload),
      ['reply-to-car7'],
      'car7 read only its own reply',
    )

    await station.publishAsync(topics.stationStatus('s1'), '{"online":true}', {
      qos: 1,
      retain: true,
    })
    const other = await m.connect(s2)
    const otherIn = inbox(other)
    await subscribe(v7, topics.stationStatus('s1'))
    await subscribe(other, topics.stationStatus('s1'))
    const ownIn = inbox(station)
    await subscribe(station, topics.stationStatus('s1'))
    await ownIn.next((x) => x.topic === topics.stationStatus('s1') && x.retain)
    // Barrier: a later SUBACK comes after any retained message of the earlier subscribe.
    await subscribe(v7, 'fuelpay/v1/barrier')
    await subscribe(other, 'fuelpay/v1/barrier')
    t.notOk(
      in7.all.some((x) => x.topic === topics.stationStatus('s1')),
      "car7 did not get the station's retained status",
    )
    t.same(otherIn.all, [], 'nor did another station')
    await station.publishAsync(topics.stationStatus('s1'), '', { qos: 1, retain: true })
  })

  t.test('take-over: the client id is the authenticated username', async (t) => {
    const v8 = await m.connect(car8)
    const in8 = inbox(v8)
    t.same(await subscribe(v8, topics.vehicleInbox('car8')), [1])
    const impostor = await m.connect(car7, 'vehicle-car8')
    t.ok(impostor.connected, "car7 asking for car8's client id connects, but as vehicle-car7")
    const station = await m.connect(s1)
    await station.publishAsync(topics.pumpReply('s1', 1, 'car8'), 'still-car8', { qos: 1 })
    await in8.next((x) => x.payload === 'still-car8')
    t.ok(v8.connected, "car8's session was not taken over")
  })

  t.test("cross-check: Mosquitto's ACL against proto allowed()", async (t) => {
    await runAclTable(
      t,
      {
        name: 'mosquitto',
        connect: (id) => m.connect(id),
        observer,
        deniedPublishDisconnects: false,
        grantsEverySubscribe: true,
        canProbe: () => true,
      },
      ACL_CASES,
      (c) => (c.mosquittoDiffers ? !c.allowed : c.allowed),
    )
    const differing = ACL_CASES.filter((c) => c.mosquittoDiffers)
    t.ok(
      differing.every((c) => !c.allowed),
      'where they differ, Mosquitto is the more permissive one (and the table says why)',
    )
    t.ok(allowed(car7, { action: 'publish', topic: topics.pumpRequest('s1', 1, 'car7') }))
  })
})
