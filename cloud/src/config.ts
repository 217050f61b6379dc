import { randomBytes } from 'node:crypto'
import { resolve } from 'node:path'
import { GEOFENCE_ACCURACY_ALLOWANCE_M, ID_PATTERN, PUMP_AUTHORIZATION_TTL_S } from '@fuelpay/proto'
import { redisOptionsFromUrl } from './broker/redis-backends.ts'

/**
 * The cloud's configuration: read from the environment once, validated, and
 * frozen. Nothing else in the cloud reads `process.env`.
 *
 * @example const config = loadConfig({ FUELPAY_HTTP_PORT: '0', FUELPAY_ADMIN_TOKEN: 'x'.repeat(32) })
 */
export interface CloudConfig {
  /** postgres:// URL; unset means PGlite under `dataDir`. */
  readonly databaseUrl: string | undefined
  /** Repeated statements run prepared on PostgreSQL (false behind a pooler that cannot keep them, e.g. PgBouncer in transaction mode before 1.21). */
  readonly dbPrepare: boolean
  readonly dataDir: string
  readonly httpHost: string
  readonly httpPort: number
  readonly mqttHost: string
  readonly mqttPort: number
  /** The broker URL handed to vehicles and stations; derived from host and bound port when unset. */
  readonly publicBrokerUrl: string | undefined
  readonly adminToken: string
  /** True when the admin token was generated because none was configured. */
  readonly adminTokenGenerated: boolean
  /** When set, GET /metrics needs `Authorization: Bearer <this>` (or the admin token); open otherwise. */
  readonly metricsToken: string | undefined
  /** Seals the cloud's private signing keys in the database (keys/key-sealing.ts); 32 bytes. */
  readonly keyEncryptionKey: Buffer | undefined
  readonly logLevel: string
  /** Hold when neither the request nor the account names an amount (minor units). */
  readonly defaultHoldMinor: number
  /** A hold whose pump authorization was never taken up is voided after this. */
  readonly unusedHoldTtlMs: number
  /** A hold at a pump that took it is voided after this if no sale arrives. */
  readonly holdTtlMs: number
  readonly expirySweepMs: number
  readonly processorTimeoutMs: number
  /** Idempotency keys are kept at least this long (issue 3: >= 24 h). */
  readonly idempotencyTtlMs: number
  /** Outbox events (console feed, GET /v1/events) are deleted after this; settlement-failed alerts are kept. */
  readonly outboxRetentionMs: number
  /** Refuse fuel authorizations that carry no position (geofence cannot be checked). */
  readonly requirePosition: boolean
  /** Extra metres of GPS accuracy allowed on top of a station's geofence radius, at most. */
  readonly maxAccuracyAllowanceM: number
  readonly mqttCredentialTtlS: number
  /** Signing keys older than this are rotated on start (the previous one stays in the JWKS). */
  readonly signingKeyMaxAgeMs: number
  /** Lifetime of a pump authorization token, seconds (design: about 2 min; proto PUMP_AUTHORIZATION_TTL_S). */
  readonly pumpAuthorizationTtlS: number
  /**
   * The longest a pump session may last at a station, from authorization to
   * hang-up (the controllers' --max-session-ms). The expiry sweeper never voids
   * a hold a pump may still be dispensing against: token expiry + clock skew + this.
   */
  readonly pumpSessionMaxMs: number
  /** Run the embedded aedes broker (default); false means FUELPAY_BROKER_URL names an external one (Mosquitto). */
  readonly embeddedBroker: boolean
  /**
   * A Mosquitto credentials file (clientId -> secret, the credentials.json that
   * cloud/src/broker/mosquitto-config.ts writes). When set, POST
   * /v1/mqtt-credentials hands out the client's secret from it instead of a
   * broker credential JWT, and the cloud's own link logs in with `cloud-main`'s.
   */
  readonly mqttPasswordsFile: string | undefined
  /**
   * Redis that clusters the embedded brokers of several cloud replicas
   * (design: beyond one machine): a car on one replica's broker reaches a
   * station on another's. Replicas share one PostgreSQL.
   */
  readonly redisUrl: string | undefined
  /**
   * This replica's name: its MQTT link logs in as `cloud-<id>` and its broker
   * is `fuelpay-<id>`, so replicas never take each other's place. `main` on
   * one machine; a random one per run with Redis unless set.
   */
  readonly cloudId: string
}

