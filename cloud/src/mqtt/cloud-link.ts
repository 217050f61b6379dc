import { randomBytes } from 'node:crypto'
import { connectMqtt, type Logger, subscribeWithin } from '@fuelpay/platform'
import { decode, encode, FuelpayError, type Message, type StationCommand, type Topic, topics } from '@fuelpay/proto'
import type { MqttClient } from 'mqtt'

/**
 * The cloud's own MQTT client (role cloud): follows pump state, station
 * status and command results (proto topics.cloudSubscriptions) and publishes
 * station commands. Its credential is one it signs for itself; `credential`
 * is called again before every reconnect so an expired one is never reused.
 *
 * @example const link = await createCloudLink({ url, clientId: 'cloud-main', credential, log, onMessage })
 */
export interface CloudLink {
  sendCommand(stationId: string, command: StationCommand): Promise<string>
  connected(): boolean
  close(): Promise<void>
}

export async function createCloudLink(opts: {
  url: string
  clientId: string
  credential: () => Promise<string>
  log: Logger
  onMessage: (topic: Topic, message: Message) => Promise<void>
  connectTimeoutMs?: number
}): Promise<CloudLink> {
  const { log } = opts
  const client: MqttClient = await connectMqtt(opts.url, {
    clientId: opts.clientId,
    username: opts.clientId,
    password: await opts.credential(),
    clean: true,
    connectTimeoutMs: opts.connectTimeoutMs ?? 10_000,
  })
  let refreshing: Promise<void> | undefined
  const refresh = () => {
    if (refreshing) return
    refreshing = opts
      .credential()
      .then((p) => {
        client.options.password = p
      })
      .catch((err) => log.warn({ err }, 'could not refresh the cloud MQTT credential'))
      .finally(() => {
        refreshing = undefined
      })
  }
  const timer = setInterval(refresh, 3_600_000)
  timer.unref()
  client.on('offline', refresh)
  client.on('error', (err) => log.warn({ err }, 'cloud MQTT link error'))
  client.on('message', (topicName, payload) => {
    const d = decode(topicName, payload)
    if (!d.ok) {
      log.warn({ topic: topicName.slice(0, 200), code: d.reason.code }, 'dropped an undecodable MQTT message')
      return
    }
    opts.onMessage(d.value.topic, d.value.message).catch((err) => log.error({ err, topic: topicName }, 'MQTT message handler failed'))
  })
  const subscribe = () => subscribeWithin(client, topics.cloudSubscriptions(), { qos: 1 })
  await subscribe()
  // clean sessions: subscriptions are made again after each reconnect.
  client.on('connect', () => void subscribe().catch((err) => log.error({ err }, 'cloud resubscribe failed')))

  return {
    async sendCommand(stationId, command) {
      const commandId = randomBytes(12).toString('base64url')
      const topic = topics.stationCommand(stationId)
      const bytes = encode(topic, { type: 'station-command', commandId, command })
      // MQTT.js holds a QoS 1 publish until the broker acknowledges it, which while
      // the link is down may be never: answer unavailable rather than hang the caller.
      await bounded(client.publishAsync(topic, bytes, { qos: 1 }), LINK_TIMEOUT_MS, 'station command publish')
      return commandId
    },
    connected: () => client.connected,
    async close() {
      clearInterval(timer)
      await bounded(client.endAsync(), LINK_TIMEOUT_MS, 'cloud MQTT link close').catch(() => client.end(true))
    },
  }
}

const LINK_TIMEOUT_MS = 5_000

/** Settles like p, or refuses UNAVAILABLE once ms have passed. */
async function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new FuelpayError('UNAVAILABLE', `${what} timed out after ${ms} ms`)), ms)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}
