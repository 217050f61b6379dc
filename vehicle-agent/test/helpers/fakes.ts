import {
  decode,
  encode,
  fail,
  type FuelAuthorizationRequest,
  type FuelAuthorizationResponse,
  generateSigningKey,
  type MessageType,
  ok,
  type Reason,
  type Receipt,
  type Result,
  type SaleRecord,
  type SessionView,
  signSaleRecord,
  type StationSummary,
  topics,
} from '@fuelpay/proto'
import type { CloudClient } from '../../src/cloud/cloud.client.ts'
import type { MqttConnector, MqttLike } from '../../src/session/pump.link.ts'

/**
 * In-process stand-ins for the cloud and a station, faithful to the
 * contract (proto shapes, signed sales), for tests of the agent's own logic.
 * The cross-process tests in the top-level test/ use the real ones.
 */
export const STATION: StationSummary = {
  id: 'st-berlin-1',
  name: 'Fuelpay Berlin Mitte',
  lat: 52.52,
  lon: 13.405,
  geofenceRadiusM: 150,
  currency: 'EUR',
  volumeUnit: 'L',
  beaconMajor: 4242,
  pumps: [
    { pump: 1, grades: [{ grade: 'diesel', unitPriceMilli: 1799 }, { grade: 'unleaded95', unitPriceMilli: 1859 }] },
    { pump: 2, grades: [{ grade: 'diesel', unitPriceMilli: 1799 }, { grade: 'unleaded95', unitPriceMilli: 1859 }, { grade: 'unleaded98', unitPriceMilli: 1959 }] },
    { pump: 3, grades: [{ grade: 'lpg', unitPriceMilli: 999 }] },
  ],
}
export const OTHER_STATION: StationSummary = { ...STATION, id: 'st-paris-9', name: 'Fuelpay Paris 9', lat: 48.87, lon: 2.34, beaconMajor: 777 }

export interface FakeCloudOptions {
  stations?: StationSummary[]
  decline?: Reason
  voiceCode?: string
  holdAmountMinor?: number
  /** How long a broker credential it hands out lasts (default a day, as the cloud's). */
  credentialTtlMs?: number
}

