import {
  amountForVolume,
  CLOCK_SKEW_S,
  type CompletedMessage,
  generateSigningKey,
  importPublicKey,
  type PumpAuthorizedMessage,
  type PumpRejectedMessage,
  verifySaleRecord,
} from '@fuelpay/proto'
import t from 'tap'
import { closeInOrder, connectVehicle, makeToken, startStationWorld, until } from '../helpers/station-fixture.ts'

const w = await startStationWorld({ stationId: 'st1' })
const { cloudKey, cloud, station, car } = w
const thief = await connectVehicle(w.broker.url, 'car8')
t.teardown(() =>
  closeInOrder([
    ['thief', () => thief.close()],
    ['world', () => w.close()],
  ]),
)

const stationPub = await importPublicKey(station.stationKey.publicJwk)
const stationKeys = () => (stationPub.ok ? stationPub.value : undefined)

const isReply = (requestId: string) => (m: { type: string; requestId?: string }) =>
  (m.type === 'pump-authorized' || m.type === 'pump-rejected') && m.requestId === requestId

t.test('authorize, fuel to the preset, hang up, completed, sale delivered', async (t) => {
  const token = await makeToken(cloudKey, {
    stationId: 'st1',
    pump: 1,
    vehicleId: 'car7',
    maxAmountMinor: 1000,
    grades: ['diesel'],
  })
  const requestId = car.authorize('st1', 1, token)
  const ok = await car.waitFor<PumpAuthorizedMessage>(isReply(requestId))
  t.equal(ok.type, 'pump-authorized')
  t.equal(ok.presetAmountMinor, 1000)
  t.same(ok.grades, ['diesel'])
  t.equal(station.controller.state(1)?.name, 'authorized')
  const pump = station.pump(1)
  t.ok(pump.lift('diesel'))
  const preset = pump.authorized?.[0]?.presetVolumeMilli ?? 0
  await until('preset reached', () => pump.deliveryVolumeMilli >= preset)
  await station.controller.settled()
  t.equal(station.controller.state(1)?.name, 'fueling')
  t.ok(pump.hangUp())
  const done = await car.waitFor<CompletedMessage>(
    (m) => m.type === 'completed' && m.sessionId === ok.sessionId,
  )
  t.equal(done.sale.volumeMilli, preset)
  t.equal(done.sale.amountMinor, amountForVolume(preset, 1799, 'EUR'))
  t.ok(done.sale.amountMinor <= 1000, 'never above the hold')
  t.equal(done.sale.outcome, 'completed')
  const verified = await verifySaleRecord(done.saleJws, () => stationKeys())
  t.ok(verified.ok, 'sale signed by the station key')
  await until('sale delivered', () => cloud.sales.some((s) => s.idempotencyKey === ok.sessionId))
  t.match(cloud.sales.find((s) => s.idempotencyKey === ok.sessionId)?.authorization, /^Bearer /)
  await until('backlog empty', async () => (await station.journal.backlog()) === 0)
})

t.test(
  'a duplicate authorize with the same requestId gets the same answer, no second activation',
  async (t) => {
    const token = await makeToken(cloudKey, { stationId: 'st1', pump: 2, vehicleId: 'car7' })
    const requestId = car.authorize('st1', 2, token)
    const first = await car.waitFor<PumpAuthorizedMessage>(isReply(requestId))
    const before = car.inbox.length
    car.authorize('st1', 2, token, requestId)
    await until('second answer', () => car.inbox.slice(before).some(isReply(requestId)))
    const second = car.inbox.slice(before).find(isReply(requestId)) as PumpAuthorizedMessage
    t.equal(second.type, 'pump-authorized')
    t.equal(second.sessionId, first.sessionId)
    // the same token under a new request id is a replay
    const again = car.authorize('st1', 2, token)
    const r = await car.waitFor<PumpRejectedMessage>(isReply(again))
    t.equal(r.type, 'pump-rejected')
    t.equal(r.reason.code, 'TOKEN_REPLAYED')
    // cancel before flow
    const cancelId = car.cancel('st1', 2, first.sessionId)
    const ended = await car.waitFor(
      (m) => m.type === 'session-ended' && m.sessionId === first.sessionId,
    )
    t.equal((ended as { reason: { code: string } }).reason.code, 'CANCELLED')
    t.ok(cancelId)
    await until('zero sale delivered', () =>
      cloud.sales.some((s) => s.idempotencyKey === first.sessionId),
    )
    await station.controller.settled()
  },
)

