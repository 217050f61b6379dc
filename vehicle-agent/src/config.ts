import { isLang, type Lang } from './intent/numbers.ts'
import type { BeaconSighting } from './location/location.ts'

/**
 * The command line, read once into a frozen object.
 *
 *   vehicle-agent --vehicle-id ID --cloud-url URL --key-file car.jwk [--lat N --lon N]
 *                 [--lang en|de|fr|ar] [--yes] [--ble] [--beacon MAJOR:MINOR:RSSI[:TX]]... [--speak-dir DIR]
 *                 [--state-dir DIR]
 *                 ( say "pay for pump 2" | --audio file.wav | interactive )
 */
export interface CliConfig {
  vehicleId: string
  cloudUrl: string
  keyFile: string
  lat?: number
  lon?: number
  lang: Lang
  yes: boolean
  /** Scan BLE beacons through BlueZ (node-ble) as well. */
  ble: boolean
  beacons: BeaconSighting[]
  speakDir?: string
  /** Where requests that must survive a restart are kept (default .data/vehicle-agent). */
  stateDir: string
  mode: { kind: 'say'; text: string } | { kind: 'audio'; path: string } | { kind: 'interactive' }
  logLevel: string
}

export class UsageError extends Error {
  override name = 'UsageError'
}

export const USAGE = `usage: vehicle-agent --vehicle-id ID --cloud-url URL --key-file car.jwk [--lat N --lon N]
       [--lang en|de|fr|ar] [--yes] [--ble] [--beacon MAJOR:MINOR:RSSI[:TX]]... [--speak-dir DIR]
       [--state-dir DIR]
       ( say "pay for pump 2" | --audio file.wav | interactive )`

/** The options that take a value; any other `--name` is a mistake, not something to ignore. */
const VALUE_FLAGS = new Set(['vehicle-id', 'cloud-url', 'key-file', 'lat', 'lon', 'lang', 'speak-dir', 'state-dir'])

export function parseArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): Readonly<CliConfig> {
  const flags = new Map<string, string>()
  const beacons: BeaconSighting[] = []
  let yes = false
  let ble = false
  let mode: CliConfig['mode'] | undefined
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string
    const value = () => {
      const v = argv[++i]
      if (v === undefined) throw new UsageError(`${a} needs a value`)
      return v
    }
    if (a === '--yes' || a === '-y') yes = true
    else if (a === '--ble') ble = true
    else if (a === 'say') {
      const text = argv.slice(i + 1).join(' ')
      if (!text) throw new UsageError('say needs the words')
      mode = { kind: 'say', text }
      break
    } else if (a === 'interactive') mode = { kind: 'interactive' }
    else if (a === '--audio') mode = { kind: 'audio', path: value() }
    else if (a === '--beacon') {
      const m = /^(\d{1,5}):(\d{1,2}):(-?\d{1,3})(?::(-?\d{1,3}))?$/.exec(value())
      if (!m) throw new UsageError('--beacon is MAJOR:MINOR:RSSI[:TX]')
      beacons.push({ major: Number(m[1]), minor: Number(m[2]), rssi: Number(m[3]), txPower: m[4] === undefined ? -59 : Number(m[4]) })
    } else if (a.startsWith('--') && VALUE_FLAGS.has(a.slice(2))) flags.set(a.slice(2), value())
    else if (a.startsWith('-')) throw new UsageError(`unknown option ${a}`)
    else throw new UsageError(`unexpected argument ${a}`)
  }
  const need = (k: string) => {
    const v = flags.get(k)
    if (!v) throw new UsageError(`--${k} is required`)
    return v
  }
  if (!mode) throw new UsageError('say "...", --audio FILE or interactive is required')
  const num = (k: string) => {
    const v = flags.get(k)
    if (v === undefined) return undefined
    const n = Number(v)
    if (!Number.isFinite(n)) throw new UsageError(`--${k} must be a number`)
    return n
  }
  const lang = flags.get('lang') ?? 'en'
  if (!isLang(lang)) throw new UsageError('--lang is en, de, fr or ar')
  const lat = num('lat')
  const lon = num('lon')
  if ((lat === undefined) !== (lon === undefined)) throw new UsageError('--lat and --lon go together')
  if (lat !== undefined && Math.abs(lat) > 90) throw new UsageError('--lat is between -90 and 90')
  if (lon !== undefined && Math.abs(lon) > 180) throw new UsageError('--lon is between -180 and 180')
  return Object.freeze({
    vehicleId: need('vehicle-id'),
    cloudUrl: need('cloud-url'),
    keyFile: need('key-file'),
    ...(lat !== undefined ? { lat } : {}),
    ...(lon !== undefined ? { lon } : {}),
    lang,
    yes,
    ble,
    beacons,
    ...(flags.get('speak-dir') ? { speakDir: flags.get('speak-dir') as string } : {}),
    stateDir: flags.get('state-dir') ?? '.data/vehicle-agent',
    mode,
    logLevel: env.LOG_LEVEL ?? 'warn',
  })
}
