import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { silentLogger } from '@fuelpay/platform'
import { encodeBeacon } from '@fuelpay/proto'
import nodeBle from 'node-ble'
import t from 'tap'
import { createVehicleAgent } from '../../src/agent.ts'
import { type BluetoothSession, createBleBeaconScanner } from '../../src/location/ble.scanner.ts'
import { resolveWhereabouts } from '../../src/location/location.ts'
import { fakeCloud, fakeStation, STATION } from '../helpers/fakes.ts'

// node-ble against a mocked BlueZ (python-dbusmock, our template declaring
// PropertiesChanged) on a PRIVATE D-Bus: nothing touches the machine's bus.
const PYTHON = '/usr/bin/python3'
const TEMPLATE = fileURLToPath(new URL('../fixtures/bluez5_fuelpay.py', import.meta.url))

const missing = ['/usr/bin/dbus-daemon', PYTHON].filter((p) => !existsSync(p))
const skip = missing.length ? `needs Debian packages dbus and python3-dbusmock (missing ${missing.join(', ')})` : false
t.test('the agent picks the station and pump from beacons heard through BlueZ', { skip }, async (t) => {
  const children: ChildProcess[] = []
  t.teardown(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
  })
  // Its "cannot raise the fd limit" complaint on stderr is harmless for a test bus.
  const daemon = spawn('dbus-daemon', ['--session', '--print-address=1', '--nofork', '--nopidfile'], { stdio: ['ignore', 'pipe', 'ignore'] })
  children.push(daemon)
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('dbus-daemon gave no address in 10 s')), 10_000)
    daemon.stdout?.once('data', (d: Buffer) => {
      clearTimeout(timer)
      resolve(d.toString().trim().split('\n')[0] as string)
    })
  })
  process.env.DBUS_SYSTEM_BUS_ADDRESS = address
  const frame = (major: number, minor: number, txPower = -59) => [...encodeBeacon({ major, minor, txPower })]
  const beacons = [
    { address: 'F0:00:00:00:00:01', name: 'station', company: 0x004c, data: frame(4242, 0), rssi: -70 },
    { address: 'F0:00:00:00:00:02', name: 'pump 2', company: 0x004c, data: frame(4242, 2), rssi: -45 },
    { address: 'F0:00:00:00:00:03', name: 'pump 1', company: 0x004c, data: frame(4242, 1), rssi: -66 },
    // Louder, but of a station the cloud did not list here: never proposes a pump.
    { address: 'F0:00:00:00:00:04', name: 'elsewhere', company: 0x004c, data: frame(777, 3), rssi: -30 },
    // A pump beacon for a pump this station does not have.
    { address: 'F0:00:00:00:00:05', name: 'pump 9', company: 0x004c, data: frame(4242, 9), rssi: -35 },
    // Not fuelpay: another company, and an iBeacon with another UUID.
    { address: 'F0:00:00:00:00:06', name: 'headphones', company: 0x0059, data: [1, 2, 3], rssi: -20 },
    { address: 'F0:00:00:00:00:07', name: 'shop', company: 0x004c, data: [2, 21, ...new Array(16).fill(7), 0, 1, 0, 2, 0xc5], rssi: -25 },
  ]
  const mock = spawn(PYTHON, ['-m', 'dbusmock', '--system', '--template', TEMPLATE, '-p', JSON.stringify({ beacons })], {
    env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: address },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  children.push(mock)
  let mockErr = ''
  mock.stderr?.on('data', (d: Buffer) => {
    mockErr += d.toString()
  })
  const createBluetooth = () => (nodeBle as unknown as { createBluetooth: () => BluetoothSession }).createBluetooth()
  // Wait, bounded, until the mock owns org.bluez and shows its adapter.
  const deadline = Date.now() + 15_000
  for (;;) {
    const s = createBluetooth()
    try {
      const a = await s.bluetooth.defaultAdapter()
      if ((await a.devices()).length >= beacons.length) break
    } catch {
      if (Date.now() > deadline) throw new Error(`mock BlueZ did not come up: ${mockErr}`)
      await new Promise((r) => setTimeout(r, 200))
    } finally {
      s.destroy()
    }
  }

  // Our template declares PropertiesChanged, so node-ble's events arrive (the stock one never delivers them).
  {
    const s = createBluetooth() as unknown as { bluetooth: { defaultAdapter(): Promise<{ getDevice(id: string): Promise<{ connect(): Promise<void>; once(e: string, fn: () => void): void }> }> }; destroy(): void }
    try {
      const dev = await (await s.bluetooth.defaultAdapter()).getDevice('F0:00:00:00:00:02')
      const connected = new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 5000)
        dev.once('connect', () => {
          clearTimeout(timer)
          resolve(true)
        })
      })
      await dev.connect()
      t.equal(await connected, true, 'node-ble sees the PropertiesChanged event')
    } finally {
      s.destroy()
    }
  }

  const scanner = createBleBeaconScanner({ log: silentLogger(), createBluetooth, scanMs: 100 })
  const seen = await scanner.beacons()
  t.same(
    seen.map((b) => [b.major, b.minor, b.rssi]).sort(),
    [[4242, 0, -70], [4242, 1, -66], [4242, 2, -45], [4242, 9, -35], [777, 3, -30]].sort(),
    'only fuelpay beacons, with their RSSI',
  )

  const w = resolveWhereabouts({ position: { lat: 52.52, lon: 13.405 }, stations: [STATION], beacons: seen })
  t.equal(w.station?.id, STATION.id, 'station from its beacon')
  t.equal(w.beaconPump, 2, 'strongest pump beacon of that station, among its real pumps')

  // The whole agent: "fill up" without a pump number, at pump 2's beacon.
  const cloud = fakeCloud()
  const station = fakeStation(cloud)
  const agent = createVehicleAgent({
    log: silentLogger(),
    config: { vehicleId: 'car7', receiptRetryMs: 5 },
    cloud: cloud.client,
    mqtt: station.connector,
    location: { position: async () => ({ lat: 52.52, lon: 13.405 }), beacons: () => scanner.beacons() },
  })
  t.teardown(() => agent.close())
  const out = await agent.runUtterance('fill up with diesel', { answers: ['yes'] })
  t.equal(out.paid, true, `paid: ${out.code}`)
  t.match(out.replies.find((r) => r.key === 'readBack')?.text, /pump 2 \(the one you are at\), diesel/)
  t.equal(out.receipt?.pump, 2)

  // A pump said that is not at the car's station is refused, then asked for.
  const agent2 = createVehicleAgent({
    log: silentLogger(),
    config: { vehicleId: 'car7' },
    cloud: cloud.client,
    mqtt: station.connector,
    location: { position: async () => ({ lat: 52.52, lon: 13.405 }), beacons: () => scanner.beacons() },
  })
  t.teardown(() => agent2.close())
  const turn = await agent2.hear('pay for pump 9')
  t.match(turn.replies.map((r) => r.text).join(' '), /There is no pump 9 at Fuelpay Berlin Mitte/)
  t.notOk(cloud.calls.some((c) => c.method === 'requestFuelAuthorization' && (c.args[0] as { pump: number }).pump === 9), 'no hold for a pump elsewhere')
})
