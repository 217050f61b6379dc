import { createLogger, type DatabaseHandle, type Logger, onceEvery } from '@fuelpay/platform'
import { signBrokerCredential } from '@fuelpay/proto'
import type { FastifyInstance } from 'fastify'
import { build } from './app.ts'
import { forgetExpiredAssertions } from './auth/auth.repository.ts'
import { type Broker, createBroker, createRedisBackends, type RedisBackends } from './broker/broker.ts'
import type { CloudConfig } from './config.ts'
import type { Tables } from './db/database.ts'
import { openCloudDatabase } from './db/open.ts'
import type { CloudDeps } from './deps.ts'
import { purgeExpiredIdempotencyKeys } from './idempotency/idempotency.repository.ts'
import { purgeOutbox } from './outbox/outbox.repository.ts'
import { passwordFromFile } from './keys/credentials.service.ts'
import { createKeyRing } from './keys/key-ring.ts'
import { keySealer } from './keys/key-sealing.ts'
import { type CloudLink, createCloudLink } from './mqtt/cloud-link.ts'
import { telemetryRouter } from './mqtt/telemetry.router.ts'
import { createMetrics } from './ops/metrics.ts'
import { watchState } from './ops/state-gauges.ts'
import { type PaymentProcessor, withTimeout } from './processor/payment-processor.ts'
import { createSimProcessor, type SimFaults } from './processor/sim-processor.ts'
import { expireSessions } from './sessions/settlement.service.ts'

/**
 * A running cloud: HTTP API, embedded broker, the cloud's MQTT link and the
 * expiry sweeper, on the configured database.
 *
 * @example
 *   const cloud = await startCloud(loadConfig({ FUELPAY_HTTP_PORT: '0', FUELPAY_MQTT_PORT: '0', FUELPAY_DATA_DIR: dir }))
 *   // provision with Bearer cloud.adminToken at cloud.httpUrl; cars and stations get cloud.mqttUrl
 *   await cloud.close()
 */
export interface RunningCloud {
  httpUrl: string
  mqttUrl: string
  adminToken: string
  app: FastifyInstance
  deps: CloudDeps
  /** The database handle (for outbox readers: `createOutboxReader({ handle: cloud.database, ... })`). */
  database: DatabaseHandle<Tables>
  close(): Promise<void>
}

export interface StartCloudOptions {
  log?: Logger
  /** A processor adapter instead of the built-in simulated one. */
  processor?: PaymentProcessor
  /** Faults for the built-in simulated processor. */
  simFaults?: SimFaults
  nowMs?: () => number
  /** Run the embedded broker (default: config.embeddedBroker); when false, FUELPAY_BROKER_URL names the external one. */
  embeddedBroker?: boolean
}

const urlHost = (host: string) => (host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host)

