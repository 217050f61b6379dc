import { randomBytes } from 'node:crypto'
import { cp, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connectMqtt, silentLogger } from '@fuelpay/platform'
import { createTestDatabase, pgliteTemplate } from '@fuelpay/platform/test-db'
import {
  amountForVolume,
  CONSOLE_WS_PATH,
  type ConsoleServerMessage,
  type Draft,
  decode,
  encode,
  generateSigningKey,
  type Reason,
  reason,
  type SaleRecord,
  type SigningKey,
  signBrokerCredential,
  signSaleRecord,
  signClientAssertion,
  type StationCommandMessage,
  topics,
} from '@fuelpay/proto'
import type { MqttClient } from 'mqtt'
import WebSocket from 'ws'
import { type RunningCloud, startCloud } from '../../src/cloud.ts'
import { loadConfig } from '../../src/config.ts'

interface Tap {
  teardown(fn: () => unknown): void
}

export const ADMIN = 'console-test-admin-0123456789'

/** A fresh real database (PostgreSQL when reachable) shared by the clouds a test starts. */
export async function testDatabase(t: Tap) {
  const tdb = await createTestDatabase()
  t.teardown(() => tdb.cleanup())
  return tdb
}

/**
 * A whole cloud (HTTP, embedded broker, MQTT link) listening on port 0, on
 * `tdb`'s PostgreSQL database or, with `pglite`, on its own embedded PGlite
 * (copied from the pre-initialised template: opens in under a second).
 */
export async function startTestCloud(t: Tap, tdb: { url?: string; dataDir?: string }, opts: { pglite?: boolean } = {}): Promise<RunningCloud> {
  const dir = await mkdtemp(join(tmpdir(), 'fuelpay-console-'))
  if (opts.pglite) await cp(await pgliteTemplate(), join(dir, 'pglite'), { recursive: true })
  const cloud = await startCloud(
    loadConfig({
      ...(tdb.url && !opts.pglite ? { DATABASE_URL: tdb.url } : {}),
      FUELPAY_DATA_DIR: dir,
      FUELPAY_HTTP_PORT: '0',
      FUELPAY_MQTT_PORT: '0',
      FUELPAY_ADMIN_TOKEN: ADMIN,
      LOG_LEVEL: 'silent',
    }),
    { log: silentLogger() },
  )
  t.teardown(async () => {
    await cloud.close()
    await rm(dir, { recursive: true, force: true })
  })
  return cloud
}

export async function adminPost<T>(httpUrl: string, path: string, body: unknown): Promise<T> {
  const res = await fetch(`${httpUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}`, 'idempotency-key': `k-${randomBytes(8).toString('hex')}` },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  })
  const text = await res.text()
  if (!res.ok) throw new Error(`${path} -> ${res.status} ${text}`)
  return JSON.parse(text) as T
}

/** An operator with one station of `pumps` pumps selling diesel 1.799 and unleaded95 1.859 EUR/L. */
export async function provisionOperator(httpUrl: string, operatorId: string, stationIds: string[], pumps = 2) {
  const op = await adminPost<{ id: string; apiKey: string }>(httpUrl, '/v1/admin/operators', { id: operatorId, name: `${operatorId} Fuels` })
  const stationKeys: Record<string, Awaited<ReturnType<typeof generateSigningKey>>> = {}
  for (const [i, stationId] of stationIds.entries()) {
    const key = await generateSigningKey(`${stationId}-k1`)
    stationKeys[stationId] = key
    await adminPost(httpUrl, '/v1/admin/stations', {
      id: stationId,
      operatorId,
      name: `Station ${stationId}`,
      lat: 48.1 + i * 0.01,
      lon: 11.5,
      geofenceRadiusM: 150,
      currency: 'EUR',
      volumeUnit: 'L',
      publicJwk: key.publicJwk,
      pumps: Array.from({ length: pumps }, (_, p) => ({
        pump: p + 1,
        grades: [
          { grade: 'diesel', unitPriceMilli: 1799 },
          { grade: 'unleaded95', unitPriceMilli: 1859 },
        ],
      })),
    })
  }
  return { ...op, stationKeys }
}

/** A console client over a real websocket, recording every frame it receives. */
export interface ConsoleTestClient {
  ws: WebSocket
  frames: ConsoleServerMessage[]
  closed: Promise<{ code: number; reason: string }>
  send(frame: unknown): void
  sendRaw(data: string | Buffer): void
  /** The first frame not yet returned by `next` that matches, waiting up to `timeoutMs`. */
  next<T extends ConsoleServerMessage['type']>(
    type: T,
    match?: (f: Extract<ConsoleServerMessage, { type: T }>) => boolean,
    timeoutMs?: number,
  ): Promise<Extract<ConsoleServerMessage, { type: T }>>
  close(): void
}

