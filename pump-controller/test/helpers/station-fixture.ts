import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createServer, type Server as NetServer } from 'node:net'
import { connectMqtt, silentLogger } from '@fuelpay/platform'
import { createTestDatabase } from '@fuelpay/platform/test-db'
import {
  decode,
  encode,
  type Grade,
  generateSigningKey,
  type Message,
  newNonce,
  type SigningKey,
  signPumpAuthorization,
  topics,
} from '@fuelpay/proto'
import { Aedes } from 'aedes'
import type { MqttClient } from 'mqtt'
import {
  type ControllerConfig,
  connectStationLink,
  createCloudClient,
  createPumpController,
  createSimulatedDispenser,
  DEFAULT_LIMITS,
  type Journal,
  openJournal,
  type PumpController,
  type SimulatedDispenser,
} from '../../src/index.ts'

/** A bare aedes broker on port 0 with TCP no-delay (no auth: the cloud's broker does that). */
export async function startBroker(
  port = 0,
): Promise<{ url: string; port: number; close(): Promise<void> }> {
  const broker = await Aedes.createBroker()
  const server: NetServer = createServer({ noDelay: true }, broker.handle)
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r))
  const boundPort = (server.address() as AddressInfo).port
  return {
    url: `mqtt://127.0.0.1:${boundPort}`,
    port: boundPort,
    close: async () => {
      await new Promise<void>((r) => broker.close(() => r()))
      await new Promise<void>((r) => server.close(() => r()))
    },
  }
}

export interface SalePost {
  saleJws: string
  idempotencyKey: string | undefined
  authorization: string | undefined
}

/**
 * A small stand-in for the cloud's station-facing endpoints: mqtt
 * credentials, JWKS and POST /v1/sales. `salesMode` lets a test make the
 * sales endpoint fail.
 */