export function fakeCloud(opts: FakeCloudOptions = {}) {
  const calls: { method: string; args: unknown[] }[] = []
  const sessions = new Map<string, { request: FuelAuthorizationRequest; cancelled: boolean }>()
  const byKey = new Map<string, FuelAuthorizationResponse>()
  const receipts = new Map<string, Receipt>()
  let n = 0
  let stationKeyPromise = generateSigningKey('st-key-1')
  const client: CloudClient = {
    async mqttCredentials(key) {
      calls.push({ method: 'mqttCredentials', args: [key] })
      return ok({ clientId: 'vehicle-car7', username: 'vehicle-car7', password: 'x'.repeat(20), brokerUrl: 'mqtt://fake', expiresAt: new Date(Date.now() + (opts.credentialTtlMs ?? 86_400_000)).toISOString() })
    },
    async stationsNear(p) {
      calls.push({ method: 'stationsNear', args: [p] })
      return ok(opts.stations ?? [STATION])
    },
    async stationJwks(id) {
      calls.push({ method: 'stationJwks', args: [id] })
      const k = await stationKeyPromise
      return ok({ keys: [k.publicJwk] })
    },
    async requestFuelAuthorization(req, key): Promise<Result<FuelAuthorizationResponse>> {
      calls.push({ method: 'requestFuelAuthorization', args: [req, key] })
      const seen = byKey.get(key)
      if (seen) return ok(seen)
      if (opts.decline) return { ok: false, reason: opts.decline }
      if (opts.voiceCode !== undefined) {
        if (req.voiceCode === undefined) return fail('VOICE_CODE_REQUIRED')
        if (req.voiceCode !== opts.voiceCode) return fail('VOICE_CODE_WRONG')
      }
      const station = (opts.stations ?? [STATION]).find((s) => s.id === req.stationId)
      if (!station) return fail('UNKNOWN_STATION')
      const pump = station.pumps.find((p) => p.pump === req.pump)
      if (!pump) return fail('PUMP_NOT_AT_STATION')
      const requested = req.amountMinor ?? 10000
      const hold = Math.min(requested, opts.holdAmountMinor ?? requested)
      const sessionId = `sess-${++n}`
      const res: FuelAuthorizationResponse = {
        sessionId,
        state: 'held',
        token: `tok.${sessionId}.signature-placeholder`,
        holdAmountMinor: hold,
        requestedAmountMinor: requested,
        partial: hold < requested,
        currency: 'EUR',
        maxVolumeMilli: 50000,
        volumeUnit: 'L',
        grades: req.grade ? [req.grade] : pump.grades.map((g) => g.grade),
        expiresAt: new Date(Date.now() + 120_000).toISOString(),
        station: { id: station.id, name: station.name },
        pump: req.pump,
        paymentMethod: { id: 'pm-1', brand: 'visa', last4: '4242', name: 'business' },
      }
      sessions.set(sessionId, { request: req, cancelled: false })
      byKey.set(key, res)
      return ok(res)
    },
    async cancelSession(id, key): Promise<Result<SessionView>> {
      calls.push({ method: 'cancelSession', args: [id, key] })
      const s = sessions.get(id)
      if (!s) return fail('SESSION_NOT_FOUND')
      s.cancelled = true
      const now = new Date().toISOString()
      return ok({ sessionId: id, state: 'voided', stationId: s.request.stationId, pump: s.request.pump, vehicleId: 'car7', currency: 'EUR', holdAmountMinor: 0, capturedMinor: 0, releasedMinor: 0, createdAt: now, updatedAt: now })
    },
    async getSession(id): Promise<Result<SessionView>> {
      calls.push({ method: 'getSession', args: [id] })
      const s = sessions.get(id)
      if (!s) return fail('SESSION_NOT_FOUND')
      const r = receipts.get(id)
      const now = new Date().toISOString()
      // Captured once the station's sale is in (its receipt made), else fueling.
      return ok({ sessionId: id, state: s.cancelled ? 'voided' : r ? 'captured' : 'fueling', stationId: s.request.stationId, pump: s.request.pump, vehicleId: 'car7', currency: 'EUR', holdAmountMinor: 5000, capturedMinor: r?.amountMinor ?? 0, releasedMinor: 0, createdAt: now, updatedAt: now })
    },
    async receipt(id) {
      calls.push({ method: 'receipt', args: [id] })
      const r = receipts.get(id)
      return r ? ok(r) : fail('NOT_FOUND')
    },
  }
  return {
    client,
    calls,
    sessions,
    receipts,
    /** The key the station signs sales with (and the cloud publishes). */
    get stationKey() {
      return stationKeyPromise
    },
    /** The station signs with a new key from now on, and the cloud publishes only that one. */
    rotateStationKey() {
      stationKeyPromise = generateSigningKey(`st-key-${++n}`)
    },
  }
}

export interface FakeStationOptions {
  /** What the pump does on authorize: fuel this much, reject, or stay silent. */
  behaviour?: { kind: 'fuel'; volumeMilli: number } | { kind: 'reject'; reason: Reason } | { kind: 'silent' } | { kind: 'authorize-only' }
  /** Tamper with the signed sale (the car must notice). */
  forgeSale?: boolean
  /** The sale, validly signed, names another station or pump than the one authorized (the car must notice). */
  saleNames?: { stationId?: string; pump?: number }
  /** The station ends the session after the fuel flowed (emergency stop, no flow): the signed sale comes with a session-ended. */
  endedBy?: Reason
  /** The completed message never reaches the car (its link was down); the cloud has the sale all the same. */
  loseCompleted?: boolean
}

/**
 * A broker-and-station stand-in: the agent's MQTT client talks to it as to
 * a broker; it answers authorize like a pump controller, with real encoded
 * messages on the real topics and a station-signed sale.
 */
