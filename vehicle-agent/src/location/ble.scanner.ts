import { APPLE_COMPANY_ID, decodeBeacon } from '@fuelpay/proto'
import type { Logger } from 'pino'
import type { BeaconSighting } from './location.ts'

/** The part of node-ble the scanner uses (createBluetooth's result). */
export interface BluetoothSession {
  bluetooth: {
    defaultAdapter(): Promise<{
      isDiscovering(): Promise<boolean>
      startDiscovery(): Promise<void>
      stopDiscovery(): Promise<void>
      devices(): Promise<string[]>
      getDevice(id: string): Promise<{ getRSSI(): Promise<number>; getManufacturerData(): Promise<Record<string, unknown>> }>
    }>
  }
  destroy(): void
}

export interface BleBeaconScannerOptions {
  log: Logger
  /** node-ble's `createBluetooth` (BlueZ over the D-Bus system bus, DBUS_SYSTEM_BUS_ADDRESS honoured). */
  createBluetooth: () => BluetoothSession
  /** How long to listen for advertisements before reading what BlueZ has seen. */
  scanMs?: number
  /** Bound for the whole scan, D-Bus calls included. */
  timeoutMs?: number
  maxDevices?: number
}

/**
 * Reads fuelpay beacons through BlueZ with node-ble: starts LE discovery,
 * waits `scanMs`, then reads each device's manufacturer data (Apple iBeacon
 * frame, proto beacon.ts) and RSSI. Anything that is not a fuelpay beacon is
 * skipped. Bounded; a BlueZ failure yields no sightings, never a throw.
 *
 * @example const ble = createBleBeaconScanner({ log, createBluetooth }); const seen = await ble.beacons()
 */
export function createBleBeaconScanner(opts: BleBeaconScannerOptions): { beacons(): Promise<BeaconSighting[]> } {
  const scanMs = opts.scanMs ?? 1500
  const timeoutMs = opts.timeoutMs ?? scanMs + 5000
  const maxDevices = opts.maxDevices ?? 200
  async function scan(session: BluetoothSession): Promise<BeaconSighting[]> {
    const adapter = await session.bluetooth.defaultAdapter()
    const startedHere = !(await adapter.isDiscovering())
    if (startedHere) await adapter.startDiscovery()
    try {
      await new Promise((r) => setTimeout(r, scanMs))
      const ids = (await adapter.devices()).slice(0, maxDevices)
      const out: BeaconSighting[] = []
      for (const id of ids) {
        try {
          const device = await adapter.getDevice(id)
          const md = await device.getManufacturerData()
          const frame = md[String(APPLE_COMPANY_ID)]
          if (!(frame instanceof Uint8Array)) continue
          const b = decodeBeacon(frame)
          if (!b.ok) continue
          const rssi = await device.getRSSI()
          if (!Number.isInteger(rssi)) continue
          out.push({ ...b.value, rssi, address: id })
        } catch (e) {
          // A device that went away between listing and reading is not an error.
          opts.log.debug({ err: e, id }, 'skipped a BLE device')
        }
      }
      return out
    } finally {
      if (startedHere) await adapter.stopDiscovery().catch(() => {})
    }
  }
  return {
    async beacons() {
      let session: BluetoothSession | undefined
      let timer: NodeJS.Timeout | undefined
      try {
        session = opts.createBluetooth()
        const s = session
        return await Promise.race([
          scan(s),
          new Promise<BeaconSighting[]>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`BLE scan timed out after ${timeoutMs} ms`)), timeoutMs)
          }),
        ])
      } catch (e) {
        opts.log.warn({ err: e }, 'BLE scan failed')
        return []
      } finally {
        if (timer) clearTimeout(timer)
        try {
          session?.destroy()
        } catch {
          // already disconnected
        }
      }
    },
  }
}
