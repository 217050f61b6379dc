import { parseArgs } from 'node:util'
import {
  type Currency,
  GRADES,
  type Grade,
  isCurrency,
  isId,
  isPumpNumber,
  MAX_UNIT_PRICE_MILLI,
  type VolumeUnit,
} from '@fuelpay/proto'
import type { PumpLimits } from './pump/pump.machine.ts'

/** One pump as configured: its number and the grades it sells at which price. */
export interface PumpConfig {
  pump: number
  prices: Partial<Record<Grade, number>>
}

/** Everything a controller needs to know about its station; frozen once read. */
export interface ControllerConfig {
  stationId: string
  currency: Currency
  volumeUnit: VolumeUnit
  pumps: PumpConfig[]
  limits: PumpLimits
  /** How often timeouts are checked. */
  tickMs: number
  /** Retained station status is re-published this often (heartbeat). */
  heartbeatMs: number
  /**
   * A change of the sales backlog goes into the station status once it has
   * held this long (default 2 s): a sale queued and delivered at once, the
   * usual case, is not news for the console and costs the cloud nothing.
   */
  backlogStatusDelayMs?: number
  /** Progress to the car and the console at most this often per pump. */
  progressIntervalMs: number
  /** The cloud's JWKS is re-read this often (rotation, revocation); unknown key ids also trigger a read. */
  jwksRefreshMs?: number
}

export interface MainConfig extends ControllerConfig {
  cloudUrl: string
  brokerUrl?: string
  keyFile: string
  /** A file holding a fixed broker password (e.g. for Mosquitto); else the cloud issues one. */
  mqttPasswordFile?: string
  dataDir: string
  databaseUrl?: string
  /** PostgreSQL schema for the journal (several stations in one database). */
  journalSchema?: string
  httpHost: string
  httpPort: number
  logLevel: string
  sim: {
    autoLiftAfterMs?: number
    autoFillMilli?: number
    flowRateMilliPerS: number
  }
}

export const DEFAULT_LIMITS: PumpLimits = Object.freeze({
  nozzleTimeoutMs: 60_000,
  noFlowTimeoutMs: 120_000,
  maxSessionMs: 15 * 60_000,
})

/**
 * Parses `--pumps '1:diesel=1799,unleaded95=1859;2:diesel=1799'`: pumps
 * separated by `;`, each `number:grade=unitPriceMilli,...`.
 */
export function parsePumps(text: string): PumpConfig[] {
  const out: PumpConfig[] = []
  const seen = new Set<number>()
  for (const part of text
    .split(';')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m = /^(\d{1,2}):(.+)$/.exec(part)
    if (!m) throw new TypeError(`bad pump spec "${part}": expected N:grade=price,...`)
    const pump = Number(m[1])
    if (!isPumpNumber(pump)) throw new TypeError(`bad pump number ${m[1]}`)
    if (seen.has(pump)) throw new TypeError(`pump ${pump} listed twice`)
    seen.add(pump)
    const prices: Partial<Record<Grade, number>> = {}
    for (const g of (m[2] ?? '').split(',')) {
      const gm = /^([a-z0-9_]+)=(\d{1,10})$/.exec(g.trim())
      if (!gm) throw new TypeError(`bad grade spec "${g}" for pump ${pump}`)
      const grade = gm[1] as Grade
      if (!GRADES.includes(grade)) throw new TypeError(`unknown grade ${gm[1]}`)
      const price = Number(gm[2])
      if (!Number.isSafeInteger(price) || price < 1 || price > MAX_UNIT_PRICE_MILLI)
        throw new TypeError(`bad price ${gm[2]}`)
      prices[grade] = price
    }
    out.push({ pump, prices })
  }
  if (out.length === 0) throw new TypeError('no pumps configured')
  return out
}

function int(name: string, v: string | undefined, dflt: number, min = 0): number {
  if (v === undefined) return dflt
  const n = Number(v)
  if (!Number.isSafeInteger(n) || n < min)
    throw new TypeError(`--${name} must be an integer >= ${min}`)
  return n
}