export type Env = Record<string, string | undefined>

function int(env: Env, name: string, dflt: number, min: number, max: number, errors: string[]): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return dflt
  if (!/^-?\d+$/.test(raw)) {
    errors.push(`${name} must be an integer, got ${JSON.stringify(raw).slice(0, 40)}`)
    return dflt
  }
  const n = Number(raw)
  if (n < min || n > max) errors.push(`${name} must be in ${min}..${max}, got ${n}`)
  return n
}

function bool(env: Env, name: string, dflt: boolean, errors: string[]): boolean {
  const raw = env[name]
  if (raw === undefined || raw === '') return dflt
  if (['1', 'true', 'yes'].includes(raw)) return true
  if (['0', 'false', 'no'].includes(raw)) return false
  errors.push(`${name} must be true or false`)
  return dflt
}

/** Reads and validates the environment; throws one error naming every problem. */
export function loadConfig(env: Env = process.env): CloudConfig {
  const errors: string[] = []
  const databaseUrl = env.DATABASE_URL || undefined
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl))
    errors.push('DATABASE_URL must be a postgres:// URL')
  const adminRaw = env.FUELPAY_ADMIN_TOKEN || undefined
  // What a bearer token can carry (auth.service.ts): a longer one, or one with spaces, could never be presented.
  if (adminRaw !== undefined && !/^[\x21-\x7e]{16,4096}$/.test(adminRaw))
    errors.push('FUELPAY_ADMIN_TOKEN must be 16-4096 printable characters without spaces')
  const metricsToken = env.FUELPAY_METRICS_TOKEN || undefined
  if (metricsToken !== undefined && !/^[\x21-\x7e]{16,4096}$/.test(metricsToken))
    errors.push('FUELPAY_METRICS_TOKEN must be 16-4096 printable characters without spaces')
  const kekRaw = env.FUELPAY_KEY_ENCRYPTION_KEY || undefined
  if (kekRaw !== undefined && !/^[A-Za-z0-9_-]{43}$/.test(kekRaw))
    errors.push('FUELPAY_KEY_ENCRYPTION_KEY must be 32 bytes in base64url (43 characters)')
  const logLevel = env.LOG_LEVEL || 'info'
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel))
    errors.push(`LOG_LEVEL ${logLevel} is not a pino level`)
  const publicBrokerUrl = env.FUELPAY_BROKER_URL || undefined
  if (publicBrokerUrl && !/^mqtts?:\/\/[^\s]+$/.test(publicBrokerUrl))
    errors.push('FUELPAY_BROKER_URL must be an mqtt:// or mqtts:// URL')
  const httpHost = env.FUELPAY_HTTP_HOST || '127.0.0.1'
  const embeddedBroker = bool(env, 'FUELPAY_EMBEDDED_BROKER', true, errors)
  if (!embeddedBroker && !publicBrokerUrl) errors.push('FUELPAY_EMBEDDED_BROKER=false needs FUELPAY_BROKER_URL')
  const mqttPasswordsFile = env.FUELPAY_MQTT_PASSWORDS_FILE ? resolve(env.FUELPAY_MQTT_PASSWORDS_FILE) : undefined
  if (mqttPasswordsFile && embeddedBroker)
    errors.push('FUELPAY_MQTT_PASSWORDS_FILE is for an external broker: set FUELPAY_EMBEDDED_BROKER=false')
  const redisUrl = env.FUELPAY_REDIS_URL || undefined
  if (redisUrl) {
    try {
      redisOptionsFromUrl(redisUrl)
    } catch (e) {
      errors.push((e as Error).message)
    }
    if (!embeddedBroker) errors.push('FUELPAY_REDIS_URL clusters the embedded broker: it does not go with FUELPAY_EMBEDDED_BROKER=false')
    if (!databaseUrl) errors.push('FUELPAY_REDIS_URL is for replicas, which share one PostgreSQL: set DATABASE_URL')
  }
  const cloudId = env.FUELPAY_CLOUD_ID || (redisUrl ? `r${randomBytes(4).toString('hex')}` : 'main')
  if (!new RegExp(ID_PATTERN).test(cloudId)) errors.push('FUELPAY_CLOUD_ID is 1-64 letters, digits, _ or -, starting with a letter or digit')
  const config: CloudConfig = {
    databaseUrl,
    dbPrepare: bool(env, 'FUELPAY_DB_PREPARE', true, errors),
    dataDir: resolve(env.FUELPAY_DATA_DIR || './.data'),
    httpHost,
    httpPort: int(env, 'FUELPAY_HTTP_PORT', 8080, 0, 65535, errors),
    mqttHost: env.FUELPAY_MQTT_HOST || httpHost,
    mqttPort: int(env, 'FUELPAY_MQTT_PORT', 1884, 0, 65535, errors),
    publicBrokerUrl,
    adminToken: adminRaw ?? randomBytes(24).toString('base64url'),
    adminTokenGenerated: adminRaw === undefined,
    metricsToken,
    keyEncryptionKey: kekRaw !== undefined && /^[A-Za-z0-9_-]{43}$/.test(kekRaw) ? Buffer.from(kekRaw, 'base64url') : undefined,
    logLevel,
    defaultHoldMinor: int(env, 'FUELPAY_DEFAULT_HOLD_MINOR', 10_000, 1, 100_000_000, errors),
    unusedHoldTtlMs: int(env, 'FUELPAY_UNUSED_HOLD_TTL_MS', 10 * 60_000, 1000, 7 * 86_400_000, errors),
    holdTtlMs: int(env, 'FUELPAY_HOLD_TTL_MS', 24 * 3_600_000, 1000, 30 * 86_400_000, errors),
    expirySweepMs: int(env, 'FUELPAY_EXPIRY_SWEEP_MS', 30_000, 100, 3_600_000, errors),
    processorTimeoutMs: int(env, 'FUELPAY_PROCESSOR_TIMEOUT_MS', 5000, 10, 120_000, errors),
    idempotencyTtlMs: int(env, 'FUELPAY_IDEMPOTENCY_TTL_MS', 48 * 3_600_000, 24 * 3_600_000, 30 * 86_400_000, errors),
    outboxRetentionMs: int(env, 'FUELPAY_OUTBOX_RETENTION_MS', 7 * 86_400_000, 3_600_000, 3650 * 86_400_000, errors),
    requirePosition: bool(env, 'FUELPAY_REQUIRE_POSITION', false, errors),
    maxAccuracyAllowanceM: int(env, 'FUELPAY_MAX_ACCURACY_ALLOWANCE_M', GEOFENCE_ACCURACY_ALLOWANCE_M, 0, 1000, errors),
    mqttCredentialTtlS: int(env, 'FUELPAY_MQTT_CREDENTIAL_TTL_S', 24 * 3600, 60, 30 * 86_400, errors),
    signingKeyMaxAgeMs: int(env, 'FUELPAY_SIGNING_KEY_MAX_AGE_MS', 90 * 86_400_000, 60_000, 3650 * 86_400_000, errors),
    pumpAuthorizationTtlS: int(env, 'FUELPAY_PUMP_AUTHORIZATION_TTL_S', PUMP_AUTHORIZATION_TTL_S, 1, 600, errors),
    pumpSessionMaxMs: int(env, 'FUELPAY_PUMP_SESSION_MAX_MS', 15 * 60_000, 1000, 86_400_000, errors),
    embeddedBroker,
    mqttPasswordsFile,
    redisUrl,
    cloudId,
  }
  if (errors.length > 0) throw new Error(`invalid cloud configuration: ${errors.join('; ')}`)
  return Object.freeze(config)
}
