import { connectMqtt } from '@fuelpay/platform'
import {
  amountForVolume,
  type CompletedMessage,
  encode,
  importPublicKey,
  type PumpAuthorizedMessage,
  type SessionEndedMessage,
  type StationCommand,
  topics,
  verifySaleRecord,
} from '@fuelpay/proto'
import t from 'tap'
import { makeToken, startStationWorld, until } from '../helpers/station-fixture.ts'

const w = await startStationWorld({
  stationId: 'st4',
  dispenser: { flowRateMilliPerS: 5_000 },
  config: { limits: { nozzleTimeoutMs: 60_000, noFlowTimeoutMs: 500, maxSessionMs: 600_000 } },
})
t.teardown(w.close)
const { cloudKey, cloud, station, car } = w
const pub = await importPublicKey(station.stationKey.publicJwk)
const saleOf = async (jws: string | undefined) => {
  const r = await verifySaleRecord(jws, () => (pub.ok ? pub.value : undefined))
  if (!r.ok) throw new Error(r.reason.code)
  return r.value
}
const begin = async (pump: number) => {
  await until(`pump ${pump} idle`, async () => {
    await station.controller.settled()
    return station.controller.state(pump)?.name === 'idle'
  })
  const token = await makeToken(cloudKey, { stationId: 'st4', pump, vehicleId: 'car7' })
  const rid = car.authorize('st4', pump, token)
  const ok = await car.waitFor<PumpAuthorizedMessage>(
    (m) => m.type === 'pump-authorized' && m.requestId === rid,
  )
  const d = station.pump(pump)
  d.lift('diesel')
  await until('some fuel', () => d.deliveryVolumeMilli >= 300)
  return { ok, d }
}

t.test(
  'a pulser error mid-fueling ends the session with the volume so far (outcome fault)',
  async (t) => {
    const { ok, d } = await begin(1)
    d.injectFault('pulser-error')
    const ended = await car.waitFor<SessionEndedMessage>(
      (m) => m.type === 'session-ended' && m.sessionId === ok.sessionId,
    )
    t.equal(ended.reason.code, 'PUMP_FAULT')
    const sale = await saleOf(ended.saleJws)
    t.equal(sale.outcome, 'fault')
    t.equal(sale.volumeMilli, d.deliveryVolumeMilli)
    t.equal(sale.amountMinor, amountForVolume(sale.volumeMilli, 1799, 'EUR'))
    t.equal(station.controller.state(1)?.name, 'fault')
    d.clearFault('pulser-error')
    d.hangUp()
    await until('delivered', () => cloud.sales.some((s) => s.idempotencyKey === ok.sessionId))
  },
)

t.test(
  'communication lost mid-fueling: offline, then the totalizer settles the sale',
  async (t) => {
    const { ok, d } = await begin(2)
    d.injectFault('comm-loss')
    await until('offline', async () => {
      await station.controller.settled()
      return station.controller.state(2)?.name === 'offline'
    })
    // The dispenser keeps going under its own preset while we cannot see it; the driver hangs up.
    await until('more fuel unseen', () => d.deliveryVolumeMilli >= 1500)
    d.hangUp()
    const unseen = d.deliveryVolumeMilli
    d.clearFault('comm-loss')
    const done = await car.waitFor<CompletedMessage>(
      (m) => m.type === 'completed' && m.sessionId === ok.sessionId,
    )
    t.equal(done.sale.volumeMilli, unseen, 'all of it, from the totalizer')
    t.equal(done.sale.amountMinor, amountForVolume(unseen, 1799, 'EUR'))
  },
)

t.test('the driver stops squeezing: no-flow timeout ends the session', async (t) => {
  const { ok, d } = await begin(1)
  d.release()
  const ended = await car.waitFor<SessionEndedMessage>(
    (m) => m.type === 'session-ended' && m.sessionId === ok.sessionId,
  )
  t.equal(ended.reason.code, 'NO_FLOW_TIMEOUT')
  const sale = await saleOf(ended.saleJws)
  t.equal(sale.outcome, 'timeout')
  t.ok(sale.volumeMilli >= 300)
  d.hangUp()
})

t.test(
  'emergency stop mid-fueling pauses the flow; resume continues; hang-up completes',
  async (t) => {
    const ops = await connectMqtt(w.broker.url, { clientId: 'cloud-ops', clean: true })
    t.teardown(() => ops.endAsync())
    const command = (commandId: string, command: StationCommand) =>
      ops.publish(
        topics.stationCommand('st4'),
        encode(topics.stationCommand('st4'), { type: 'station-command', commandId, command }),
        { qos: 1 },
      )
    const { ok, d } = await begin(2)
    command('estop-mid-1', { op: 'emergency-stop', pump: 2 })
    await until('suspended', async () => {
      await station.controller.settled()
      return station.controller.state(2)?.name === 'suspended'
    })
    const paused = d.deliveryVolumeMilli
    await new Promise((r) => setTimeout(r, 150))
    t.equal(d.deliveryVolumeMilli, paused, 'valve closed')
    command('resume-mid-1', { op: 'resume', pump: 2 })
    await until('flowing again', () => d.deliveryVolumeMilli > paused)
    t.equal(station.controller.state(2)?.name, 'fueling')
    d.hangUp()
    const done = await car.waitFor<CompletedMessage>(
      (m) => m.type === 'completed' && m.sessionId === ok.sessionId,
    )
    t.equal(done.sale.outcome, 'completed')
    t.equal(done.sale.volumeMilli, d.deliveryVolumeMilli)
  },
)