/** Reads the command line (and LOG_LEVEL / DATABASE_URL from the environment) once. */
export function readMainConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): MainConfig {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      'station-id': { type: 'string' },
      'cloud-url': { type: 'string' },
      'broker-url': { type: 'string' },
      'key-file': { type: 'string' },
      'mqtt-password-file': { type: 'string' },
      pumps: { type: 'string' },
      'data-dir': { type: 'string' },
      'database-url': { type: 'string' },
      'journal-schema': { type: 'string' },
      currency: { type: 'string' },
      'volume-unit': { type: 'string' },
      'http-host': { type: 'string' },
      'http-port': { type: 'string' },
      'nozzle-timeout-ms': { type: 'string' },
      'no-flow-timeout-ms': { type: 'string' },
      'max-session-ms': { type: 'string' },
      'tick-ms': { type: 'string' },
      'heartbeat-ms': { type: 'string' },
      'sim-auto-lift-ms': { type: 'string' },
      'sim-fill-milli': { type: 'string' },
      'sim-flow-rate': { type: 'string' },
      'log-level': { type: 'string' },
    },
  })
  const need = (k: keyof typeof values): string => {
    const v = values[k]
    if (typeof v !== 'string' || v === '') throw new TypeError(`--${k} is required`)
    return v
  }
  const stationId = need('station-id')
  if (!isId(stationId)) throw new TypeError('--station-id is not a valid id')
  const currency = values.currency ?? 'EUR'
  if (!isCurrency(currency)) throw new TypeError(`unknown currency ${currency}`)
  const volumeUnit = values['volume-unit'] ?? 'L'
  if (volumeUnit !== 'L' && volumeUnit !== 'gal')
    throw new TypeError('--volume-unit must be L or gal')
  const autoLift = values['sim-auto-lift-ms']
  if (values['mqtt-password-file'] && !values['broker-url'])
    throw new TypeError('--mqtt-password-file needs --broker-url')
  const databaseUrl = values['database-url'] ?? env.DATABASE_URL
  return Object.freeze({
    stationId,
    cloudUrl: need('cloud-url'),
    ...(values['broker-url'] ? { brokerUrl: values['broker-url'] } : {}),
    keyFile: need('key-file'),
    ...(values['mqtt-password-file'] ? { mqttPasswordFile: values['mqtt-password-file'] } : {}),
    pumps: parsePumps(need('pumps')),
    dataDir: values['data-dir'] ?? `.data/pump-controller-${stationId}`,
    ...(databaseUrl ? { databaseUrl } : {}),
    ...(values['journal-schema'] ? { journalSchema: values['journal-schema'] } : {}),
    currency,
    volumeUnit,
    httpHost: values['http-host'] ?? '127.0.0.1',
    httpPort: int('http-port', values['http-port'], 0),
    logLevel: values['log-level'] ?? env.LOG_LEVEL ?? 'info',
    limits: {
      nozzleTimeoutMs: int(
        'nozzle-timeout-ms',
        values['nozzle-timeout-ms'],
        DEFAULT_LIMITS.nozzleTimeoutMs,
        1000,
      ),
      noFlowTimeoutMs: int(
        'no-flow-timeout-ms',
        values['no-flow-timeout-ms'],
        DEFAULT_LIMITS.noFlowTimeoutMs,
        1000,
      ),
      maxSessionMs: int(
        'max-session-ms',
        values['max-session-ms'],
        DEFAULT_LIMITS.maxSessionMs,
        1000,
      ),
    },
    tickMs: int('tick-ms', values['tick-ms'], 250, 10),
    heartbeatMs: int('heartbeat-ms', values['heartbeat-ms'], 30_000, 100),
    progressIntervalMs: 200,
    sim: {
      // Demo mode by default: the simulated driver lifts the nozzle 1 s after authorization.
      ...(autoLift === 'off' ? {} : { autoLiftAfterMs: int('sim-auto-lift-ms', autoLift, 1000) }),
      ...(values['sim-fill-milli']
        ? { autoFillMilli: int('sim-fill-milli', values['sim-fill-milli'], 0, 1) }
        : {}),
      flowRateMilliPerS: int('sim-flow-rate', values['sim-flow-rate'], 10_000, 1),
    },
  })
}