export function fakeStation(cloud: ReturnType<typeof fakeCloud>, opts: FakeStationOptions = {}) {
  const published: { topic: string; message: unknown }[] = []
  const clients: FakeClient[] = []
  let seq = 0
  class FakeClient implements MqttLike {
    handlers: ((t: string, p: Buffer) => void)[] = []
    subs: string[] = []
    ended = false
    publish(topic: string, payload: Buffer, _o: { qos: 1; retain: false }, cb: (err?: Error) => void) {
      const d = decode(topic, payload)
      published.push({ topic, message: d.ok ? d.value.message : { invalid: d.reason.code } })
      cb()
      if (d.ok) setImmediate(() => void this.react(d.value.topic as { kind: string; stationId: string; pump: number; vehicleId: string }, d.value.message as never))
      return this
    }
    subscribe(topic: string, _o: { qos: 1 }, cb: (err: Error | null, granted?: { qos: number }[]) => void) {
      this.subs.push(topic)
      cb(null, [{ qos: 1 }])
      return this
    }
    on(_e: 'message', fn: (t: string, p: Buffer) => void) {
      this.handlers.push(fn)
      return this
    }
    end(_f?: boolean, _o?: object, cb?: () => void) {
      this.ended = true
      cb?.()
      return this
    }
    send(stationId: string, pump: number, vehicleId: string, draft: { type: MessageType } & Record<string, unknown>) {
      const topic = topics.pumpReply(stationId, pump, vehicleId)
      const bytes = encode(topic, draft as never)
      for (const h of this.handlers) h(topic, bytes)
    }
    async react(t: { stationId: string; pump: number; vehicleId: string }, m: { type: string; requestId: string; token?: string; sessionId?: string }) {
      const b = opts.behaviour ?? { kind: 'fuel', volumeMilli: 20000 }
      if (m.type === 'cancel') {
        this.send(t.stationId, t.pump, t.vehicleId, { type: 'session-ended', sessionId: m.sessionId as string, reason: { code: 'CANCELLED', number: 304, message: 'cancelled' } })
        return
      }
      if (m.type !== 'authorize' || b.kind === 'silent') return
      const sessionId = (m.token as string).split('.')[1] as string
      if (b.kind === 'reject') {
        this.send(t.stationId, t.pump, t.vehicleId, { type: 'pump-rejected', requestId: m.requestId, sessionId, reason: b.reason })
        return
      }
      this.send(t.stationId, t.pump, t.vehicleId, { type: 'pump-authorized', requestId: m.requestId, sessionId, stationId: t.stationId, pump: t.pump, presetAmountMinor: 10000, currency: 'EUR', grades: ['diesel'], nozzleTimeoutMs: 60000 })
      if (b.kind === 'authorize-only') return
      const price = 1799
      const amountMinor = Math.round((b.volumeMilli * price) / 10000)
      this.send(t.stationId, t.pump, t.vehicleId, { type: 'progress', sessionId, state: 'fueling', grade: 'diesel', unitPriceMilli: price, volumeMilli: b.volumeMilli / 2, amountMinor: Math.round(amountMinor / 2), currency: 'EUR' })
      const sale: SaleRecord = {
        sessionId, tokenId: 'tok-0001', stationId: opts.saleNames?.stationId ?? t.stationId, pump: opts.saleNames?.pump ?? t.pump, vehicleId: t.vehicleId, outcome: opts.endedBy ? 'emergency-stop' : 'completed', grade: 'diesel', unitPriceMilli: price,
        volumeMilli: b.volumeMilli, volumeUnit: 'L', amountMinor, currency: 'EUR', startedAt: 1, endedAt: 2, seq: ++seq, totalizerStartMilli: 0, totalizerEndMilli: b.volumeMilli,
      }
      const key = await cloud.stationKey
      let saleJws = await signSaleRecord(sale, key)
      if (opts.forgeSale) saleJws = await signSaleRecord({ ...sale, amountMinor: sale.amountMinor + 1 }, key)
      cloud.receipts.set(sessionId, {
        receiptId: `rcpt-${sessionId}`, sessionId, stationId: t.stationId, stationName: STATION.name, pump: t.pump, vehicleId: t.vehicleId, grade: 'diesel', unitPriceMilli: price,
        volumeMilli: b.volumeMilli, volumeUnit: 'L', amountMinor, currency: 'EUR', paymentMethod: { id: 'pm-1', brand: 'visa', last4: '4242' }, capturedAt: new Date().toISOString(),
      })
      if (opts.endedBy) {
        this.send(t.stationId, t.pump, t.vehicleId, { type: 'session-ended', sessionId, reason: opts.endedBy, saleJws })
        return
      }
      if (opts.loseCompleted) return
      // Sent on the topic of the station and pump the sale names (proto refuses a sale that differs from its topic).
      this.send(sale.stationId, sale.pump, t.vehicleId, { type: 'completed', sessionId, sale, saleJws })
    }
  }
  const connector: MqttConnector = {
    async connect() {
      const c = new FakeClient()
      clients.push(c)
      return c
    },
  }
  return { connector, published, clients }
}
