import { beaconProximity, distanceM, outsideGeofenceM, type Position, type Reason, reason, type StationSummary } from '@fuelpay/proto'

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

export { distanceM } from '@fuelpay/proto'

/** How far outside its geofence a station named by its beacon alone may be from the car's fix, at most (a fix under a canopy is off by less). */
export const BEACON_ONLY_MAX_M = 500

/**
 * How far outside a station's geofence the fix may lie for its beacon alone
 * to name it: a few times the error the fix states (at least 100 m, at most
 * BEACON_ONLY_MAX_M). A precise fix far from the station rules the station
 * out, whatever beacon is heard (a beacon is easily carried or copied).
 */
export function beaconOnlyReachM(position: Position): number {
  const stated = position.accuracyM
  if (stated === undefined) return BEACON_ONLY_MAX_M
  return Math.min(BEACON_ONLY_MAX_M, Math.max(100, 3 * stated))
}

export interface Whereabouts {
  station?: StationSummary
  /** The pump the strongest pump beacon of that station proposes. */
  beaconPump?: number
  /** A station whose beacon was heard and not believed: the car's position is inside another station's geofence. */
  ignoredBeaconStationId?: string
  /**
   * The station comes from its beacon alone: the position is outside its
   * geofence (a fix under a canopy). The hold then goes without the
   * position, which the cloud would refuse.
   */
  byBeacon?: true
  reason?: Reason
}

/**
 * Picks the station and proposes a pump.
 * - When the position (plus the fix's accuracy) is inside one or more
 *   stations' geofences, the station is one of those: the one whose beacon
 *   is strongest (adjacent forecourts under one canopy), else the nearest.
 *   A beacon of a station whose geofence does not hold the car is ignored:
 *   a beacon is easily carried or copied, the position is checked again by
 *   the cloud (design: where am I).
 * - Otherwise (no fix, or a fix outside every geofence, as under a canopy)
 *   the strongest beacon of a listed station whose geofence the fix misses
 *   by no more than its error can explain (beaconOnlyReachM; `byBeacon`: a
 *   beacon of a station farther away was carried or copied). The hold then goes without the position: the cloud would
 *   refuse a fix outside the geofence.
 * - A fix's accuracy widens a geofence by at most
 *   GEOFENCE_ACCURACY_ALLOWANCE_M, as at the cloud.
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
  const around: StationSummary[] = position
    ? stations
        .filter((s) => outsideGeofenceM(position, s, s.geofenceRadiusM) <= 0)
        .map((s) => ({ s, d: distanceM(position, s) }))
        .sort((a, b) => a.d - b.d)
        .map(({ s }) => s)
    : []
  let station: StationSummary | undefined
  let ignoredBeaconStationId: string | undefined
  if (around.length > 0) {
    const here = ranked.find((b) => around.includes(byMajor.get(b.major) as StationSummary))
    station = here ? byMajor.get(here.major) : around[0]
    const strongest = ranked[0] ? byMajor.get(ranked[0].major) : undefined
    if (strongest && !around.includes(strongest)) ignoredBeaconStationId = strongest.id
  } else {
    const heard = ranked.find((b) => {
      const s = byMajor.get(b.major) as StationSummary
      return !position || outsideGeofenceM(position, s, s.geofenceRadiusM, 0) <= beaconOnlyReachM(position)
    })
    station = heard ? byMajor.get(heard.major) : undefined
  }
  const ignored = {
    ...(ignoredBeaconStationId !== undefined ? { ignoredBeaconStationId } : {}),
    ...(station && around.length === 0 ? { byBeacon: true as const } : {}),
  }
  if (!station) return { reason: reason('OUTSIDE_GEOFENCE') }
  const chosen = station
  const pumpBeacon = ranked.find((b) => b.major === chosen.beaconMajor && b.minor > 0 && chosen.pumps.some((p) => p.pump === b.minor))
  return pumpBeacon ? { station: chosen, beaconPump: pumpBeacon.minor, ...ignored } : { station: chosen, ...ignored }
}

/** A fixed location, for the CLI's --lat/--lon and for simulators. */
export function staticLocation(position: Position | undefined, beacons: BeaconSighting[] = []): LocationSource {
  return { position: async () => position, beacons: async () => beacons }
}
