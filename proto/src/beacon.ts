import { isId } from './ids.ts'
import { fail, ok, type Result } from './reasons.ts'

/**
 * BLE beacons at stations and pumps. fuelpay uses the iBeacon layout in
 * manufacturer data (company 0x004C, type 0x02, length 0x15): a fixed
 * fuelpay proximity UUID, `major` = the station's beacon number (the cloud
 * maps it to a station id), `minor` = 0 for the station beacon or the pump
 * number. `txPower` (measured RSSI at 1 m) lets the car rank pumps.
 */
export const FUELPAY_BEACON_UUID = 'f0e1a2b3-c4d5-4e6f-8a9b-0c1d2e3f4a5b'
export const APPLE_COMPANY_ID = 0x004c

export interface Beacon {
  /** Station beacon number, 1..65535. */
  major: number
  /** 0 for the station itself, else the pump number. */
  minor: number
  txPower: number
}

/** The 23 manufacturer-data bytes a beacon advertises (after the company id). */
export function encodeBeacon(b: Beacon): Buffer {
  if (!Number.isInteger(b.major) || b.major < 1 || b.major > 0xffff)
    throw new RangeError('major out of range')
  if (!Number.isInteger(b.minor) || b.minor < 0 || b.minor > 99)
    throw new RangeError('minor out of range')
  if (!Number.isInteger(b.txPower) || b.txPower < -127 || b.txPower > 20)
    throw new RangeError('txPower out of range')
  const out = Buffer.alloc(23)
  out[0] = 0x02
  out[1] = 0x15
  Buffer.from(FUELPAY_BEACON_UUID.replaceAll('-', ''), 'hex').copy(out, 2)
  out.writeUInt16BE(b.major, 18)
  out.writeUInt16BE(b.minor, 20)
  out.writeInt8(b.txPower, 22)
  return out
}

/** Parses manufacturer data; anything that is not a fuelpay beacon is an error, never a throw. */
export function decodeBeacon(data: Uint8Array): Result<Beacon> {
  if (!(data instanceof Uint8Array) || data.length !== 23 || data[0] !== 0x02 || data[1] !== 0x15) {
    return fail('SCHEMA_INVALID', 'not an iBeacon frame')
  }
  const buf = Buffer.from(data)
  if (buf.subarray(2, 18).toString('hex') !== FUELPAY_BEACON_UUID.replaceAll('-', '')) {
    return fail('SCHEMA_INVALID', 'not a fuelpay beacon')
  }
  const major = buf.readUInt16BE(18)
  const minor = buf.readUInt16BE(20)
  if (major < 1 || minor > 99) return fail('SCHEMA_INVALID', 'beacon numbers out of range')
  const txPower = buf.readInt8(22)
  // The range `encodeBeacon` accepts: a frame outside it is not one of ours.
  if (txPower < -127 || txPower > 20) return fail('SCHEMA_INVALID', 'txPower out of range')
  return ok({ major, minor, txPower })
}

/** Rough distance ranking value from RSSI and tx power: larger is closer. */
export function beaconProximity(rssi: number, txPower: number): number {
  return rssi - txPower
}

export { isId }
