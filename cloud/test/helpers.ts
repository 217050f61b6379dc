import { randomBytes } from 'node:crypto'
import { openDatabase, silentLogger } from '@fuelpay/platform'
import { createTestDatabase } from '@fuelpay/platform/test-db'
import {
  amountForVolume,
  generateSigningKey,
  type SaleRecord,
  signClientAssertion,
  signSaleRecord,
} from '@fuelpay/proto'
import type { FastifyInstance, InjectOptions } from 'fastify'
import type { JWK } from 'jose'
import { build } from '../src/app.ts'
import { loadConfig } from '../src/config.ts'
import type { Tables } from '../src/db/database.ts'
import { migrateToLatest } from '../src/db/migrator.ts'
import type { CloudDeps } from '../src/deps.ts'
import { createKeyRing } from '../src/keys/key-ring.ts'
import { createMetrics } from '../src/ops/metrics.ts'
import { type PaymentProcessor, withTimeout } from '../src/processor/payment-processor.ts'
import { createSimProcessor, type SimFaults } from '../src/processor/sim-processor.ts'

export const ADMIN = 'test-admin-token-0123456789'

interface Tap {
  teardown(fn: () => unknown): void
}

/** A cloud app on a fresh real database (PostgreSQL when reachable), with a settable clock. */
export async function makeCloud(t: Tap, opts: { env?: Record<string, string>; faults?: SimFaults; processor?: (p: PaymentProcessor) => PaymentProcessor } = {}) {
  const tdb = await createTestDatabase()
  const closers: (() => Promise<unknown>)[] = [() => tdb.cleanup()]
  // One teardown, newest first: the app, then the pool, then the database (dropping it under a live pool kills its clients).
  t.teardown(async () => {
    for (const c of closers.reverse()) await c()
  })
  const handle = await openDatabase<Tables>({ url: tdb.url, dataDir: tdb.dataDir })
  closers.push(() => handle.close())
  await migrateToLatest(handle.db)
  const clock = { now: Date.now() }
  const nowMs = () => clock.now
  const log = silentLogger()
  const config = loadConfig({ FUELPAY_ADMIN_TOKEN: ADMIN, FUELPAY_DATA_DIR: '/tmp/unused', ...opts.env })
  const keys = await createKeyRing({ db: handle.db, log, nowMs })
  let processor: PaymentProcessor = createSimProcessor({ db: handle.db, nowMs, faults: opts.faults })
  if (opts.processor) processor = opts.processor(processor)
  const commands: { stationId: string; command: unknown }[] = []
  const deps: CloudDeps = {
    db: handle.db,
    log,
    config,
    keys,
    processor: withTimeout(processor, config.processorTimeoutMs),
    nowMs,
    metrics: createMetrics(),
    sendStationCommand: async (stationId, command) => {
      commands.push({ stationId, command })
      return `cmd${commands.length}xxxxxx`
    },
  }
  const app = await build({ deps, brokerUrl: () => 'mqtt://127.0.0.1:1884' })
  closers.push(() => app.close())
  return { app, deps, db: handle.db, handle, clock, commands }
}

export type Cloud = Awaited<ReturnType<typeof makeCloud>>

let counter = 0
export const idem = () => `k-${Date.now()}-${++counter}-${randomBytes(4).toString('hex')}`

export async function call(app: FastifyInstance, o: InjectOptions & { auth?: string; key?: string | false }) {
  const headers: Record<string, string> = { ...(o.headers as Record<string, string>) }
  if (o.auth) headers.authorization = `Bearer ${o.auth}`
  if (o.method === 'POST' && o.key !== false) headers['idempotency-key'] = o.key ?? idem()
  const res = await app.inject({ ...o, headers })
  return { status: res.statusCode, body: res.body ? safeJson(res.body) : undefined, headers: res.headers, raw: res.body }
}

function safeJson(s: string): any {
  try {
    return JSON.parse(s)
  } catch {
    return s
  }
}

export interface World {
  operatorId: string
  operatorKey: string
  stationId: string
  stationKey: Awaited<ReturnType<typeof generateSigningKey>>
  accountId: string
  vehicleId: string
  vehicleKey: Awaited<ReturnType<typeof generateSigningKey>>
  cardToken: string
  paymentMethodId: string
  lat: number
  lon: number
}

