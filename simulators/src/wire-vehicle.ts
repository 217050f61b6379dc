import { randomBytes } from 'node:crypto'
import { connectMqtt } from '@fuelpay/platform'
import {
  type FuelAuthorizationRequest,
  type FuelAuthorizationResponse,
  IDEMPOTENCY_HEADER,
  type Message,
  type MqttCredentialResponse,
  type Reason,
  decode,
  encode,
  signClientAssertion,
  topics,
} from '@fuelpay/proto'
import type { MqttClient } from 'mqtt'
import type { VehiclePlan } from './provision.ts'

/**
 * A vehicle speaking the fuelpay protocol directly (proto + HTTP + MQTT),
 * without the agent's voice and dialogue. Used where the agent's layers are
 * beside the point: the broker benchmark (thousands of connected cars) and
 * the cloud benchmark. The load runs use the real agent (fleet.ts).
 *
 * Lazy: nothing connects until `connect()` or the first authorize.
 *
 * @example const car = createWireVehicle({ plan, httpUrl }); const hold = await car.requestAuthorization({ stationId, pump: 1 })
 */
export interface WireVehicle {
  readonly id: string
  readonly connected: boolean
  connect(): Promise<void>
  requestAuthorization(
    req: FuelAuthorizationRequest,
  ): Promise<
    | { ok: true; value: FuelAuthorizationResponse }
    | { ok: false; status: number; reason: Reason | undefined }
  >
  /** Publishes an authorize and resolves with the pump's answer (pump-authorized or pump-rejected). */
  authorize(
    stationId: string,
    pump: number,
    token: string,
    opts?: { duplicate?: boolean; timeoutMs?: number },
  ): Promise<Message>
  cancel(stationId: string, pump: number, sessionId: string, timeoutMs?: number): Promise<Message>
  /** Resolves with the next message for the session whose type is one of `types`. */
  waitFor(sessionId: string, types: readonly Message['type'][], timeoutMs: number): Promise<Message>
  /** Publishes raw bytes at QoS 1 on the car's connection (benchmarks); resolves on PUBACK. */
  publish(topic: string, bytes: Buffer): Promise<void>
  /** Drops the MQTT connection without a clean disconnect (as a car losing coverage does). */
  drop(): void
  close(): Promise<void>
}

interface Waiter {
  key: string
  types: readonly string[]
  resolve(m: Message): void
  reject(e: Error): void
  timer: NodeJS.Timeout
}

