import type { PumpAuthorizedMessage } from '@fuelpay/proto'
import t from 'tap'
import { makeToken, startRestartWorld, startStation, until } from './helpers/station-fixture.ts'

// One pump whose journaled session cannot be recovered (its dispenser now
// reads a totalizer 20,000 L past the session's start: a swapped board, a
// corrupt reading) must not keep the station from starting: that pump starts
// in fault, the others serve.
const world = await startRestartWorld()
const { cloudKey, broker, cloud, car, journalDb } = world
t.teardown(world.close)

t.test('a pump whose session cannot be recovered starts in fault; the station and its other pumps start', async (t) => {
  const st = await startStation({ stationId: 'st6', brokerUrl: broker.url, cloudUrl: cloud.url, journalDb })
  let open = true
  t.teardown(() => (open ? st.close() : undefined))
  const token = await makeToken(cloudKey, { stationId: 'st6', pump: 1, vehicleId: 'car7', sessionId: 'ses_wild_1' })
  const rid = car.authorize('st6', 1, token)
  await car.waitFor<PumpAuthorizedMessage>((m) => m.type === 'pump-authorized' && m.requestId === rid)
  await st.controller.settled()
  open = false
  await st.close()

  // The pumps come back reading 20,000 L more than the session started at.
  // Its hardware is still armed from the last run (the controller died, the dispenser did not).
  const st2 = await startStation({
    stationId: 'st6', brokerUrl: broker.url, cloudUrl: cloud.url, journalDb, dispenser: { totalizerMilli: 20_000_000 },
    beforeStart: (ds) => ds[0]?.authorize([{ grade: 'diesel', presetVolumeMilli: 50_000, unitPriceMilli: 1799 }]),
  })
  t.teardown(() => st2.close())
  await st2.controller.settled()
  t.equal(st2.controller.state(1)?.name, 'fault', 'pump 1 starts in fault')
  t.equal(st2.pump(1).authorized, undefined, 'and its dispenser is disarmed: no delivery without a session')
  t.equal(st2.controller.state(2)?.name, 'idle', 'pump 2 serves')
  const token2 = await makeToken(cloudKey, { stationId: 'st6', pump: 2, vehicleId: 'car7', sessionId: 'ses_wild_2' })
  const rid2 = car.authorize('st6', 2, token2)
  const answer = await car.waitFor((m) => (m.type === 'pump-authorized' || m.type === 'pump-rejected') && m.requestId === rid2)
  t.equal(answer.type, 'pump-authorized', 'and authorizes')
  await until('pump 2 authorized', () => st2.controller.state(2)?.name === 'authorized')
})
