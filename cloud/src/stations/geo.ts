export { distanceM } from '@fuelpay/proto'

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