export async function startCloudStub(opts: {
  brokerUrl: string
  cloudKey: SigningKey & { publicJwk: unknown }
}) {
  const sales: SalePost[] = []
  const state = {
    salesMode: 'ok' as 'ok' | 'down' | 'reject',
    jwks: { keys: [opts.cloudKey.publicJwk] } as { keys: unknown[]; revoked?: string[] },
    jwksFetches: 0,
  }
  const body = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let s = ''
      req.on('data', (c) => (s += c))
      req.on('end', () => resolve(s))
    })
  const server: Server = createHttpServer(async (req, res) => {
    const send = (status: number, json: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(json))
    }
    const text = await body(req)
    if (req.method === 'GET' && req.url === '/.well-known/jwks.json') {
      state.jwksFetches++
      return send(200, state.jwks)
    }
    if (req.method === 'POST' && req.url === '/v1/mqtt-credentials') {
      if (!req.headers.authorization?.startsWith('Bearer '))
        return send(401, { error: { code: 'UNAUTHENTICATED', number: 600, message: 'no' } })
      const iss = JSON.parse(
        Buffer.from(req.headers.authorization.slice(7).split('.')[1] ?? '', 'base64url').toString(),
      ).iss as string
      const id = `${iss.replace(':', '-')}`
      return send(200, {
        clientId: id,
        username: id,
        password: 'test-password-not-checked',
        brokerUrl: opts.brokerUrl,
        expiresAt: new Date(Date.now() + 86400_000).toISOString(),
      })
    }
    if (req.method === 'POST' && req.url === '/v1/sales') {
      if (state.salesMode === 'down')
        return send(503, { error: { code: 'UNAVAILABLE', number: 902, message: 'down' } })
      if (state.salesMode === 'reject')
        return send(422, { error: { code: 'SALE_MISMATCH', number: 509, message: 'no' } })
      const { saleJws } = JSON.parse(text) as { saleJws: string }
      sales.push({
        saleJws,
        idempotencyKey: req.headers['idempotency-key'] as string | undefined,
        authorization: req.headers.authorization,
      })
      const sale = JSON.parse(Buffer.from(saleJws.split('.')[1] ?? '', 'base64url').toString()) as {
        sessionId: string
        amountMinor: number
      }
      return send(200, {
        sessionId: sale.sessionId,
        state: 'captured',
        capturedMinor: sale.amountMinor,
        releasedMinor: 0,
      })
    }
    send(404, { error: { code: 'NOT_FOUND', number: 602, message: 'not found' } })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`,
    sales,
    state,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  }
}

/** A vehicle's MQTT side: publishes requests, collects replies from its inbox. */
export async function connectVehicle(
  brokerUrl: string,
  vehicleId: string,
  login?: { username: string; password: string },
) {
  const client: MqttClient = await connectMqtt(brokerUrl, {
    clientId: `vehicle-${vehicleId}`,
    clean: true,
    ...login,
  })
  const inbox: Message[] = []
  const waiters: { match: (m: Message) => boolean; resolve: (m: Message) => void }[] = []
  client.on('message', (topic, payload) => {
    const d = decode(topic, payload)
    if (!d.ok) return
    inbox.push(d.value.message)
    for (const w of [...waiters])
      if (w.match(d.value.message)) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve(d.value.message)
      }
  })
  await client.subscribeAsync(topics.vehicleInbox(vehicleId), { qos: 1 })
  return {
    client,
    inbox,
    authorize(
      stationId: string,
      pump: number,
      token: string,
      requestId = `r${newNonce()}`,
      asVehicle = vehicleId,
    ) {
      client.publish(
        topics.pumpRequest(stationId, pump, asVehicle),
        encode(topics.pumpRequest(stationId, pump, asVehicle), {
          type: 'authorize',
          requestId,
          token,
        }),
        { qos: 1 },
      )
      return requestId
    },
    cancel(stationId: string, pump: number, sessionId: string, requestId = `r${newNonce()}`) {
      client.publish(
        topics.pumpRequest(stationId, pump, vehicleId),
        encode(topics.pumpRequest(stationId, pump, vehicleId), {
          type: 'cancel',
          requestId,
          sessionId,
        }),
        { qos: 1 },
      )
      return requestId
    },
    /** Resolves with the first message (already received or coming) that matches. */
    waitFor<T extends Message>(match: (m: Message) => boolean, timeoutMs = 10_000): Promise<T> {
      const have = inbox.find(match)
      if (have) return Promise.resolve(have as T)
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(
                `no matching message in ${timeoutMs} ms; inbox: ${JSON.stringify(inbox.map((m) => m.type))}`,
              ),
            ),
          timeoutMs,
        )
        waiters.push({
          match,
          resolve: (m) => {
            clearTimeout(timer)
            resolve(m as T)
          },
        })
      })
    },
    close: () => client.endAsync(),
  }
}

export async function makeToken(
  cloudKey: SigningKey,
  claims: {
    sessionId?: string
    stationId: string
    pump: number
    vehicleId: string
    maxAmountMinor?: number
    maxVolumeMilli?: number
    grades?: Grade[]
    iat?: number
    exp?: number
    jti?: string
    currency?: 'EUR'
  },
  nowMs = Date.now(),
) {
  return signPumpAuthorization(
    {
      sessionId: claims.sessionId ?? `ses_${newNonce().slice(0, 12)}`,
      stationId: claims.stationId,
      pump: claims.pump,
      vehicleId: claims.vehicleId,
      maxAmountMinor: claims.maxAmountMinor ?? 5000,
      currency: claims.currency ?? 'EUR',
      maxVolumeMilli: claims.maxVolumeMilli ?? 100_000,
      grades: claims.grades ?? ['diesel'],
      ...(claims.iat !== undefined ? { iat: claims.iat } : {}),
      ...(claims.exp !== undefined ? { exp: claims.exp } : {}),
      ...(claims.jti !== undefined ? { jti: claims.jti } : {}),
    },
    cloudKey,
    nowMs,
  )
}

export function testConfig(
  stationId: string,
  over: Partial<ControllerConfig> = {},
): ControllerConfig {
  return {
    stationId,
    currency: 'EUR',
    volumeUnit: 'L',
    pumps: [
      { pump: 1, prices: { diesel: 1799, unleaded95: 1859 } },
      { pump: 2, prices: { diesel: 1799 } },
    ],
    limits: { ...DEFAULT_LIMITS },
    tickMs: 50,
    heartbeatMs: 60_000,
    progressIntervalMs: 0,
    ...over,
  }
}

/** A whole station in this process: controller + simulated pumps + journal, against a broker and a cloud stub. */
export async function startStation(opts: {
  stationId: string
  brokerUrl: string
  cloudUrl: string
  config?: Partial<ControllerConfig>
  /** `totalizerMilli`: every simulated pump's totalizer at start (a station started again on the same pumps). */
  dispenser?: { flowRateMilliPerS?: number; autoLiftAfterMs?: number; totalizerMilli?: number }
  journalDb?: { url?: string; dataDir?: string }
  wrapJournal?: (j: Journal) => Journal
  mqttCredentials?: { username: string; password: string }
  /** The sale forwarder's backoff (default: fast, 50-200 ms). */
  retry?: { baseDelayMs: number; maxDelayMs: number }
  /** The controller's clock (default Date.now). */
  clock?: { now(): number }
  /** Runs on the simulated pumps before the controller starts (hardware left armed by the last run). */
  beforeStart?: (dispensers: SimulatedDispenser[]) => Promise<void> | void
}) {
  const stationKey = await generateSigningKey(`${opts.stationId}-k1`)
  const config = testConfig(opts.stationId, opts.config)
  const tdb = opts.journalDb ? undefined : await createTestDatabase()
  const db = opts.journalDb ?? { url: tdb?.url, dataDir: tdb?.dataDir }
  const opened = await openJournal(db)
  const journal = opts.wrapJournal ? opts.wrapJournal(opened.journal) : opened.journal
  const closeJournal = opened.close
  const log = silentLogger()
  const cloud = createCloudClient({
    baseUrl: opts.cloudUrl,
    stationId: opts.stationId,
    key: stationKey,
    timeoutMs: 2000,
  })
  const link = await connectStationLink({
    cloud,
    stationId: opts.stationId,
    pumps: config.pumps.length,
    log,
    brokerUrl: opts.brokerUrl,
    ...(opts.mqttCredentials ? { credentials: opts.mqttCredentials } : {}),
  })
  const dispensers: SimulatedDispenser[] = config.pumps.map((p) =>
    createSimulatedDispenser({
      pump: p.pump,
      grades: Object.keys(p.prices) as Grade[],
      flowRateMilliPerS: opts.dispenser?.flowRateMilliPerS ?? 50_000,
      tickMs: 20,
      ...(opts.dispenser?.totalizerMilli !== undefined
        ? { totalizerMilli: opts.dispenser.totalizerMilli }
        : {}),
      ...(opts.dispenser?.autoLiftAfterMs !== undefined
        ? { autoLiftAfterMs: opts.dispenser.autoLiftAfterMs }
        : {}),
    }),
  )
  const controller: PumpController = createPumpController({
    log,
    config,
    link,
    drivers: dispensers,
    journal,
    cloud,
    stationKey,
    retry: opts.retry ?? { baseDelayMs: 50, maxDelayMs: 200 },
    ...(opts.clock ? { clock: opts.clock } : {}),
  })
  await opts.beforeStart?.(dispensers)
  await controller.start()
  return {
    controller,
    journal,
    dispensers,
    stationKey,
    link,
    pump: (n: number) => dispensers.find((d) => d.pump === n) as SimulatedDispenser,
    close: () =>
      closeInOrder([
        ['controller.stop', () => controller.stop()],
        ['link.end', () => link.end()],
        ...dispensers.map((d): CloseStep => [`dispenser ${d.pump}`, () => d.close()]),
        ['journal', () => closeJournal()],
        ['test database', () => tdb?.cleanup()],
      ]),
  }
}

/**
 * The usual world of a station test: a bare broker, a cloud stub, one
 * station and one car (car7), torn down in order by `close()`. The broker
 * can be stopped and started again on its port (`stopBroker`,
 * `startBrokerAgain`); `broker` is always the current one.
 *
 * @example const w = await startStationWorld({ stationId: 'st9' }); t.teardown(w.close)
 */
export async function startStationWorld(station: Omit<Parameters<typeof startStation>[0], 'brokerUrl' | 'cloudUrl'>) {
  const cloudKey = await generateSigningKey('cloud-k1')
  let broker = await startBroker()
  const port = broker.port
  const cloud = await startCloudStub({ brokerUrl: broker.url, cloudKey })
  const st = await startStation({ ...station, brokerUrl: broker.url, cloudUrl: cloud.url })
  const car = await connectVehicle(broker.url, 'car7')
  return {
    cloudKey,
    cloud,
    station: st,
    car,
    get broker() {
      return broker
    },
    stopBroker: () => broker.close(),
    async startBrokerAgain() {
      broker = await startBroker(port)
    },
    close: () =>
      closeInOrder([
        ['car', () => car.close()],
        ['station', () => st.close()],
        ['cloud stub', () => cloud.close()],
        ['broker', () => broker.close()],
      ]),
  }
}

/**
 * A journal database a station can be started on again and again
 * (`startStation({ journalDb })`): a restarted station finds its journal.
 *
 * @example const { journalDb, cleanup } = await sharedJournalDb(); t.teardown(cleanup)
 */
export async function sharedJournalDb() {
  const tdb = await createTestDatabase()
  const journalDb = {
    ...(tdb.url ? { url: tdb.url } : {}),
    ...(tdb.dataDir ? { dataDir: tdb.dataDir } : {}),
  }
  return { journalDb, cleanup: () => tdb.cleanup() }
}

/**
 * The world of a restart test: a broker, a cloud stub, one car and one
 * journal database (sharedJournalDb); the test starts, kills and restarts
 * its own stations on `journalDb`. `close()` tears the rest down in order.
 *
 * @example const w = await startRestartWorld(); t.teardown(w.close); const st = await startStation({ stationId: 'st5', brokerUrl: w.broker.url, cloudUrl: w.cloud.url, journalDb: w.journalDb })
 */
export async function startRestartWorld(opts: { carId?: string } = {}) {
  const cloudKey = await generateSigningKey('cloud-k1')
  const broker = await startBroker()
  const cloud = await startCloudStub({ brokerUrl: broker.url, cloudKey })
  const car = await connectVehicle(broker.url, opts.carId ?? 'car7')
  const { journalDb, cleanup } = await sharedJournalDb()
  return {
    cloudKey,
    broker,
    cloud,
    car,
    journalDb,
    close: () =>
      closeInOrder([
        ['car', () => car.close()],
        ['cloud stub', () => cloud.close()],
        ['broker', () => broker.close()],
        ['test database', cleanup],
      ]),
  }
}

export type CloseStep = [name: string, step: () => unknown]

/**
 * Runs every teardown step even when one fails, then throws naming each
 * step that failed, so a failing teardown says what broke.
 */
export async function closeInOrder(steps: CloseStep[]): Promise<void> {
  const failed: string[] = []
  for (const [name, step] of steps) {
    try {
      await step()
    } catch (err) {
      failed.push(`${name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
    }
  }
  if (failed.length > 0) throw new Error(`teardown failed:\n${failed.join('\n')}`)
}

/** Polls a condition (bounded). */
export async function until(
  what: string,
  fn: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const end = Date.now() + timeoutMs
  while (Date.now() < end) {
    if (await fn()) return
    await new Promise((r) => setTimeout(r, 20))
  }
  throw new Error(`timed out waiting for ${what}`)
}
