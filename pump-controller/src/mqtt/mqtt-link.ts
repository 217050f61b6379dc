import { connectMqtt, subscribeWithin } from '@fuelpay/platform'
import { encode, type StationStatusMessage, topics } from '@fuelpay/proto'
import type { MqttClient } from 'mqtt'
import type { Logger } from 'pino'
import type { CloudClient } from '../cloud/cloud-client.ts'

/**
 * What the controller needs from MQTT, and nothing more: publish, subscribe,
 * messages in, and a signal on every (re)connection so it can resubscribe
 * and re-publish its retained state. Simulators may hand in their own.
 *
 * @example
 *   const link = await connectStationLink({ cloud, stationId, pumps: 2, log })
 *   link.onMessage((topic, payload) => ...)
 */
export interface MqttLink {
  publish(topic: string, payload: Buffer, opts: { qos: 0 | 1; retain: boolean }): Promise<void>
  subscribe(filters: string[]): Promise<void>
  onMessage(handler: (topic: string, payload: Buffer) => void): void
  /** Called on every connection after the first one is handed over (reconnects). */
  onConnect(handler: () => void): void
  readonly connected: boolean
  end(): Promise<void>
}

/** Wraps an MQTT.js client (QoS 1 publishes resolve when the broker acknowledges them). */
export function linkFromClient(client: MqttClient): MqttLink {
  return {
    publish(topic, payload, opts) {
      return new Promise((resolve, reject) => {
        client.publish(topic, payload, { qos: opts.qos, retain: opts.retain }, (err) =>
          err ? reject(err) : resolve(),
        )
      })
    },
    subscribe(filters) {
      return subscribeWithin(client, filters, { qos: 1 })
    },
    onMessage(handler) {
      client.on('message', (topic, payload) => handler(topic, payload))
    },
    onConnect(handler) {
      client.on('connect', () => handler())
    },
    get connected() {
      return client.connected
    },
    async end() {
      // A graceful end waits for in-flight QoS 1 acknowledgements, which a dead broker never sends.
      let timer: NodeJS.Timeout | undefined
      const giveUp = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('mqtt end timed out')), 5_000)
      })
      await Promise.race([client.endAsync(false), giveUp])
        .catch(() => client.end(true))
        .finally(() => clearTimeout(timer))
    },
  }
}

/** The retained "offline" status the broker publishes for us if we vanish. */
export function offlineStatus(stationId: string, pumps: number): Buffer {
  const msg: Omit<StationStatusMessage, 'v' | 'msgId' | 'ts'> = {
    type: 'station-status',
    stationId,
    online: false,
    backlog: 0,
    pumps,
  }
  return encode(topics.stationStatus(stationId), msg)
}

/**
 * Gets broker credentials from the cloud and connects as `station-{id}` with
 * a last will (retained station-status online:false). Credentials are
 * refreshed before they expire and used on the next reconnect.
 */
export async function connectStationLink(opts: {
  cloud: Pick<CloudClient, 'mqttCredentials'>
  stationId: string
  pumps: number
  brokerUrl?: string
  /**
   * Fixed broker credentials (a Mosquitto password file, say) instead of
   * asking the cloud; the client id is still `station-{id}`.
   */
  credentials?: { username: string; password: string }
  log: Logger
}): Promise<MqttLink & { client: MqttClient }> {
  const fixed = opts.credentials
  if (fixed && !opts.brokerUrl) throw new TypeError('fixed broker credentials need a broker URL')
  const creds = fixed
    ? {
        clientId: `station-${opts.stationId}`,
        username: fixed.username,
        password: fixed.password,
        brokerUrl: opts.brokerUrl as string,
        expiresAt: '',
      }
    : await opts.cloud.mqttCredentials()
  const url = opts.brokerUrl ?? creds.brokerUrl
  const client = await connectMqtt(url, {
    clientId: creds.clientId,
    username: creds.username,
    password: creds.password,
    clean: true,
    // We resubscribe ourselves on every connect (controller.ts), so that a
    // refused subscription is seen and logged, not silently lost.
    resubscribe: false,
    keepalive: 30,
    will: {
      topic: topics.stationStatus(opts.stationId),
      payload: offlineStatus(opts.stationId, opts.pumps),
      qos: 1,
      retain: true,
    },
  })
  let expiresAt = Date.parse(creds.expiresAt)
  let refreshing = false
  const refresh = async () => {
    if (refreshing) return
    refreshing = true
    try {
      const next = await opts.cloud.mqttCredentials()
      client.options.username = next.username
      client.options.password = next.password
      expiresAt = Date.parse(next.expiresAt)
    } catch (err) {
      opts.log.warn({ err: (err as Error).message }, 'mqtt credential refresh failed')
    } finally {
      refreshing = false
    }
  }
  // Before a reconnect, make sure the password we are about to present is still good.
  client.on('close', () => {
    if (!fixed && Number.isFinite(expiresAt) && expiresAt - Date.now() < 3600_000) void refresh()
  })
  client.on('error', (err) => opts.log.warn({ err: err.message }, 'mqtt error'))
  client.on('offline', () => opts.log.warn('mqtt offline'))
  return Object.assign(linkFromClient(client), { client })
}