export async function startCloud(config: CloudConfig, opts: StartCloudOptions = {}): Promise<RunningCloud> {
  const log = opts.log ?? createLogger({ name: 'cloud', level: config.logLevel })
  const nowMs = opts.nowMs ?? Date.now
  const closers: (() => Promise<void>)[] = []
  const closeAll = async () => {
    for (const c of closers.reverse()) await c().catch((err) => log.warn({ err }, 'error while closing'))
    closers.length = 0
  }
  try {
    const database = await openCloudDatabase({
      ...config,
      onConnectionLost: (err) => log.warn({ err }, 'database connection lost; the next query opens a new one'),
    })
    closers.push(() => database.close())
    const { db } = database
    const keys = await createKeyRing({ db, log, nowMs, maxAgeMs: config.signingKeyMaxAgeMs, sealer: keySealer(config.keyEncryptionKey) })
    if (!config.keyEncryptionKey && config.databaseUrl)
      log.warn('FUELPAY_KEY_ENCRYPTION_KEY is not set: the signing keys are stored unencrypted in the database')
    const processor = withTimeout(opts.processor ?? createSimProcessor({ db, nowMs, faults: opts.simFaults }), config.processorTimeoutMs)
    const deps: CloudDeps = { db, log, config, keys, processor, nowMs, metrics: createMetrics({ defaultMetrics: true }) }
    watchState(deps.metrics, { db, pool: database.pool, nowMs })

    let broker: Broker | undefined
    let redis: RedisBackends | undefined
    let mqttUrl = config.publicBrokerUrl ?? ''
    if (opts.embeddedBroker ?? config.embeddedBroker) {
      // Replicas: one broker across them, through Redis (design: beyond one machine).
      if (config.redisUrl) {
        // Every failed reconnect reports; said once in a while.
        const due = onceEvery(30_000)
        redis = createRedisBackends({
          url: config.redisUrl,
          onError: (err) => {
            if (due()) log.error({ err }, 'Redis unreachable: brokers of other replicas are out of reach; reconnecting')
          },
        })
      }
      broker = await createBroker({
        log: log.child({ component: 'broker' }),
        keys: keys.lookup,
        nowMs,
        ...(redis ? { persistence: redis.persistence, mq: redis.mq, id: `fuelpay-${config.cloudId}` } : {}),
      })
      closers.push(() => (broker as Broker).close())
      const { port } = await broker.listen(config.mqttPort, config.mqttHost)
      mqttUrl = `mqtt://${urlHost(config.mqttHost)}:${port}`
    }
    if (!mqttUrl) throw new Error('no broker: set FUELPAY_BROKER_URL or run the embedded broker')
    const brokerUrl = config.publicBrokerUrl ?? mqttUrl

    const link: CloudLink = await createCloudLink({
      url: mqttUrl,
      clientId: `cloud-${config.cloudId}`,
      // With Mosquitto the cloud logs in like everyone else, with its secret from the credentials file.
      credential: () =>
        config.mqttPasswordsFile
          ? passwordFromFile(config.mqttPasswordsFile, `cloud-${config.cloudId}`)
          : signBrokerCredential({ role: 'cloud', id: config.cloudId }, keys.active(), nowMs(), 7 * 86_400),
      log: log.child({ component: 'cloud-link' }),
      onMessage: telemetryRouter(deps),
    })
    closers.push(() => link.close())
    deps.sendStationCommand = (stationId, command) => link.sendCommand(stationId, command)

    const app = await build({ deps, database, brokerUrl: () => brokerUrl, brokerReady: () => link.connected() && (redis?.ready() ?? true) })
    closers.push(() => app.close())
    await app.listen({ port: config.httpPort, host: config.httpHost })
    const address = app.server.address()
    const port = typeof address === 'object' && address ? address.port : config.httpPort
    const httpUrl = `http://${urlHost(config.httpHost)}:${port}`

    let sweeping: Promise<unknown> | undefined
    const sweep = setInterval(() => {
      sweeping ??= (async () => {
        const now = new Date(nowMs())
        await expireSessions(deps)
        await purgeExpiredIdempotencyKeys(db, now)
        await forgetExpiredAssertions(db, now)
        await purgeOutbox(db, new Date(now.getTime() - config.outboxRetentionMs))
      })()
        .catch((err) => log.warn({ err }, 'sweep failed'))
        .finally(() => {
          sweeping = undefined
        })
    }, config.expirySweepMs)
    sweep.unref()
    closers.push(async () => {
      clearInterval(sweep)
      await sweeping
    })

    if (config.adminTokenGenerated) log.warn('FUELPAY_ADMIN_TOKEN is not set; generated one for this run')
    log.info({ httpUrl, mqttUrl, db: database.kind, cloudId: config.cloudId, redis: config.redisUrl !== undefined }, 'fuelpay cloud ready')
    return { httpUrl, mqttUrl, adminToken: config.adminToken, app, deps, database, close: closeAll }
  } catch (e) {
    await closeAll()
    throw e
  }
}
