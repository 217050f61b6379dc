import type {
  CompletedMessage,
  PumpAuthorizedMessage,
} from '@fuelpay/proto'
import t from 'tap'
import type { Journal } from '../src/journal/journal.repository.ts'
import {
  makeToken,
  startRestartWorld,
  startStation,
  until,
} from './helpers/station-fixture.ts'

// A sale whose journaling fails (the rest of the journal works) must survive
// the controller dying before a retry succeeds: the journaled pump state keeps
// it, and the next run records and forwards it, once.
const world = await startRestartWorld()
const { cloudKey, broker, cloud, car, journalDb } = world
t.teardown(world.close)

t.test('a sale not journaled before a crash is recorded and forwarded once after it', async (t) => {
  let failSale = true
  const st = await startStation({
    stationId: 'st5',
    brokerUrl: broker.url,
    cloudUrl: cloud.url,
    journalDb,
    wrapJournal: (j: Journal): Journal => ({
      ...j,
      async recordSale(input) {
        if (failSale) throw new Error('database hiccup (sales only)')
        return j.recordSale(input)
      },
    }),
  })
  let stOpen = true
  t.teardown(() => (stOpen ? st.close() : undefined))
  const token = await makeToken(cloudKey, {
    stationId: 'st5',
    pump: 1,
    vehicleId: 'car7',
    sessionId: 'ses_unrecorded_1',
  })
  const rid = car.authorize('st5', 1, token)
  await car.waitFor<PumpAuthorizedMessage>(
    (m) => m.type === 'pump-authorized' && m.requestId === rid,
  )
  st.pump(1).lift('diesel')
  await until('some fuel', () => st.pump(1).deliveryVolumeMilli >= 3000)
  st.pump(1).hangUp()
  const pumped = st.pump(1).totalizerMilli
  // The pump moves on (and its state is written again) while the sale is still not journaled.
  await until('idle again', async () => {
    await st.controller.settled()
    return st.controller.state(1)?.name === 'idle'
  })
  // A second session on the same pump writes the pump state in another transaction.
  const token2 = await makeToken(cloudKey, {
    stationId: 'st5',
    pump: 1,
    vehicleId: 'car7',
    sessionId: 'ses_unrecorded_2',
  })
  const rid2 = car.authorize('st5', 1, token2)
  await car.waitFor<PumpAuthorizedMessage>(
    (m) => m.type === 'pump-authorized' && m.requestId === rid2,
  )
  await st.controller.settled()
  t.same(await st.journal.listSales(), [], 'nothing journaled in pc_sales')
  t.equal(cloud.sales.length, 0)
  // The controller dies with the journal still refusing the sale.
  stOpen = false
  await st.close()

  failSale = false
  const st2 = await startStation({
    stationId: 'st5',
    brokerUrl: broker.url,
    cloudUrl: cloud.url,
    journalDb,
  })
  t.teardown(() => st2.close())
  const done = await car.waitFor<CompletedMessage>(
    (m) => m.type === 'completed' && m.sessionId === 'ses_unrecorded_1',
  )
  t.equal(done.sale.volumeMilli, pumped, 'the sale is what was pumped')
  await until('forwarded', () => cloud.sales.some((s) => s.idempotencyKey === 'ses_unrecorded_1'))
  const sales = await st2.journal.listSales()
  t.same(
    sales.map((s) => s.sessionId),
    ['ses_unrecorded_1'],
    'recorded once, before anything recovery ends',
  )
  t.equal(st2.controller.state(1)?.session?.sessionId, 'ses_unrecorded_2', 'the next session kept')
  // Ticks and a further write of the pump state do not record it again.
  await new Promise((r) => setTimeout(r, 300))
  await st2.controller.settled()
  t.equal((await st2.journal.listSales()).length, 1)
  t.equal(cloud.sales.filter((s) => s.idempotencyKey === 'ses_unrecorded_1').length, 1)
  const pumps = await st2.journal.loadPumps()
  t.notOk(
    (pumps.get(1) as { unrecordedSales?: unknown } | undefined)?.unrecordedSales,
    'the journaled pump state no longer carries it',
  )
})
