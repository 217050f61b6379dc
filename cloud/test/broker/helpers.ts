import { connectMqtt, silentLogger } from '@fuelpay/platform'
import {
  generateSigningKey,
  type Identity,
  type KeyLookup,
  type PublicKey,
  signBrokerCredential,
  type SigningKey,
} from '@fuelpay/proto'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { type Broker, type CreateBrokerOptions, createBroker } from '../../src/broker/broker.ts'

/** Anything that can register a teardown (a tap Test). */
export interface Teardown {
  teardown(fn: () => unknown): void
}

export const WAIT_MS = 5_000

export interface Keys {
  key: SigningKey & { publicKey: PublicKey }
  keys: KeyLookup
}

export async function brokerKeys(kid = 'broker-k1'): Promise<Keys> {
  const key = await generateSigningKey(kid)
  return { key, keys: (k) => (k === kid ? key.publicKey : undefined) }
}

export async function startBroker(
  t: Teardown,
  opts: Omit<CreateBrokerOptions, 'log'> & { log?: CreateBrokerOptions['log'] },
): Promise<{ broker: Broker; url: string }> {
  const broker = await createBroker({ log: silentLogger(), ...opts })
  t.teardown(() => broker.close())
  const { port } = await broker.listen(0)
  return { broker, url: `mqtt://127.0.0.1:${port}` }
}

/** Connects as an identity with a credential signed by `key`; closed at teardown. */
export async function connectAs(
  t: Teardown,
  url: string,
  identity: Identity,
  key: SigningKey,
  extra: IClientOptions = {},
): Promise<MqttClient> {
  const clientId = `${identity.role}-${identity.id}`
  const password = await signBrokerCredential(identity, key)
  const client = await connectMqtt(url, {
    clientId,
    username: clientId,
    password,
    reconnectPeriod: 0,
    connectTimeoutMs: WAIT_MS,
    ...extra,
  })
  return track(t, client)
}

/** Remembers when the client closes (for `closed`) and ends it at teardown. */
export function track(t: Teardown, client: MqttClient): MqttClient {
  closings.set(client, new Promise((resolve) => client.once('close', () => resolve())))
  t.teardown(() => client.end(true))
  return client
}

export type Attempt =
  | { outcome: 'connected' }
  | { outcome: 'refused'; code: number }
  | { outcome: 'closed' }

/** One connection attempt, reported as what happened: CONNACK 0, a refusal code, or a close without CONNACK. */
export function attempt(url: string, opts: IClientOptions): Promise<Attempt> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, {
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: WAIT_MS,
      ...opts,
    })
    const timer = setTimeout(
      () => finish(() => reject(new Error('connection attempt did not settle'))),
      WAIT_MS,
    )
    const finish = (f: () => void) => {
      clearTimeout(timer)
      client.removeAllListeners()
      client.on('error', () => {})
      client.end(true)
      f()
    }
    client.on('connect', () => finish(() => resolve({ outcome: 'connected' })))
    client.on('error', (err) => {
      const code = (err as { code?: unknown }).code
      finish(() =>
        typeof code === 'number'
          ? resolve({ outcome: 'refused', code })
          : resolve({ outcome: 'closed' }),
      )
    })
    client.on('close', () => finish(() => resolve({ outcome: 'closed' })))
  })
}

/** Resolves when the client's connection closes (even if it closed already); rejects after `ms`. */
export function closed(client: MqttClient, ms = WAIT_MS): Promise<void> {
  const p = closings.get(client)
  if (!p) throw new Error('client is not tracked (use connectAs or track)')
  return withTimeout(p, 'connection close', ms)
}

const closings = new WeakMap<MqttClient, Promise<void>>()

/** Subscribes and returns the granted QoS per filter (128 = refused). */
export async function subscribe(
  client: MqttClient,
  filter: string | string[],
  qos: 0 | 1 = 1,
): Promise<number[]> {
  try {
    const granted = await withTimeout(client.subscribeAsync(filter, { qos }), 'suback')
    return granted.map((g) => g.qos)
  } catch (err) {
    // MQTT.js rejects a SUBACK in which every filter was refused; the codes are on the packet.
    const granted = (err as { packet?: { granted?: unknown } }).packet?.granted
    if (Array.isArray(granted)) return granted.map((g) => (typeof g === 'number' ? g : g.qos))
    throw err
  }
}

export function withTimeout<T>(p: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms)
    }),
  ])
}

export interface Received {
  topic: string
  payload: string
  retain: boolean
}

/** Records every message a client receives; `next(pred)` waits (bounded) for a matching one. */
export function inbox(client: MqttClient): {
  all: Received[]
  next(pred: (m: Received) => boolean, ms?: number): Promise<Received>
} {
  const all: Received[] = []
  const waiters: { pred: (m: Received) => boolean; resolve: (m: Received) => void }[] = []
  client.on('message', (topic, payload, packet) => {
    const m = { topic, payload: payload.toString('utf8'), retain: packet.retain }
    all.push(m)
    for (const w of [...waiters]) {
      if (w.pred(m)) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve(m)
      }
    }
  })
  return {
    all,
    next(pred, ms = WAIT_MS) {
      const seen = all.find(pred)
      if (seen) return Promise.resolve(seen)
      return withTimeout(
        new Promise<Received>((resolve) => waiters.push({ pred, resolve })),
        'message',
        ms,
      )
    },
  }
}
