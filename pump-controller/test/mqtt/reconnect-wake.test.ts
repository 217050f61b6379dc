import type { PumpAuthorizedMessage } from '@fuelpay/proto'
import t from 'tap'
import { makeToken, startStationWorld, until } from '../helpers/station-fixture.ts'

// A station whose network comes back delivers its queued sales at once: the
// MQTT reconnect wakes the sale forwarder, which would otherwise sleep out
// its backoff (here at least 30 s, so only the wake can deliver in time).
const w = await startStationWorld({ stationId: 'st9', retry: { baseDelayMs: 30_000, maxDelayMs: 60_000 } })
t.teardown(w.close)
const { cloudKey, cloud, station, car } = w

t.test('a reconnect wakes the sale forwarder out of its backoff', async (t) => {
  cloud.state.salesMode = 'down'
  const token = await makeToken(cloudKey, { stationId: 'st9', pump: 1, vehicleId: 'car7' })
  const rid = car.authorize('st9', 1, token)
  const ok = await car.waitFor<PumpAuthorizedMessage>(
    (m) => m.type === 'pump-authorized' && (m as PumpAuthorizedMessage).requestId === rid,
  )
  car.cancel('st9', 1, ok.sessionId)
  await car.waitFor((m) => m.type === 'session-ended' && m.sessionId === ok.sessionId)
  // The first attempt fails (cloud down); the next is 30-60 s away.
  await until('a delivery attempt failed', async () => {
    const sale = await station.journal.nextPendingSale()
    return (sale?.attempts ?? 0) > 0
  })
  t.equal(await station.journal.backlog(), 1, 'the sale is queued')
  t.equal(cloud.sales.length, 0)

  cloud.state.salesMode = 'ok'
  await w.stopBroker()
  await until('station sees the loss', () => !station.link.connected)
  await w.startBrokerAgain()
  await until('station reconnected', () => station.link.connected, 15_000)
  await until('delivered after the reconnect', () => cloud.sales.some((s) => s.idempotencyKey === ok.sessionId), 10_000)
  // The stub records the sale as it arrives; the station marks it delivered on the answer.
  await until('nothing left queued', async () => (await station.journal.backlog()) === 0, 5_000)
  t.equal(cloud.sales.filter((s) => s.idempotencyKey === ok.sessionId).length, 1, 'delivered once')
})