export function createWireVehicle(opts: {
  plan: VehiclePlan
  httpUrl: string
  brokerUrl?: string
  timeoutMs?: number
}): WireVehicle {
  const base = opts.httpUrl.replace(/\/+$/, '')
  const timeoutMs = opts.timeoutMs ?? 15_000
  let client: MqttClient | undefined
  let connecting: Promise<void> | undefined
  const waiters = new Set<Waiter>()
  // The last few messages per key, so a wait that starts after its message arrived still sees it.
  const recent = new Map<string, Message[]>()
  const RECENT_MAX = 16

  const auth = async () =>
    `Bearer ${await signClientAssertion({ role: 'vehicle', id: opts.plan.id }, opts.plan.key)}`
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: await auth(),
        [IDEMPOTENCY_HEADER]: `sim-${randomBytes(12).toString('base64url')}`,
      },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    })
    const text = await res.text()
    return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined }
  }

  const onMessage = (topic: string, payload: Buffer) => {
    const d = decode(topic, payload)
    if (!d.ok) return
    const m = d.value.message
    const keys = new Set<string>()
    if ('requestId' in m && typeof m.requestId === 'string') keys.add(m.requestId)
    if ('sessionId' in m && typeof m.sessionId === 'string') keys.add(m.sessionId)
    for (const k of keys) {
      const list = recent.get(k) ?? []
      list.push(m)
      if (list.length > 4) list.shift()
      recent.delete(k)
      recent.set(k, list)
      if (recent.size > RECENT_MAX) recent.delete(recent.keys().next().value as string)
    }
    for (const w of waiters) {
      if (keys.has(w.key) && w.types.includes(m.type)) {
        waiters.delete(w)
        clearTimeout(w.timer)
        w.resolve(m)
      }
    }
  }

  const wait = (key: string, types: readonly string[], ms: number): Promise<Message> =>
    new Promise((resolve, reject) => {
      const w: Waiter = {
        key,
        types,
        resolve,
        reject,
        timer: setTimeout(() => {
          waiters.delete(w)
          reject(new Error(`no ${types.join('|')} for ${key} within ${ms} ms`))
        }, ms),
      }
      waiters.add(w)
    })

  const car: WireVehicle = {
    id: opts.plan.id,
    get connected() {
      return client?.connected === true
    },
    connect() {
      if (client?.connected) return Promise.resolve()
      connecting ??= (async () => {
        const r = await post('/v1/mqtt-credentials', {})
        if (r.status !== 200 && r.status !== 201)
          throw new Error(`mqtt-credentials -> ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`)
        const cred = r.body as MqttCredentialResponse
        const c = await connectMqtt(opts.brokerUrl ?? cred.brokerUrl, {
          clientId: cred.clientId,
          username: cred.username,
          password: cred.password,
          clean: true,
          reconnectPeriod: 1000,
          connectTimeoutMs: timeoutMs,
        })
        c.on('message', onMessage)
        await c.subscribeAsync(topics.vehicleInbox(opts.plan.id), { qos: 1 })
        // A reconnect after a drop must resubscribe: the session is clean.
        c.on(
          'connect',
          () =>
            void c.subscribeAsync(topics.vehicleInbox(opts.plan.id), { qos: 1 }).catch(() => {}),
        )
        client = c
      })().finally(() => {
        connecting = undefined
      })
      return connecting
    },
    async requestAuthorization(req) {
      const r = await post('/v1/fuel-authorizations', req)
      if (r.status === 200 || r.status === 201)
        return { ok: true, value: r.body as FuelAuthorizationResponse }
      return {
        ok: false,
        status: r.status,
        reason: (r.body as { error?: Reason } | undefined)?.error,
      }
    },
    async authorize(stationId, pump, token, o = {}) {
      await car.connect()
      const requestId = `rq${randomBytes(9)
        .toString('base64url')
        .replace(/[^A-Za-z0-9]/g, 'x')}`
      const topic = topics.pumpRequest(stationId, pump, opts.plan.id)
      const bytes = encode(topic, { type: 'authorize', requestId, token })
      const answer = wait(requestId, ['pump-authorized', 'pump-rejected'], o.timeoutMs ?? timeoutMs)
      await (client as MqttClient).publishAsync(topic, bytes, { qos: 1 })
      // A duplicate delivery: the very same bytes (same msgId) again, as a QoS 1 redelivery looks.
      if (o.duplicate) await (client as MqttClient).publishAsync(topic, bytes, { qos: 1 })
      return answer
    },
    async cancel(stationId, pump, sessionId, ms) {
      await car.connect()
      const requestId = `rq${randomBytes(9)
        .toString('base64url')
        .replace(/[^A-Za-z0-9]/g, 'x')}`
      const topic = topics.pumpRequest(stationId, pump, opts.plan.id)
      const answer = wait(
        sessionId,
        ['session-ended', 'pump-rejected', 'completed'],
        ms ?? timeoutMs,
      )
      await (client as MqttClient).publishAsync(
        topic,
        encode(topic, { type: 'cancel', requestId, sessionId }),
        { qos: 1 },
      )
      return answer
    },
    waitFor(sessionId, types, ms) {
      const seen = recent.get(sessionId)?.find((m) => types.includes(m.type))
      return seen ? Promise.resolve(seen) : wait(sessionId, types, ms)
    },
    async publish(topic, bytes) {
      await car.connect()
      await (client as MqttClient).publishAsync(topic, bytes, { qos: 1 })
    },
    drop() {
      const s = client?.stream as unknown as { destroy?: () => void } | undefined
      s?.destroy?.()
    },
    async close() {
      for (const w of waiters) {
        clearTimeout(w.timer)
        w.reject(new Error('vehicle closed'))
      }
      waiters.clear()
      const c = client
      client = undefined
      if (c)
        await Promise.race([c.endAsync(), new Promise((r) => setTimeout(r, 2000))]).catch(() =>
          c.end(true),
        )
    },
  }
  return car
}
