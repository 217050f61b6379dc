import type { EventEmitter } from 'node:events'
import { createServer, type Server, type Socket } from 'node:net'
import { Aedes, type AedesOptions, type Client } from 'aedes'
import { type Logger, onceEvery } from '@fuelpay/platform'
import type { KeyLookup } from '@fuelpay/proto'
import { createBrokerHooks } from './broker-hooks.ts'
import { type BrokerLimitsOverrides, resolveLimits } from './broker-limits.ts'
import { guardSocket } from './frame-guard.ts'

export {
  type BrokerLimits,
  type BrokerLimitsOverrides,
  DEFAULT_BROKER_LIMITS,
} from './broker-limits.ts'
export { createRedisBackends, type RedisBackends } from './redis-backends.ts'

/**
 * The fuelpay MQTT broker: aedes with the project's authentication, topic
 * ACL and limits (see broker-hooks.ts, broker-limits.ts).
 *
 * @example
 *   const broker = await createBroker({ log, keys: cloudKeys })
 *   const { port } = await broker.listen(1884)
 *   // ...
 *   await broker.close()
 */
export interface Broker {
  aedes: Aedes
  /** Starts the TCP listener (no-delay sockets); port 0 picks a free port. One listener per broker. */
  listen(port: number, host?: string): Promise<{ port: number }>
  /** Stops listening, disconnects every client, closes the emitter and persistence. Idempotent. */
  close(): Promise<void>
  clientCount(): number
}

export interface CreateBrokerOptions {
  log: Logger
  /** Verifies broker credentials: the cloud's own public keys (proto KeyLookup). */
  keys: KeyLookup
  /** Clock for credential expiry and rate limits; Date.now by default. */
  nowMs?: () => number
  /** Overrides of DEFAULT_BROKER_LIMITS (any Partial<BrokerLimits>; per-role rates merge role by role). */
  limits?: BrokerLimitsOverrides
  /** An aedes 1.x persistence (e.g. from createRedisBackends); in memory when absent. The broker closes it. */
  persistence?: AedesOptions['persistence']
  /** An mqemitter (e.g. from createRedisBackends); in process when absent. The broker closes it. */
  mq?: AedesOptions['mq']
  /** Broker id; several brokers sharing Redis need distinct ids (random by default). */
  id?: string
}

/**
 * Same identity connecting twice: the credential proves it is the same
 * principal, so MQTT's rule applies [MQTT-3.1.4-2]: the new connection takes
 * over and the old one is closed. The old connection did not DISCONNECT, so
 * its will is published; a station therefore publishes `online: true` again
 * after every (re)connect, which it does anyway.
 */
export async function createBroker(opts: CreateBrokerOptions): Promise<Broker> {
  const { log } = opts
  const limits = resolveLimits(opts.limits)
  const hooks = createBrokerHooks({ log, keys: opts.keys, nowMs: opts.nowMs ?? Date.now, limits })
  const { identityOf, settled, ...aedesHooks } = hooks
  const mqState = (
    opts.mq as { state?: { on?: (e: string, f: (err: unknown) => void) => void } } | undefined
  )?.state
  // mqemitter-redis reports Redis errors on `state`; unheard, they would crash the process.
  // Every failed reconnect reports: said once in a while.
  const due = onceEvery(30_000)
  mqState?.on?.('error', (err) => {
    if (due()) log.error({ err }, 'mqtt emitter error')
  })

  const aedes = await Aedes.createBroker({
    ...aedesHooks,
    ...(opts.id ? { id: opts.id } : {}),
    ...(opts.persistence ? { persistence: opts.persistence } : {}),
    ...(opts.mq ? { mq: opts.mq } : {}),
    connectTimeout: limits.connectTimeoutMs,
    drainTimeout: limits.drainTimeoutMs,
    queueLimit: limits.queueLimit,
    maxInflightInbound: limits.maxInflightInbound,
    maxClientsIdLength: limits.maxClientIdLength,
    maxTopicLevels: limits.maxTopicLevels,
    // keepalive bounds are checked in preConnect, refusing without a
    // CONNACK; aedes' own keepaliveLimit answers with code 6, which MQTT
    // 3.1.1 does not define.
    keepaliveLimit: 0,
  })

  // aedes emits 'error' for persistence failures; an unheard 'error' event would throw.
  ;(aedes as EventEmitter).on('error', (err: unknown) => log.error({ err }, 'mqtt broker error'))
  aedes.on('clientReady', (client) => {
    log.info({ clientId: client.id, role: identityOf(client)?.role }, 'mqtt client connected')
  })
  aedes.on('clientDisconnect', (client) =>
    log.info({ clientId: client.id }, 'mqtt client disconnected'),
  )
  aedes.on('clientError', (client, err) =>
    log.info({ clientId: client.id, err: err.message }, 'mqtt client error'),
  )
  aedes.on('connectionError', (_client, err) =>
    log.info({ err: err.message }, 'mqtt connection error'),
  )
  aedes.on('keepaliveTimeout', (client) =>
    log.info({ clientId: client.id }, 'mqtt keepalive timeout'),
  )
  aedes.on('subscribe', (subs, client) =>
    settled(
      client,
      subs.map((s) => s.topic),
    ),
  )
  aedes.on('unsubscribe', (filters, client) => settled(client, filters))

  let server: Server | undefined
  let closing: Promise<void> | undefined

  const handle = (socket: Socket) => {
    let client: Client | undefined
    guardSocket(socket, limits.maxPacketBytes, (verdict) => {
      log.warn(
        { clientId: client?.id, remote: socket.remoteAddress, ...verdict },
        'mqtt packet refused: disconnecting',
      )
    })
    client = aedes.handle(socket)
  }

  return {
    aedes,
    listen(port, host = '127.0.0.1') {
      if (server) return Promise.reject(new Error('broker is already listening'))
      // Without no-delay a loopback request/reply stalls ~44 ms (Nagle + delayed ACK).
      const s = createServer({ noDelay: true }, handle)
      s.maxConnections = limits.maxConnections
      server = s
      return new Promise((resolve, reject) => {
        s.once('error', reject)
        s.listen(port, host, () => {
          s.off('error', reject)
          s.on('error', (err) => log.error({ err }, 'mqtt listener error'))
          const addr = s.address()
          const bound = typeof addr === 'object' && addr ? addr.port : port
          log.info({ port: bound, host }, 'mqtt broker listening')
          resolve({ port: bound })
        })
      })
    },
    close() {
      closing ??= (async () => {
        const stopped = server
          ? new Promise<void>((resolve) => server?.close(() => resolve()))
          : Promise.resolve()
        // aedes.close disconnects every client and closes the emitter.
        await new Promise<void>((resolve) => aedes.close(() => resolve()))
        await stopped
        const persistence = opts.persistence as { destroy?: () => Promise<void> } | undefined
        if (persistence?.destroy)
          await persistence
            .destroy()
            .catch((err: unknown) => log.warn({ err }, 'mqtt persistence close failed'))
      })()
      return closing
    },
    clientCount: () => aedes.connectedClients,
  }
}
