import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTestDatabase } from '@fuelpay/platform/test-db'
import { connectMqtt } from '@fuelpay/platform'
import {
  decode,
  encode,
  exportPrivateJwk,
  type FuelAuthorizationResponse,
  generateSigningKey,
  importSigningKey,
  type Message,
  type MqttCredentialResponse,
  newNonce,
  type SigningKey,
  signClientAssertion,
  topics,
} from '@fuelpay/proto'
import type { MqttClient } from 'mqtt'
import { type RunningProcess, startProgram } from './processes.ts'

/** Calls the cloud's admin API; throws with the body on a non-2xx answer. */
export async function admin<T = unknown>(httpUrl: string, token: string, path: string, body: unknown): Promise<T> {
  const res = await fetch(`${httpUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'idempotency-key': `adm-${path.replaceAll('/', '-')}-${Math.random().toString(36).slice(2)}` },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  })
  const text = await res.text()
  if (!res.ok) throw new Error(`${path} -> ${res.status} ${text}`)
  return (text ? JSON.parse(text) : undefined) as T
}

export interface Station {
  id: string
  keyFile: string
  lat: number
  lon: number
  pumps: string
}
export interface Vehicle {
  id: string
  keyFile: string
  accountId: string
}

/**
 * A whole fuelpay world in real processes: a cloud (HTTP + broker) on a fresh
 * database, one provisioned station with its controller process, one
 * provisioned vehicle with a funded card. Everything on port 0.
 */
export interface World {
  dir: string
  cloud: RunningProcess
  httpUrl: string
  mqttUrl: string
  adminToken: string
  station: Station
  vehicle: Vehicle
  controller?: RunningProcess
  startController(extraArgs?: string[]): Promise<RunningProcess>
  close(): Promise<void>
  /** postgres:// URL of the world's database (undefined on PGlite). */
  databaseUrl?: string | undefined
  /** Stops the cloud process (SIGKILL by default: a crash); its database stays. */
  stopCloud(signal?: NodeJS.Signals): Promise<void>
  /** Starts the cloud again on the same database and the same HTTP and MQTT ports. */
  restartCloud(): Promise<void>
  /** Provisions another station (operator op-e2e) with its own key file; pumps 1 and 2 as the first. */
  provisionStation(id: string, o?: { lat?: number; lon?: number }): Promise<Station>
  /** Provisions another vehicle with its own account, funded card and key file. */
  provisionVehicle(id: string, o?: { availableMinor?: number }): Promise<Vehicle>
  /** Starts a controller process for a provisioned station; stopped by close(). */
  startStationController(station: Station, extraArgs?: string[]): Promise<RunningProcess>
}

export interface StartWorldOptions {
  availableMinor?: number
  autoLiftMs?: number
  /** Extra environment for the cloud process (e.g. FUELPAY_PUMP_AUTHORIZATION_TTL_S). */
  cloudEnv?: Record<string, string>
}

export async function startWorld(opts: StartWorldOptions = {}): Promise<World> {
  const dir = await mkdtemp(join(tmpdir(), 'fuelpay-e2e-'))
  const tdb = await createTestDatabase()
  const adminToken = `adm_${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`
  const cloudEnv = (httpPort: string, mqttPort: string) => ({
    ...(tdb.url ? { DATABASE_URL: tdb.url } : {}),
    FUELPAY_DATA_DIR: tdb.dataDir ?? join(dir, 'cloud'),
    FUELPAY_HTTP_PORT: httpPort,
    FUELPAY_MQTT_PORT: mqttPort,
    FUELPAY_ADMIN_TOKEN: adminToken,
    ...opts.cloudEnv,
  })
  let cloud = startProgram('cloud/src/server.ts', [], { env: cloudEnv('0', '0') })
  const ready = await cloud.waitForLog('fuelpay cloud ready', 60_000)
  const httpUrl = String(ready.httpUrl)
  const mqttUrl = String(ready.mqttUrl)
  const extraControllers: RunningProcess[] = []

  const stationKey = await generateSigningKey('station-e2e-1')
  const vehicleKey = await generateSigningKey('vehicle-e2e-1')
  const station: Station = { id: 'st-e2e', keyFile: join(dir, 'station.jwk'), lat: 48.1374, lon: 11.5755, pumps: '1:diesel=1799,unleaded95=1859;2:diesel=1799,unleaded95=1859' }
  await writeFile(station.keyFile, JSON.stringify(await exportPrivateJwk(stationKey)), { mode: 0o600 })
  const vehicleKeyFile = join(dir, 'vehicle.jwk')
  await writeFile(vehicleKeyFile, JSON.stringify(await exportPrivateJwk(vehicleKey)), { mode: 0o600 })

  const op = await admin<{ id: string }>(httpUrl, adminToken, '/v1/admin/operators', { id: 'op-e2e', name: 'E2E Fuels' })
  await admin(httpUrl, adminToken, '/v1/admin/stations', {
    id: station.id,
    operatorId: op.id,
    name: 'E2E Station',
    lat: station.lat,
    lon: station.lon,
    geofenceRadiusM: 150,
    currency: 'EUR',
    volumeUnit: 'L',
    beaconMajor: 4242,
    publicJwk: stationKey.publicJwk,
    pumps: [1, 2].map((pump) => ({ pump, grades: [{ grade: 'diesel', unitPriceMilli: 1799 }, { grade: 'unleaded95', unitPriceMilli: 1859 }] })),
  })
  const account = await admin<{ id: string }>(httpUrl, adminToken, '/v1/admin/accounts', { id: 'acct-e2e', name: 'Erika Mustermann', defaultHoldMinor: 10_000 })
  const card = await admin<{ token: string }>(httpUrl, adminToken, '/v1/admin/sim-processor/cards', {
    brand: 'visa',
    last4: '4242',
    availableMinor: opts.availableMinor ?? 50_000,
    currency: 'EUR',
    expMonth: 12,
    expYear: 2030,
  })
  await admin(httpUrl, adminToken, `/v1/admin/accounts/${account.id}/payment-methods`, { processorToken: card.token, brand: 'visa', last4: '4242', name: 'personal card', isDefault: true })
  await admin(httpUrl, adminToken, '/v1/admin/vehicles', { id: 'car-e2e', accountId: account.id, publicJwk: vehicleKey.publicJwk, name: 'Golf' })
  const vehicle: Vehicle = { id: 'car-e2e', keyFile: vehicleKeyFile, accountId: account.id }

  const world: World = {
    dir,
    cloud,
    httpUrl,
    mqttUrl,
    adminToken,
    station,
    vehicle,
    databaseUrl: tdb.url,
    async stopCloud(signal = 'SIGKILL') {
      await world.cloud.kill(signal)
    },
    async restartCloud() {
      await world.cloud.kill('SIGKILL')
      const port = (url: string) => new URL(url).port
      // The embedded broker's port when it runs one; an external broker keeps its own.
      // Same ports, so the controllers' --cloud-url and --broker-url stay right (unused with an external broker).
      cloud = startProgram('cloud/src/server.ts', [], { env: cloudEnv(port(httpUrl), port(mqttUrl)) })
      world.cloud = cloud
      const again = await cloud.waitForLog('fuelpay cloud ready', 60_000)
      if (again.httpUrl !== httpUrl) throw new Error(`cloud came back on ${String(again.httpUrl)}, not ${httpUrl}`)
    },
    async provisionStation(id, o = {}) {
      const key = await generateSigningKey(`${id}-k1`)
      const st: Station = { id, keyFile: join(dir, `${id}.jwk`), lat: o.lat ?? station.lat, lon: o.lon ?? station.lon, pumps: station.pumps }
      await writeFile(st.keyFile, JSON.stringify(await exportPrivateJwk(key)), { mode: 0o600 })
      await admin(httpUrl, adminToken, '/v1/admin/stations', {
        id,
        operatorId: op.id,
        name: `Station ${id}`,
        lat: st.lat,
        lon: st.lon,
        geofenceRadiusM: 150,
        currency: 'EUR',
        volumeUnit: 'L',
        publicJwk: key.publicJwk,
        pumps: [1, 2].map((pump) => ({ pump, grades: [{ grade: 'diesel', unitPriceMilli: 1799 }, { grade: 'unleaded95', unitPriceMilli: 1859 }] })),
      })
      return st
    },
    async provisionVehicle(id, o = {}) {
      const key = await generateSigningKey(`${id}-k1`)
      const keyFile = join(dir, `${id}.jwk`)
      await writeFile(keyFile, JSON.stringify(await exportPrivateJwk(key)), { mode: 0o600 })
      const acct = await admin<{ id: string }>(httpUrl, adminToken, '/v1/admin/accounts', { id: `acct-${id}`, name: `Driver of ${id}`, defaultHoldMinor: 5_000 })
      const c = await admin<{ token: string }>(httpUrl, adminToken, '/v1/admin/sim-processor/cards', {
        brand: 'mastercard',
        last4: '5454',
        availableMinor: o.availableMinor ?? 50_000,
        currency: 'EUR',
        expMonth: 12,
        expYear: 2030,
      })
      await admin(httpUrl, adminToken, `/v1/admin/accounts/${acct.id}/payment-methods`, { processorToken: c.token, brand: 'mastercard', last4: '5454', isDefault: true })
      await admin(httpUrl, adminToken, '/v1/admin/vehicles', { id, accountId: acct.id, publicJwk: key.publicJwk })
      return { id, keyFile, accountId: acct.id }
    },
    async startStationController(st, extraArgs = []) {
      const c = startProgram('pump-controller/src/main.ts', [
        '--station-id', st.id,
        '--cloud-url', httpUrl,
        '--broker-url', mqttUrl,
        '--key-file', st.keyFile,
        '--pumps', st.pumps,
        '--data-dir', join(dir, `controller-${st.id}`),
        '--http-port', '0',
        ...(opts.autoLiftMs !== undefined ? ['--sim-auto-lift-ms', String(opts.autoLiftMs)] : []),
        ...extraArgs,
      ])
      extraControllers.push(c)
      await c.waitForLog('pump controller ready', 60_000)
      return c
    },
    async startController(extraArgs = []) {
      const c = startProgram('pump-controller/src/main.ts', [
        '--station-id', station.id,
        '--cloud-url', httpUrl,
        '--broker-url', mqttUrl,
        '--key-file', station.keyFile,
        '--pumps', station.pumps,
        '--data-dir', join(dir, 'controller'),
        '--http-port', '0',
        ...(opts.autoLiftMs !== undefined ? ['--sim-auto-lift-ms', String(opts.autoLiftMs)] : []),
        ...extraArgs,
      ])
      await c.waitForLog('pump controller ready', 60_000)
      world.controller = c
      return c
    },
    async close() {
      await world.controller?.kill()
      for (const c of extraControllers) await c.kill()
      await world.cloud.kill()
      await tdb.cleanup().catch(() => {})
      await rm(dir, { recursive: true, force: true })
    },
  }
  return world
}

/** A vehicle's own key, read back from its key file. */
export async function readVehicleKey(v: Vehicle): Promise<SigningKey> {
  return importSigningKey(JSON.parse(await readFile(v.keyFile, 'utf8')))
}

/** POSTs as a vehicle (client assertion signed with its key); resolves with status and JSON body. */
export async function vehiclePost<T = any>(httpUrl: string, v: Vehicle, path: string, body: unknown, idempotencyKey = newNonce()): Promise<{ status: number; body: T }> {
  const key = await readVehicleKey(v)
  const res = await fetch(`${httpUrl}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${await signClientAssertion({ role: 'vehicle', id: v.id }, key)}`,
      'idempotency-key': idempotencyKey,
    },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  })
  const text = await res.text()
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T }
}

/** A hold and its pump authorization token, as the car's agent gets them (POST /v1/fuel-authorizations). */
export async function fuelAuthorization(
  world: Pick<World, 'httpUrl'>,
  v: Vehicle,
  o: { station: Station; pump: number; amountMinor?: number; grade?: string; idempotencyKey?: string },
): Promise<FuelAuthorizationResponse> {
  const r = await vehiclePost<FuelAuthorizationResponse>(
    world.httpUrl,
    v,
    '/v1/fuel-authorizations',
    {
      stationId: o.station.id,
      pump: o.pump,
      position: { lat: o.station.lat, lon: o.station.lon },
      ...(o.amountMinor !== undefined ? { amountMinor: o.amountMinor } : {}),
      ...(o.grade ? { grade: o.grade } : {}),
    },
    o.idempotencyKey,
  )
  if (r.status !== 201) throw new Error(`fuel authorization -> ${r.status} ${JSON.stringify(r.body)}`)
  return r.body
}

/** A reply the car received on its inbox, decoded with proto. */
export interface CarMessage {
  topic: string
  message: Message
}

/**
 * The car as an MQTT client: its broker login from POST /v1/mqtt-credentials
 * (client assertion signed with its own key), its inbox subscribed, proto
 * encode/decode on the wire.
 */
export interface Car {
  vehicle: Vehicle
  client: MqttClient
  credentials: MqttCredentialResponse
  inbox: CarMessage[]
  /** Publishes authorize{requestId, token} to the pump's request topic as this car (or as `asVehicleId` in the topic). */
  authorize(station: Station | string, pump: number, token: string, requestId?: string): Promise<string>
  cancel(station: Station | string, pump: number, sessionId: string): Promise<string>
  /** The first inbox message (past or future) that matches, or rejects after timeoutMs. */
  waitFor(match: (m: Message, topic: string) => boolean, timeoutMs?: number): Promise<Message>
  close(): Promise<void>
}

/** proto ids start with a letter or digit; a nonce may not. */
const requestIdNow = () => `r${newNonce()}`

export async function connectCar(world: Pick<World, 'httpUrl'>, v: Vehicle, o: { brokerUrl?: string } = {}): Promise<Car> {
  const cred = await vehiclePost<MqttCredentialResponse>(world.httpUrl, v, '/v1/mqtt-credentials', {})
  if (cred.status !== 200) throw new Error(`mqtt credentials -> ${cred.status} ${JSON.stringify(cred.body)}`)
  const credentials = cred.body
  const client = await connectMqtt(o.brokerUrl ?? credentials.brokerUrl, {
    clientId: credentials.clientId,
    username: credentials.username,
    password: credentials.password,
    clean: true,
    connectTimeoutMs: 10_000,
  })
  const inbox: CarMessage[] = []
  const waiters = new Set<() => void>()
  client.on('message', (topic, payload) => {
    const d = decode(topic, payload)
    if (!d.ok) return
    inbox.push({ topic, message: d.value.message })
    for (const w of [...waiters]) w()
  })
  await client.subscribeAsync(topics.vehicleInbox(v.id), { qos: 1 })
  const stationId = (s: Station | string) => (typeof s === 'string' ? s : s.id)
  return {
    vehicle: v,
    client,
    credentials,
    inbox,
    async authorize(station, pump, token, requestId = requestIdNow()) {
      const topic = topics.pumpRequest(stationId(station), pump, v.id)
      await client.publishAsync(topic, encode(topic, { type: 'authorize', requestId, token }), { qos: 1 })
      return requestId
    },
    async cancel(station, pump, sessionId) {
      const requestId = requestIdNow()
      const topic = topics.pumpRequest(stationId(station), pump, v.id)
      await client.publishAsync(topic, encode(topic, { type: 'cancel', requestId, sessionId }), { qos: 1 })
      return requestId
    },
    waitFor(match, timeoutMs = 30_000) {
      const found = () => inbox.find((m) => match(m.message, m.topic))?.message
      const now = found()
      if (now) return Promise.resolve(now)
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = found()
          if (!m) return
          clearTimeout(timer)
          waiters.delete(check)
          resolve(m)
        }
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`car ${v.id}: no matching message in ${timeoutMs} ms; inbox: ${JSON.stringify(inbox.map((m) => m.message.type))}`))
        }, timeoutMs)
        waiters.add(check)
      })
    },
    async close() {
      await client.endAsync(true).catch(() => {})
    },
  }
}

/** GET as admin; resolves with the JSON body (throws on non-2xx). */
export async function adminGet<T = any>(httpUrl: string, token: string, path: string): Promise<T> {
  const res = await fetch(`${httpUrl}${path}`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10_000) })
  const text = await res.text()
  if (!res.ok) throw new Error(`${path} -> ${res.status} ${text}`)
  return JSON.parse(text) as T
}

/** Polls `fn` until it returns a value that is not undefined, or throws after timeoutMs. */
export async function eventually<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000, everyMs = 200): Promise<T> {
  const until = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await fn()
      if (v !== undefined) return v
    } catch (err) {
      last = err
    }
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}
