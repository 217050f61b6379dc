/** Great-circle distance in metres (haversine on a 6371 km sphere: metres of error at station scale). */
export function distanceM(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  const R = 6_371_000
  const rad = Math.PI / 180
  const dLat = (b.lat - a.lat) * rad
  const dLon = (b.lon - a.lon) * rad
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2
  return 2 * R * Math.asin(Math.min(1, Math.sqrt(h)))
}

/** A lat/lon box that contains every point within `radiusM` of the centre. */
export function boundingBox(c: { lat: number; lon: number }, radiusM: number) {
  const dLat = radiusM / 111_320
  const cos = Math.max(0.01, Math.cos((c.lat * Math.PI) / 180))
  const dLon = Math.min(180, radiusM / (111_320 * cos))
  return {
    minLat: Math.max(-90, c.lat - dLat),
    maxLat: Math.min(90, c.lat + dLat),
    minLon: Math.max(-180, c.lon - dLon),
    maxLon: Math.min(180, c.lon + dLon),
  }
}
