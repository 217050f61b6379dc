import type { Position, ReasonCode, StationSummary } from '@fuelpay/proto'
import { distanceM } from './location.ts'

/**
 * The stations the cloud listed near a position, kept for a short while so
 * that a second request from (almost) the same place (a retry after a
 * decline, a "no, pump 3", the next session at the same forecourt) does not
 * wait for another GET /v1/stations/near (issue 7: utterance -> pump
 * authorized). Reuse is safe: the agent still resolves the station against
 * the car's current position and beacons, and the cloud checks the geofence
 * and the pump on the hold, so a stale list can refuse but never authorize
 * the wrong station. Bounded in entries, age and distance.
 *
 * @example
 *   const cache = createStationsCache({ now: Date.now })
 *   cache.put(here, stations)
 *   cache.get(here) // the same stations, for maxAgeMs within maxDistanceM
 */
export interface StationsCache {
  /** The stations of a lookup younger than maxAgeMs made within maxDistanceM of `position`, if any. */
  get(position: Position): StationSummary[] | undefined
  put(position: Position, stations: StationSummary[]): void
  clear(): void
}

export interface StationsCacheOptions {
  now: () => number
  /** A lookup older than this is not reused. */
  maxAgeMs?: number
  /** A lookup made farther than this from where the car is now is not reused. */
  maxDistanceM?: number
  maxEntries?: number
}

export const DEFAULT_STATIONS_CACHE = Object.freeze({ maxAgeMs: 60_000, maxDistanceM: 100, maxEntries: 8 })

export function createStationsCache(opts: StationsCacheOptions): StationsCache {
  const maxAgeMs = opts.maxAgeMs ?? DEFAULT_STATIONS_CACHE.maxAgeMs
  const maxDistanceM = opts.maxDistanceM ?? DEFAULT_STATIONS_CACHE.maxDistanceM
  const maxEntries = opts.maxEntries ?? DEFAULT_STATIONS_CACHE.maxEntries
  if (!(maxAgeMs >= 0) || !(maxDistanceM >= 0) || !Number.isInteger(maxEntries) || maxEntries < 1) {
    throw new RangeError('stations cache: maxAgeMs and maxDistanceM must be >= 0, maxEntries a positive integer')
  }
  // Newest last; a handful of entries, so a linear scan is the cheapest lookup.
  let entries: { position: Position; atMs: number; stations: StationSummary[] }[] = []
  return {
    get(position) {
      const nowMs = opts.now()
      entries = entries.filter((e) => nowMs - e.atMs <= maxAgeMs && e.atMs <= nowMs)
      let best: { d: number; stations: StationSummary[] } | undefined
      for (const e of entries) {
        const d = distanceM(position, e.position)
        if (d <= maxDistanceM && (!best || d < best.d)) best = { d, stations: e.stations }
      }
      return best?.stations
    },
    put(position, stations) {
      entries.push({ position: { ...position }, atMs: opts.now(), stations: [...stations] })
      if (entries.length > maxEntries) entries = entries.slice(-maxEntries)
    },
    clear() {
      entries = []
    },
  }
}

/**
 * Refusals a stale station list can cause (a pump taken out of service, a
 * moved geofence, a changed price list): after one of these the next
 * lookup asks the cloud again.
 */
export const STATION_LIST_REASONS: ReadonlySet<ReasonCode> = new Set<ReasonCode>([
  'OUTSIDE_GEOFENCE',
  'UNKNOWN_STATION',
  'PUMP_NOT_AT_STATION',
  'PUMP_OUT_OF_SERVICE',
  'UNKNOWN_PUMP',
  'UNKNOWN_GRADE',
  'GRADE_NOT_ALLOWED',
  'CURRENCY_MISMATCH',
])
