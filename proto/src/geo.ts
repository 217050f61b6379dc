/**
 * The geofence rule, one for the cloud (which refuses a hold from outside a
 * station's geofence) and the car (which must not choose a station the
 * cloud would refuse). Positions and distances are floats; money never is.
 */

/**
 * How much of a position fix's stated accuracy a geofence check adds to the
 * station's radius, at most (metres): the cloud's default, and what the car
 * uses to choose a station it will not be refused at.
 */
export const GEOFENCE_ACCURACY_ALLOWANCE_M = 50

const EARTH_RADIUS_M = 6_371_000

/**
 * Great-circle distance in metres (haversine on a 6371 km sphere: metres of error at station scale).
 *
 * @example distanceM({ lat: 52.52, lon: 13.405 }, { lat: 52.521, lon: 13.405 }) // ~111
 */
export function distanceM(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  const rad = Math.PI / 180
  const dLat = (b.lat - a.lat) * rad
  const dLon = (b.lon - a.lon) * rad
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)))
}

/**
 * How far (metres) a fix lies outside a station's geofence, the fix's stated
 * accuracy (at most `allowanceMaxM`) counted in its favour; zero or less is inside.
 *
 * @example outsideGeofenceM({ lat: 52.52, lon: 13.405, accuracyM: 10 }, station, 150) <= 0 // at the station
 */
export function outsideGeofenceM(
  fix: { lat: number; lon: number; accuracyM?: number | undefined },
  station: { lat: number; lon: number },
  radiusM: number,
  allowanceMaxM: number = GEOFENCE_ACCURACY_ALLOWANCE_M,
): number {
  return distanceM(fix, station) - radiusM - Math.min(fix.accuracyM ?? 0, allowanceMaxM)
}