t.test('rejections', async (t) => {
  const now = Date.now()
  const nowS = Math.floor(now / 1000)
  const cases: [string, () => Promise<string>, string, string?][] = [
    [
      'expired',
      () =>
        makeToken(cloudKey, {
          stationId: 'st1',
          pump: 1,
          vehicleId: 'car7',
          iat: nowS - 600,
          exp: nowS - 120 - CLOCK_SKEW_S,
        }),
      'TOKEN_EXPIRED',
    ],
    [
      'wrong station',
      () => makeToken(cloudKey, { stationId: 'st2', pump: 1, vehicleId: 'car7' }),
      'WRONG_STATION',
    ],
    [
      'wrong pump',
      () => makeToken(cloudKey, { stationId: 'st1', pump: 2, vehicleId: 'car7' }),
      'WRONG_PUMP',
    ],
    [
      'another vehicle presenting the token',
      () => makeToken(cloudKey, { stationId: 'st1', pump: 1, vehicleId: 'car7' }),
      'WRONG_VEHICLE',
      'thief',
    ],
    [
      'unknown key',
      async () =>
        makeToken(await generateSigningKey('rogue'), {
          stationId: 'st1',
          pump: 1,
          vehicleId: 'car7',
        }),
      'TOKEN_UNKNOWN_KEY',
    ],
    ['garbage token', async () => 'not-a-token-at-all-xxxxxxxx', 'TOKEN_MALFORMED'],
  ]
  for (const [name, mk, code, who] of cases) {
    const token = await mk()
    const v = who === 'thief' ? thief : car
    const requestId = v.authorize('st1', 1, token)
    const r = await v.waitFor<PumpRejectedMessage>(isReply(requestId))
    t.equal(r.type, 'pump-rejected', name)
    t.equal(r.reason.code, code, name)
  }
  t.equal(station.controller.state(1)?.name === 'authorized', false, 'nothing was authorized')
})

t.test('pump busy and pump faulted', async (t) => {
  const token = await makeToken(cloudKey, { stationId: 'st1', pump: 1, vehicleId: 'car7' })
  const requestId = car.authorize('st1', 1, token)
  const ok = await car.waitFor<PumpAuthorizedMessage>(isReply(requestId))
  t.equal(ok.type, 'pump-authorized')
  const busyToken = await makeToken(cloudKey, { stationId: 'st1', pump: 1, vehicleId: 'car8' })
  const busyId = thief.authorize('st1', 1, busyToken)
  const busy = await thief.waitFor<PumpRejectedMessage>(isReply(busyId))
  t.equal(busy.reason.code, 'PUMP_BUSY')
  // a fault ends the authorized session with a zero sale
  station.pump(1).injectFault('pulser-error')
  await car.waitFor((m) => m.type === 'session-ended' && m.sessionId === ok.sessionId)
  await station.controller.settled()
  t.equal(station.controller.state(1)?.name, 'fault')
  const faultToken = await makeToken(cloudKey, { stationId: 'st1', pump: 1, vehicleId: 'car7' })
  const faultId = car.authorize('st1', 1, faultToken)
  const faulted = await car.waitFor<PumpRejectedMessage>(isReply(faultId))
  t.equal(faulted.reason.code, 'PUMP_FAULT')
  station.pump(1).clearFault('pulser-error')
  await until('idle again', () => station.controller.state(1)?.name === 'idle')
})
