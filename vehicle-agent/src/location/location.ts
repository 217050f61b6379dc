import { beaconProximity, type Position, type Reason, reason, type StationSummary } from '@fuelpay/proto'

/**
 * Where am I: the car's position against the stations' geofences, and the
 * BLE beacons the car hears. Pure functions; the BLE and GPS adapters only
 * deliver sightings and positions.
 */

/** One advertisement heard: a decoded fuelpay beacon and its signal strength. */
export interface BeaconSighting {
  major: number
  minor: number
  txPower: number
  rssi: number
  address?: string
}

/**
 * What the car knows about its surroundings right now.
 *
 * @example const location: LocationSource = { position: async () => ({ lat: 52.5, lon: 13.4 }), beacons: async () => [] }
 */
export interface LocationSource {
  position(): Promise<Position | undefined>
  beacons(): Promise<BeaconSighting[]>
}

const EARTH_RADIUS_M = 6_371_000

/** Great-circle distance in metres (positions are floats; money never is). */
export function distanceM(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  const rad = Math.PI / 180
  const dLat = (b.lat - a.lat) * rad
  const dLon = (b.lon - a.lon) * rad
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)))
}

export interface Whereabouts {
  station?: StationSummary
  /** The pump the strongest pump beacon of that station proposes. */
  beaconPump?: number
  reason?: Reason
}

/**
 * Picks the station and proposes a pump.
 * - A station beacon (or pump beacon) heard whose major maps to a nearby station wins:
 *   it is more precise than GPS under a canopy.
 * - Otherwise the nearest station whose geofence (plus the fix's accuracy) contains the car.
 * - The pump proposal is the strongest pump beacon of the chosen station; beacons
 *   of other stations never propose a pump there.
 */
export function resolveWhereabouts(input: {
  position?: Position | undefined
  stations: StationSummary[]
  beacons: BeaconSighting[]
}): Whereabouts {
  const { position, stations, beacons } = input
  const byMajor = new Map<number, StationSummary>()
  for (const s of stations) if (s.beaconMajor !== undefined) byMajor.set(s.beaconMajor, s)
  const ranked = [...beacons]
    .filter((b) => byMajor.has(b.major))
    .sort((a, b) => beaconProximity(b.rssi, b.txPower) - beaconProximity(a.rssi, a.txPower))
  let station: StationSummary | undefined
  const strongest = ranked[0]
  if (strongest) station = byMajor.get(strongest.major)
  if (!station && position) {
    let best: { s: StationSummary; d: number } | undefined
    for (const s of stations) {
      const d = distanceM(position, s)
      if (d <= s.geofenceRadiusM + (position.accuracyM ?? 0) && (!best || d < best.d)) best = { s, d }
    }
    station = best?.s
  }
  if (!station) return { reason: reason('OUTSIDE_GEOFENCE') }
  const chosen = station
  const pumpBeacon = ranked.find((b) => b.major === chosen.beaconMajor && b.minor > 0 && chosen.pumps.some((p) => p.pump === b.minor))
  return pumpBeacon ? { station: chosen, beaconPump: pumpBeacon.minor } : { station: chosen }
}

/** A fixed location, for the CLI's --lat/--lon and for simulators. */
export function staticLocation(position: Position | undefined, beacons: BeaconSighting[] = []): LocationSource {
  return { position: async () => position, beacons: async () => beacons }
}
