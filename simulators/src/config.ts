import { parseArgs } from 'node:util'
import { DEFAULT_MIX, parseMix, type ScenarioMix } from './scenario.ts'

/**
 * The simulator's configuration, from command-line flags, validated and
 * frozen. Every number has a bound so a typo cannot ask for a billion cars.
 *
 * @example parseSimConfig(['--vehicles', '200', '--stations', '5', '--pumps', '4', '--rate', '20'])
 */
export interface SimConfig {
  vehicles: number
  stations: number
  pumpsPerStation: number
  /** Mean session arrivals per second (Poisson). */
  ratePerS: number
  /** How long arrivals keep coming, in seconds; the run then drains. */
  durationS: number
  seed: number
  /** Simulated time per wall-clock time for the forecourt: 60 makes a 1-minute fill take 1 s. */
  timeScale: number
  mix: ScenarioMix
  /** PostgreSQL URL for the cloud's database; PGlite in memory when absent. */
  databaseUrl: string | undefined
  /** An already running cloud (HTTP URL); then brokerUrl and adminToken are needed too. */
  cloudUrl: string | undefined
  brokerUrl: string | undefined
  adminToken: string | undefined
  /** Run the cloud as a child process (its sockets do not count against this process's fd limit). */
  spawnCloud: boolean
  /** How long a station stays cut off from the cloud in the station-offline scenario, simulated seconds. */
  offlineS: number
  /** Longest wait for sessions in flight after arrivals stop, in seconds. */
  drainS: number
  reportDir: string
  /** Report file name stem; a timestamp when absent. */
  name: string | undefined
  progress: boolean
  logLevel: string
  /** Connect every vehicle to the broker at start (the "connected fleet" case) instead of on first use. */
  connectAll: boolean
  /** The real vehicle agent, or the protocol-level car (wire-vehicle.ts). */
  car: 'agent' | 'wire'
}

const USAGE = `usage: tsx simulators/src/main.ts [options]
  --vehicles N          simulated vehicles (default 50, max 20000)
  --stations M          stations (default 5, max 2000)
  --pumps K             pumps per station (default 4, max 99)
  --rate R              session arrivals per second, Poisson (default 5)
  --duration S          seconds of arrivals (default 20)
  --seed N              PRNG seed (default 1)
  --scale X             forecourt time scale, simulated/real (default 60)
  --mix SPEC            scenario weights, e.g. happy=80,cancel=5,declined=5 (default: ${Object.entries(
    DEFAULT_MIX,
  )
    .map(([k, v]) => `${k}=${v}`)
    .join(',')})
  --database-url URL    PostgreSQL for the in-process cloud (default: PGlite in memory)
  --cloud-url URL --broker-url URL --admin-token T   use a running cloud instead
  --spawn-cloud         run the cloud as a child process (needed beyond ~9,000 connected vehicles)
  --offline S           station-offline length in simulated seconds (default 600)
  --drain S             wait for sessions in flight after arrivals stop (default 60)
  --connect-all         connect every vehicle to the broker at start
  --report-dir DIR      where reports go (default reports)
  --name NAME           report file stem (default sim-<timestamp>)
  --no-progress         no progress line
  --log-level LEVEL     pino level for the real components (default warn)
  --car agent|wire      real vehicle agent (default) or protocol-level car`

export { USAGE }

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

function num(
  raw: string | undefined,
  name: string,
  def: number,
  min: number,
  max: number,
  integer = true,
): number {
  if (raw === undefined) return def
  // Plain decimals only: Number() reads '' and ' ' as 0, and hex and exponents too.
  const n = (integer ? /^\d{1,16}$/ : /^\d{1,16}(\.\d{1,16})?$/).test(raw) ? Number(raw) : Number.NaN
  if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n)))
    throw new RangeError(
      `--${name} must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}], got ${raw}`,
    )
  return n
}

export function parseSimConfig(argv: string[], env: NodeJS.ProcessEnv = {}): Readonly<SimConfig> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      vehicles: { type: 'string' },
      stations: { type: 'string' },
      pumps: { type: 'string' },
      rate: { type: 'string' },
      duration: { type: 'string' },
      seed: { type: 'string' },
      scale: { type: 'string' },
      mix: { type: 'string' },
      'database-url': { type: 'string' },
      'cloud-url': { type: 'string' },
      'broker-url': { type: 'string' },
      'admin-token': { type: 'string' },
      'spawn-cloud': { type: 'boolean' },
      offline: { type: 'string' },
      drain: { type: 'string' },
      'connect-all': { type: 'boolean' },
      'report-dir': { type: 'string' },
      name: { type: 'string' },
      'no-progress': { type: 'boolean' },
      'log-level': { type: 'string' },
      car: { type: 'string' },
      help: { type: 'boolean' },
    },
  })
  if (values.help) throw new HelpRequested()
  const cloudUrl = values['cloud-url']
  const brokerUrl = values['broker-url']
  const adminToken = values['admin-token'] ?? env.FUELPAY_ADMIN_TOKEN
  if (cloudUrl && (!brokerUrl || !adminToken))
    throw new RangeError(
      '--cloud-url needs --broker-url and --admin-token (or FUELPAY_ADMIN_TOKEN)',
    )
  // Given without the option that uses them, these would be ignored without a word.
  if (!cloudUrl && brokerUrl) throw new RangeError('--broker-url is used only with --cloud-url')
  if (cloudUrl && values['spawn-cloud'])
    throw new RangeError('--spawn-cloud and --cloud-url exclude each other')
  const logLevel = values['log-level'] ?? 'warn'
  if (!LOG_LEVELS.includes(logLevel))
    throw new RangeError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`)
  const car = values.car ?? 'agent'
  if (car !== 'agent' && car !== 'wire') throw new RangeError('--car must be agent or wire')
  const name = values.name
  if (name !== undefined && !/^[A-Za-z0-9_.-]{1,80}$/.test(name))
    throw new RangeError('--name may hold letters, digits, _ . - only')
  return Object.freeze({
    vehicles: num(values.vehicles, 'vehicles', 50, 1, 20_000),
    stations: num(values.stations, 'stations', 5, 1, 2000),
    pumpsPerStation: num(values.pumps, 'pumps', 4, 1, 99),
    ratePerS: num(values.rate, 'rate', 5, 0.01, 5000, false),
    durationS: num(values.duration, 'duration', 20, 0.1, 86_400, false),
    seed: num(values.seed, 'seed', 1, 0, 2 ** 32 - 1),
    timeScale: num(values.scale, 'scale', 60, 1, 10_000, false),
    mix: values.mix ? parseMix(values.mix) : { ...DEFAULT_MIX },
    databaseUrl: values['database-url'] ?? env.DATABASE_URL,
    cloudUrl,
    brokerUrl,
    adminToken,
    spawnCloud: values['spawn-cloud'] ?? false,
    offlineS: num(values.offline, 'offline', 600, 0, 86_400, false),
    drainS: num(values.drain, 'drain', 60, 1, 3600, false),
    reportDir: values['report-dir'] ?? 'reports',
    name,
    progress: !(values['no-progress'] ?? false),
    logLevel,
    connectAll: values['connect-all'] ?? false,
    car,
  })
}

export class HelpRequested extends Error {
  constructor() {
    super(USAGE)
    this.name = 'HelpRequested'
  }
}
