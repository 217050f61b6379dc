import { readFile } from 'node:fs/promises'
import { silentLogger } from '@fuelpay/platform'
import { type Message, REASONS, type ReasonCode, amountForVolume, importSigningKey } from '@fuelpay/proto'
import {
  connectStationLink,
  createCloudClient,
  createPumpController,
  createSimulatedDispenser,
  DEFAULT_LIMITS,
  openJournal,
} from '@fuelpay/pump-controller'
import t, { type Test } from 'tap'
import { adminGet, type Car, connectCar, eventually, fuelAuthorization, startWorld } from './helpers/fixture.ts'

/**
 * Issue 4, "done when": integration over TCP against the cloud's broker with
 * the real pump controller process. A car (an MQTT client with its own
 * cloud-issued broker login) presents real pump authorizations from
 * POST /v1/fuel-authorizations: one paid fueling end to end, and every
 * rejection reason reaching the car as pump-rejected with proto's code.
 *
 * Pump authorizations live 1 s here (FUELPAY_PUMP_AUTHORIZATION_TTL_S), so
 * the token for the expiry case, taken first, is past its expiry plus the
 * tolerated clock skew by the end of the file.
 */
const TOKEN_TTL_S = 1
const SKEW_S = 30

const rejected = (requestId: string) => (m: Message) => m.type === 'pump-rejected' && m.requestId === requestId

function isRejection(t: Test, m: Message, code: ReasonCode, what: string) {
  if (m.type !== 'pump-rejected') return t.fail(`${what}: expected pump-rejected, got ${m.type}`)
  t.equal(m.reason.code, code, `${what}: ${code}`)
  t.equal(m.reason.number, REASONS[code].number, `${what}: proto number ${REASONS[code].number}`)
}

