import { decode, type Decoded, encode, type MessageOf, topics } from '@fuelpay/proto'
import type { Logger } from 'pino'

/**
 * The smallest MQTT client surface the agent needs; MQTT.js's client fits,
 * and so does a simulator's in-process fake.
 */
export interface MqttLike {
  publish(topic: string, payload: Buffer, opts: { qos: 1; retain: false }, cb: (err?: Error) => void): unknown
  subscribe(topic: string, opts: { qos: 1 }, cb: (err: Error | null, granted?: { qos: number }[]) => void): unknown
  on(event: 'message', fn: (topic: string, payload: Buffer) => void): unknown
  end(force?: boolean, opts?: object, cb?: () => void): unknown
}

/** Connects with a broker login (see POST /v1/mqtt-credentials). @example { connect: connectMqtt } */
export interface MqttConnector {
  connect(url: string, options: { clientId: string; username: string; password: string; connectTimeoutMs: number }): Promise<MqttLike>
}

export type PumpReply = MessageOf<'pump-authorized' | 'pump-rejected' | 'progress' | 'completed' | 'session-ended'>

/**
 * The car's side of the pump conversation: publishes requests on the
 * pump-request topic (the broker ACL makes its last level our vehicle id)
 * and delivers decoded replies from the vehicle inbox, duplicates dropped.
 */
export interface PumpLink {
  authorize(stationId: string, pump: number, requestId: string, token: string): Promise<void>
  cancel(stationId: string, pump: number, requestId: string, sessionId: string): Promise<void>
  close(): Promise<void>
}

const SEEN_LIMIT = 1024

export async function openPumpLink(opts: {
  client: MqttLike
  vehicleId: string
  log: Logger
  onReply: (reply: PumpReply, decoded: Decoded) => void
  timeoutMs?: number
}): Promise<PumpLink> {
  const { client, vehicleId, log } = opts
  const timeoutMs = opts.timeoutMs ?? 10_000
  const seen = new Set<string>()
  client.on('message', (topic, payload) => {
    const d = decode(topic, payload)
    if (!d.ok) {
      log.warn({ topic, code: d.reason.code }, 'dropped an undecodable pump reply')
      return
    }
    if (d.value.topic.kind !== 'pump-reply' || d.value.topic.vehicleId !== vehicleId) return
    const m = d.value.message
    // QoS 1 may deliver twice; the msgId says which we have seen.
    if (seen.has(m.msgId)) return
    seen.add(m.msgId)
    if (seen.size > SEEN_LIMIT) seen.delete(seen.values().next().value as string)
    opts.onReply(m as PumpReply, d.value)
  })
  await bounded(timeoutMs, 'subscribe', (done) =>
    client.subscribe(topics.vehicleInbox(vehicleId), { qos: 1 }, (err, granted) => {
      if (err) return done(err)
      if (granted?.some((g) => g.qos === 128)) return done(new Error('subscription refused by the broker'))
      done()
    }),
  )
  const publish = (topic: string, payload: Buffer) =>
    bounded(timeoutMs, 'publish', (done) => client.publish(topic, payload, { qos: 1, retain: false }, (err) => done(err)))
  return {
    authorize: (stationId, pump, requestId, token) => {
      const topic = topics.pumpRequest(stationId, pump, vehicleId)
      return publish(topic, encode(topic, { type: 'authorize', requestId, token }))
    },
    cancel: (stationId, pump, requestId, sessionId) => {
      const topic = topics.pumpRequest(stationId, pump, vehicleId)
      return publish(topic, encode(topic, { type: 'cancel', requestId, sessionId }))
    },
    close: () => bounded(timeoutMs, 'close', (done) => client.end(false, {}, () => done())).catch(() => {
      client.end(true)
    }),
  }
}

function bounded(ms: number, what: string, start: (done: (err?: Error | null) => void) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`MQTT ${what} timed out after ${ms} ms`)), ms)
    start((err) => {
      clearTimeout(timer)
      if (err) reject(err)
      else resolve()
    })
  })
}