/** Provisions an operator, a station (pumps 1-2, diesel 1.799, unleaded95 1.859 EUR/L), an account with a card, and a vehicle. */
export async function provision(cloud: Cloud, o: { suffix?: string; availableMinor?: number; fleetId?: string; forcedDecline?: string } = {}): Promise<World> {
  const s = o.suffix ?? randomBytes(3).toString('hex')
  const { app } = cloud
  const op = await call(app, { method: 'POST', url: '/v1/admin/operators', auth: ADMIN, payload: { id: `op-${s}`, name: 'Op' } })
  if (op.status !== 201) throw new Error(`operator: ${op.raw}`)
  const stationKey = await generateSigningKey(`st-${s}-k1`)
  const lat = 52.52
  const lon = 13.405
  const st = await call(app, {
    method: 'POST',
    url: '/v1/admin/stations',
    auth: ADMIN,
    payload: {
      id: `st-${s}`,
      operatorId: `op-${s}`,
      name: `Station ${s}`,
      lat,
      lon,
      geofenceRadiusM: 80,
      currency: 'EUR',
      volumeUnit: 'L',
      publicJwk: stationKey.publicJwk,
      pumps: [
        { pump: 1, grades: [{ grade: 'diesel', unitPriceMilli: 1799 }, { grade: 'unleaded95', unitPriceMilli: 1859 }] },
        { pump: 2, grades: [{ grade: 'diesel', unitPriceMilli: 1799 }] },
      ],
    },
  })
  if (st.status !== 201) throw new Error(`station: ${st.raw}`)
  const acct = await call(app, { method: 'POST', url: '/v1/admin/accounts', auth: ADMIN, payload: { id: `acct-${s}`, name: 'Driver', defaultHoldMinor: 5000 } })
  if (acct.status !== 201) throw new Error(`account: ${acct.raw}`)
  const card = await call(app, {
    method: 'POST',
    url: '/v1/admin/sim-processor/cards',
    auth: ADMIN,
    payload: { brand: 'visa', last4: '4242', availableMinor: o.availableMinor ?? 100_000, currency: 'EUR', expMonth: 12, expYear: 2099, ...(o.forcedDecline ? { forcedDecline: o.forcedDecline } : {}) },
  })
  if (card.status !== 201) throw new Error(`card: ${card.raw}`)
  const pm = await call(app, {
    method: 'POST',
    url: `/v1/admin/accounts/acct-${s}/payment-methods`,
    auth: ADMIN,
    payload: { processorToken: card.body.token, brand: 'visa', last4: '4242', name: 'business card' },
  })
  if (pm.status !== 201) throw new Error(`pm: ${pm.raw}`)
  const vehicleKey = await generateSigningKey(`car-${s}-k1`)
  const v = await call(app, {
    method: 'POST',
    url: '/v1/admin/vehicles',
    auth: ADMIN,
    payload: { id: `car-${s}`, accountId: `acct-${s}`, publicJwk: vehicleKey.publicJwk, ...(o.fleetId ? { fleetId: o.fleetId } : {}) },
  })
  if (v.status !== 201) throw new Error(`vehicle: ${v.raw}`)
  return {
    operatorId: `op-${s}`,
    operatorKey: op.body.apiKey,
    stationId: `st-${s}`,
    stationKey,
    accountId: `acct-${s}`,
    vehicleId: `car-${s}`,
    vehicleKey,
    cardToken: card.body.token,
    paymentMethodId: pm.body.id,
    lat,
    lon,
  }
}

export const vehicleAuth = (w: World, nowMs = Date.now()) => signClientAssertion({ role: 'vehicle', id: w.vehicleId }, w.vehicleKey, nowMs)
export const stationAuth = (w: World, nowMs = Date.now()) => signClientAssertion({ role: 'station', id: w.stationId }, w.stationKey, nowMs)

export async function authorize(cloud: Cloud, w: World, body: Record<string, unknown> = {}, key?: string) {
  return call(cloud.app, {
    method: 'POST',
    url: '/v1/fuel-authorizations',
    auth: await vehicleAuth(w, cloud.clock.now),
    key: key ?? idem(),
    payload: { stationId: w.stationId, pump: 1, position: { lat: w.lat, lon: w.lon }, ...body },
  })
}

/** A station-signed sale for an authorization response (the claims' jti is the token id). */
export async function saleFor(
  w: World,
  auth: { sessionId: string; token: string },
  o: { volumeMilli: number; grade?: string; unitPriceMilli?: number; outcome?: SaleRecord['outcome']; seq?: number; pump?: number } & Partial<SaleRecord>,
) {
  const claims = JSON.parse(Buffer.from(auth.token.split('.')[1] as string, 'base64url').toString()) as { jti: string; pump: number; vehicleId: string }
  const grade = o.grade ?? 'diesel'
  const price = o.unitPriceMilli ?? 1799
  const rec: SaleRecord = {
    sessionId: auth.sessionId,
    tokenId: claims.jti,
    stationId: w.stationId,
    pump: o.pump ?? claims.pump,
    vehicleId: claims.vehicleId,
    outcome: o.outcome ?? (o.volumeMilli > 0 ? 'completed' : 'cancelled'),
    ...(o.volumeMilli > 0 ? { grade: grade as SaleRecord['grade'], unitPriceMilli: price } : {}),
    volumeUnit: 'L',
    amountMinor: o.volumeMilli > 0 ? amountForVolume(o.volumeMilli, price, 'EUR') : 0,
    currency: 'EUR',
    startedAt: 1_700_000_000_000,
    endedAt: 1_700_000_100_000,
    seq: o.seq ?? 1,
    totalizerStartMilli: 1_000_000,
    totalizerEndMilli: 1_000_000 + o.volumeMilli,
    ...o,
  } as SaleRecord
  delete (rec as Partial<SaleRecord> & { grade?: unknown }).grade
  if (o.volumeMilli > 0) Object.assign(rec, { grade: o.grade ?? grade, unitPriceMilli: o.unitPriceMilli ?? price })
  return { record: rec, jws: await signSaleRecord(rec, w.stationKey) }
}

export async function reportSale(cloud: Cloud, w: World, jws: string, key?: string) {
  return call(cloud.app, { method: 'POST', url: '/v1/sales', auth: await stationAuth(w, cloud.clock.now), key: key ?? idem(), payload: { saleJws: jws } })
}

export type { JWK }