t.test('the pump controller process over the cloud broker: a paid fueling and every rejection', async (t) => {
  const world = await startWorld({ cloudEnv: { FUELPAY_PUMP_AUTHORIZATION_TTL_S: String(TOKEN_TTL_S) } })
  t.teardown(world.close)
  const cars: Car[] = []
  t.teardown(async () => {
    for (const c of cars) await c.close()
  })
  // The simulated driver lifts the nozzle 500 ms after authorization and takes 3 L at 3 L/s.
  const simArgs = ['--sim-auto-lift-ms', '500', '--sim-fill-milli', '3000', '--sim-flow-rate', '3000']
  await world.startController(simArgs)
  const stationB = await world.provisionStation('st-b')
  const vehicleB = await world.provisionVehicle('car-b')
  await world.startStationController(stationB, simArgs)
  const car = await connectCar(world, world.vehicle)
  const carB = await connectCar(world, vehicleB)
  cars.push(car, carB)
  const A = world.station

  // Taken now, presented at the end: expired by then.
  const forLater = await fuelAuthorization(world, world.vehicle, { station: A, pump: 1, amountMinor: 1000 })

  await t.test('authorize, fuel, complete, capture', async (t) => {
    const auth = await fuelAuthorization(world, world.vehicle, { station: A, pump: 1, amountMinor: 2000, grade: 'diesel' })
    const requestId = await car.authorize(A, 1, auth.token)
    const ok = await car.waitFor((m) => m.type === 'pump-authorized' && m.requestId === requestId || rejected(requestId)(m))
    t.equal(ok.type, 'pump-authorized', 'the pump takes the token')
    if (ok.type === 'pump-authorized') {
      t.equal(ok.sessionId, auth.sessionId)
      t.equal(ok.presetAmountMinor, 2000)
    }
    await car.waitFor((m) => m.type === 'progress' && m.sessionId === auth.sessionId && m.volumeMilli > 0)
    const done = await car.waitFor((m) => m.type === 'completed' && m.sessionId === auth.sessionId)
    if (done.type !== 'completed') return
    t.equal(done.sale.volumeMilli, 3000)
    t.equal(done.sale.amountMinor, amountForVolume(3000, 1799, 'EUR'))
    t.equal(done.sale.vehicleId, world.vehicle.id)
    const session = await eventually('capture', async () => {
      const s = await adminGet(world.httpUrl, world.adminToken, `/v1/sessions/${auth.sessionId}`)
      return s.state === 'captured' ? s : undefined
    })
    t.equal(session.capturedMinor, done.sale.amountMinor, 'the cloud captured what was pumped')
    t.equal(session.releasedMinor, 2000 - done.sale.amountMinor, 'and released the rest')

    await t.test('the same token again is refused: TOKEN_REPLAYED', async (t) => {
      const again = await car.authorize(A, 1, auth.token)
      isRejection(t, await car.waitFor(rejected(again)), 'TOKEN_REPLAYED', 'replay')
    })
  })

  await t.test('a token for station A at station B: WRONG_STATION', async (t) => {
    const auth = await fuelAuthorization(world, world.vehicle, { station: A, pump: 1, amountMinor: 1000 })
    const requestId = await car.authorize(stationB, 1, auth.token)
    const m = await car.waitFor(rejected(requestId))
    isRejection(t, m, 'WRONG_STATION', 'wrong station')
    t.ok(car.inbox.some((x) => x.message === m && x.topic.includes(`/st/${stationB.id}/`)), 'answered by station B')
  })

  await t.test('a token for pump 1 at pump 2: WRONG_PUMP', async (t) => {
    const auth = await fuelAuthorization(world, world.vehicle, { station: A, pump: 1, amountMinor: 1000 })
    const requestId = await car.authorize(A, 2, auth.token)
    isRejection(t, await car.waitFor(rejected(requestId)), 'WRONG_PUMP', 'wrong pump')
  })

  await t.test("another vehicle presents the car's token: WRONG_VEHICLE", async (t) => {
    const auth = await fuelAuthorization(world, world.vehicle, { station: A, pump: 1, amountMinor: 1000 })
    const requestId = await carB.authorize(A, 1, auth.token)
    isRejection(t, await carB.waitFor(rejected(requestId)), 'WRONG_VEHICLE', 'other vehicle')
    t.notOk(car.inbox.some((x) => x.message.type === 'pump-rejected' && x.message.requestId === requestId), 'the rightful car hears nothing of it')
    // The token is still good for its own car: the refusal did not use it up.
    const own = await car.authorize(A, 1, auth.token)
    const ok = await car.waitFor((m) => (m.type === 'pump-authorized' || m.type === 'pump-rejected') && m.requestId === own)
    t.equal(ok.type, 'pump-authorized')
    await car.waitFor((m) => m.type === 'completed' && m.sessionId === auth.sessionId)
  })

  await t.test('a second token while the pump is taken: PUMP_BUSY', async (t) => {
    const first = await fuelAuthorization(world, world.vehicle, { station: A, pump: 2, amountMinor: 1000 })
    const second = await fuelAuthorization(world, vehicleB, { station: A, pump: 2, amountMinor: 1000 })
    const r1 = await car.authorize(A, 2, first.token)
    const ok = await car.waitFor((m) => (m.type === 'pump-authorized' || m.type === 'pump-rejected') && m.requestId === r1)
    t.equal(ok.type, 'pump-authorized')
    const r2 = await carB.authorize(A, 2, second.token)
    isRejection(t, await carB.waitFor(rejected(r2)), 'PUMP_BUSY', 'busy pump')
    await car.waitFor((m) => m.type === 'completed' && m.sessionId === first.sessionId)
  })

  await t.test('a faulted pump: PUMP_FAULT (controller built in-process from the package, real cloud and broker)', async (t) => {
    // The controller program has no way to fault its simulated pumps from outside,
    // so this station runs the same factory in this process with a dispenser we can break.
    const stationF = await world.provisionStation('st-fault')
    const key = await importSigningKey(JSON.parse(await readFile(stationF.keyFile, 'utf8')))
    const log = silentLogger()
    const cloud = createCloudClient({ baseUrl: world.httpUrl, stationId: stationF.id, key })
    const link = await connectStationLink({ cloud, stationId: stationF.id, pumps: 1, log, brokerUrl: world.mqttUrl })
    const driver = createSimulatedDispenser({ pump: 1, grades: ['diesel', 'unleaded95'] })
    const { journal, close } = await openJournal({ url: world.databaseUrl, schema: 'pc_st_fault' })
    const controller = createPumpController({
      log,
      config: {
        stationId: stationF.id,
        currency: 'EUR',
        volumeUnit: 'L',
        pumps: [{ pump: 1, prices: { diesel: 1799, unleaded95: 1859 } }],
        limits: DEFAULT_LIMITS,
        tickMs: 100,
        heartbeatMs: 30_000,
        progressIntervalMs: 200,
      },
      link,
      drivers: [driver],
      journal,
      cloud,
      stationKey: key,
    })
    t.teardown(async () => {
      await controller.stop()
      await link.end()
      await driver.close()
      await close()
    })
    await controller.start()
    driver.injectFault('pulser-error')
    await eventually('pump fault', async () => (controller.state(1)?.name === 'fault' ? true : undefined), 10_000, 50)
    const auth = await fuelAuthorization(world, world.vehicle, { station: stationF, pump: 1, amountMinor: 1000 })
    const requestId = await car.authorize(stationF, 1, auth.token)
    isRejection(t, await car.waitFor(rejected(requestId)), 'PUMP_FAULT', 'faulted pump')
    t.equal(driver.authorized, undefined, 'the dispenser was never armed')
  })

  await t.test('an expired token: TOKEN_EXPIRED', async (t) => {
    const claims = JSON.parse(Buffer.from(forLater.token.split('.')[1] as string, 'base64url').toString()) as { exp: number }
    const waitMs = (claims.exp + SKEW_S + 1) * 1000 - Date.now()
    t.ok(waitMs < 40_000, 'bounded wait')
    if (waitMs > 0) await new Promise((r) => setTimeout(r, waitMs))
    const requestId = await car.authorize(A, 1, forLater.token)
    isRejection(t, await car.waitFor(rejected(requestId)), 'TOKEN_EXPIRED', 'expired')
  })

  const ledger = await adminGet(world.httpUrl, world.adminToken, '/v1/admin/ledger/verify')
  t.equal(ledger.ok, true, 'ledger balances and matches the sessions')
})
