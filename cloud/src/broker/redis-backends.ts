import aedesPersistenceRedis from 'aedes-persistence-redis'
import { Redis } from 'ioredis'
import mqemitterRedis from 'mqemitter-redis'

/**
 * What several aedes brokers need to act as one (design: "aedes brokers
 * clustered through Redis"): a Redis persistence (subscriptions of offline
 * sessions, QoS 1 queues, retained messages, wills) and a Redis emitter
 * (a message published on one broker reaches subscribers on all).
 * aedes-persistence-redis 12 and mqemitter-redis 7 are the releases written
 * for aedes 1.x (async persistence; `cleanIncoming` for [MQTT-3.1.2-6]).
 *
 * `createBroker` owns them once given (closes them). The cloud program
 * passes them when FUELPAY_REDIS_URL is set (replicas, cloud/README.md).
 * While Redis is away both reconnect on their own; `onError` hears why
 * (unheard, ioredis prints every failed reconnect to stderr), and `ready()`
 * says whether the persistence's connection is up (the cloud's /readyz).
 *
 * @example const backends = createRedisBackends({ url: 'redis://127.0.0.1:6379/0' }); await createBroker({ log, keys, ...backends })
 */
export interface RedisBackends {
  persistence: ReturnType<typeof aedesPersistenceRedis>
  mq: ReturnType<typeof mqemitterRedis>
  ready(): boolean
}

export function createRedisBackends(opts: { url: string; onError?: (err: Error) => void }): RedisBackends {
  const connection = redisOptionsFromUrl(opts.url)
  // Bounded: a broker that cannot reach Redis fails requests instead of queueing them forever.
  const bounded = { maxRetriesPerRequest: 3, connectTimeout: 5_000 }
  const conn = new Redis({ ...connection, ...bounded })
  conn.on('error', (err: Error) => opts.onError?.(err))
  const persistence = aedesPersistenceRedis({ conn })
  const mq = mqemitterRedis({
    ...connection,
    ...bounded,
    // [MQTT-4.7.1-3]: `a//b` is a topic with an empty level; aedes' own emitter matches it so.
    matchEmptyLevels: true,
  })
  return { persistence, mq, ready: () => conn.status === 'ready' }
}

/** redis://[user:password@]host[:port][/db] or rediss:// for TLS. */
export function redisOptionsFromUrl(url: string): {
  host: string
  port: number
  username?: string
  password?: string
  db?: number
  tls?: object
} {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw new TypeError('FUELPAY_REDIS_URL is not a URL')
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new TypeError('FUELPAY_REDIS_URL must start with redis:// or rediss://')
  }
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : undefined
  if (db !== undefined && (!Number.isInteger(db) || db < 0 || db > 15)) {
    throw new TypeError('redis database must be a number 0..15')
  }
  return {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(db !== undefined ? { db } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
  }
}