export async function openConsole(httpUrl: string, opts: { apiKey?: string; hello?: boolean } = {}): Promise<ConsoleTestClient> {
  const ws = new WebSocket(`${httpUrl.replace(/^http/, 'ws')}${CONSOLE_WS_PATH}`)
  const frames: ConsoleServerMessage[] = []
  const listeners = new Set<() => void>()
  ws.on('message', (data) => {
    frames.push(JSON.parse(String(data)) as ConsoleServerMessage)
    for (const l of listeners) l()
  })
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })))
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('websocket open timed out')), 10_000)
    ws.once('open', () => {
      clearTimeout(timer)
      resolve()
    })
    ws.once('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
  })
  const consumed = new Set<number>()
  const client: ConsoleTestClient = {
    ws,
    frames,
    closed,
    send: (frame) => ws.send(JSON.stringify(frame)),
    sendRaw: (data) => ws.send(data),
    next(type, match, timeoutMs = 10_000) {
      type F = Extract<ConsoleServerMessage, { type: typeof type }>
      return new Promise((resolve, reject) => {
        const check = () => {
          for (let i = 0; i < frames.length; i++) {
            const f = frames[i] as ConsoleServerMessage
            if (!consumed.has(i) && f.type === type && (!match || match(f as F))) {
              consumed.add(i)
              listeners.delete(check)
              clearTimeout(timer)
              resolve(f as F)
              return
            }
          }
        }
        const timer = setTimeout(() => {
          listeners.delete(check)
          reject(new Error(`no ${type} frame within ${timeoutMs} ms; got ${frames.slice(-5).map((f) => JSON.stringify(f).slice(0, 200)).join('\n')}`))
        }, timeoutMs)
        listeners.add(check)
        check()
      })
    },
    close: () => ws.close(),
  }
  if (opts.apiKey && opts.hello !== false) client.send({ type: 'hello', v: 1, apiKey: opts.apiKey })
  return client
}

/** Sends a command and waits for its result frame. */
export async function command(c: ConsoleTestClient, frame: { type: string; [k: string]: unknown }, timeoutMs = 15_000) {
  const id = `c${randomBytes(6).toString('hex')}`
  c.send({ ...frame, id })
  return c.next('result', (r) => r.id === id, timeoutMs)
}

/**
 * A station on the real broker, speaking proto over MQTT as the pump
 * controller does: publishes pump state and status, records the commands it
 * receives and answers them with the reason `answer` returns (undefined: ok).
 *
 * Without `answer` it answers as the pump controller does (controller.ts):
 * a void-session for a session a pump holds is ok (the pump cancels it); for
 * a session the station has seen that has ended, SESSION_NOT_FOUND (its sale
 * settles it); for one it has never seen, ok, and the revocation is recorded
 * so its token would be refused later. Everything else: ok.
 */
export interface FakeStation {
  client: MqttClient
  commands: StationCommandMessage[]
  /** Sessions voided before this station saw them (the controller journals these). */
  revoked: Set<string>
  /** The station-command-result answers sent, by command id. */
  answers: Map<string, Reason | undefined>
  pumpState(draft: Omit<Draft<'pump-state'>, 'stationId' | 'type'>): Promise<void>
  status(online: boolean, backlog?: number): Promise<void>
  close(): Promise<void>
}

export async function fakeStation(
  cloud: RunningCloud,
  stationId: string,
  answer?: (cmd: StationCommandMessage) => Reason | undefined | 'silent',
): Promise<FakeStation> {
  const password = await signBrokerCredential({ role: 'station', id: stationId }, cloud.deps.keys.active(), Date.now(), 3600)
  const client = await connectMqtt(cloud.mqttUrl, { clientId: `station-${stationId}`, username: `station-${stationId}`, password, clean: true })
  const commands: StationCommandMessage[] = []
  const seen = new Set<string>()
  const onPump = new Map<number, string>()
  const revoked = new Set<string>()
  const answers = new Map<string, Reason | undefined>()
  const asController = (msg: StationCommandMessage): Reason | undefined => {
    const c = msg.command
    if (c.op !== 'void-session') return undefined
    const pump = [...onPump].find(([, s]) => s === c.sessionId)?.[0]
    if (pump !== undefined) {
      onPump.delete(pump)
      return undefined
    }
    if (seen.has(c.sessionId)) return reason('SESSION_NOT_FOUND')
    revoked.add(c.sessionId)
    return undefined
  }
  client.on('message', (topic, payload) => {
    const d = decode(topic, payload)
    if (!d.ok || d.value.message.type !== 'station-command') return
    const msg = d.value.message
    commands.push(msg)
    const r = answer ? answer(msg) : asController(msg)
    if (r === 'silent') return
    answers.set(msg.commandId, r)
    const to = topics.stationCommandResult(stationId)
    void client.publishAsync(to, encode(to, { type: 'station-command-result', commandId: msg.commandId, ok: !r, ...(r ? { reason: r } : {}) }), { qos: 1 })
  })
  await client.subscribeAsync(topics.stationCommand(stationId), { qos: 1 })
  return {
    client,
    commands,
    revoked,
    answers,
    async pumpState(draft) {
      if (draft.sessionId) {
        seen.add(draft.sessionId)
        onPump.set(draft.pump, draft.sessionId)
      } else onPump.delete(draft.pump)
      const to = topics.pumpState(stationId, draft.pump)
      await client.publishAsync(to, encode(to, { ...draft, type: 'pump-state', stationId } as Draft<'pump-state'> & { type: 'pump-state' }), { qos: 1, retain: true })
    },
    async status(online, backlog = 0) {
      const to = topics.stationStatus(stationId)
      await client.publishAsync(to, encode(to, { type: 'station-status', stationId, online, backlog, pumps: 2 }), { qos: 1, retain: true })
    },
    close: () => client.endAsync(),
  }
}

/** A provisioned vehicle with a funded card that can ask for fuel authorizations (real HTTP API). */
export async function provisionVehicle(httpUrl: string, vehicleId: string) {
  const key = await generateSigningKey(`${vehicleId}-k1`)
  const account = await adminPost<{ id: string }>(httpUrl, '/v1/admin/accounts', { id: `acct-${vehicleId}`, name: 'Erika Mustermann', defaultHoldMinor: 5000 })
  const card = await adminPost<{ token: string }>(httpUrl, '/v1/admin/sim-processor/cards', {
    brand: 'visa',
    last4: '4242',
    availableMinor: 1_000_000,
    currency: 'EUR',
    expMonth: 12,
    expYear: 2035,
  })
  await adminPost(httpUrl, `/v1/admin/accounts/${account.id}/payment-methods`, { processorToken: card.token, brand: 'visa', last4: '4242', isDefault: true })
  await adminPost(httpUrl, '/v1/admin/vehicles', { id: vehicleId, accountId: account.id, publicJwk: key.publicJwk })
  const authorize = async (stationId: string, pump: number, amountMinor = 5000): Promise<{ sessionId: string; token: string }> => {
    const assertion = await signClientAssertion({ role: 'vehicle', id: vehicleId }, key)
    const res = await fetch(`${httpUrl}/v1/fuel-authorizations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${assertion}`, 'idempotency-key': `k-${randomBytes(8).toString('hex')}` },
      body: JSON.stringify({ stationId, pump, amountMinor, currency: 'EUR' }),
      signal: AbortSignal.timeout(10_000),
    })
    const text = await res.text()
    if (res.status !== 201) throw new Error(`fuel authorization -> ${res.status} ${text}`)
    return JSON.parse(text) as { sessionId: string; token: string }
  }
  return {
    vehicleId,
    cardToken: card.token,
    /** Asks for a hold at a pump; returns the new session and its pump token. */
    authorizeWithToken: authorize,
    /** Asks for a hold at a pump; returns the new session id. */
    async authorize(stationId: string, pump: number, amountMinor = 5000): Promise<string> {
      return (await authorize(stationId, pump, amountMinor)).sessionId
    },
  }
}

/**
 * A station's signed sale for a session, as the controller POSTs it to
 * /v1/sales (diesel at 1.799 EUR/L); returns the HTTP status and body.
 */
export async function postSale(
  httpUrl: string,
  station: { id: string; key: SigningKey },
  auth: { sessionId: string; token: string },
  volumeMilli: number,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const claims = JSON.parse(Buffer.from(auth.token.split('.')[1] as string, 'base64url').toString()) as { jti: string; pump: number; vehicleId: string }
  const amountMinor = volumeMilli > 0 ? amountForVolume(volumeMilli, 1799, 'EUR') : 0
  const now = Date.now()
  const rec: SaleRecord = {
    sessionId: auth.sessionId,
    tokenId: claims.jti,
    stationId: station.id,
    pump: claims.pump,
    vehicleId: claims.vehicleId,
    outcome: volumeMilli > 0 ? 'completed' : 'cancelled',
    ...(volumeMilli > 0 ? { grade: 'diesel' as const, unitPriceMilli: 1799 } : {}),
    volumeMilli,
    volumeUnit: 'L',
    amountMinor,
    currency: 'EUR',
    startedAt: now - 60_000,
    endedAt: now,
    seq: 1,
    totalizerStartMilli: 1_000_000,
    totalizerEndMilli: 1_000_000 + volumeMilli,
  }
  const saleJws = await signSaleRecord(rec, station.key)
  const assertion = await signClientAssertion({ role: 'station', id: station.id }, station.key)
  const res = await fetch(`${httpUrl}/v1/sales`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${assertion}`, 'idempotency-key': `k-${randomBytes(8).toString('hex')}` },
    body: JSON.stringify({ saleJws }),
    signal: AbortSignal.timeout(10_000),
  })
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

/** Waits (bounded) until `check` holds; fails with `what` after `timeoutMs`. */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}
