import {
  amountForVolume,
  importPublicKey,
  type PumpAuthorizedMessage,
  type SessionEndedMessage,
  verifySaleRecord,
} from '@fuelpay/proto'
import t from 'tap'
import {
  makeToken,
  startRestartWorld,
  startStation,
  until,
} from './helpers/station-fixture.ts'

// A delivery the controller ends itself (here: maximum session length) is sold
// to its last drop: the sale's volume is the totalizer difference up to the
// moment the delivery really ended (hang-up), even across a controller crash
// between the stop and the hang-up (design: the cloud captures exactly what was pumped).
const world = await startRestartWorld()
const { cloudKey, broker, cloud, car, journalDb } = world
t.teardown(world.close)
// Long settle time: the sale waits for the hang-up, not the bound.
const limits = {
  nozzleTimeoutMs: 60_000,
  noFlowTimeoutMs: 60_000,
  maxSessionMs: 600,
  valveSettleMs: 60_000,
}

t.test('fuel that flows while the valve closes is in the sale', async (t) => {
  const st = await startStation({
    stationId: 'st7',
    brokerUrl: broker.url,
    cloudUrl: cloud.url,
    config: { limits },
    dispenser: { flowRateMilliPerS: 5_000 },
  })
  t.teardown(() => st.close())
  const pub = await importPublicKey(st.stationKey.publicJwk)
  const token = await makeToken(cloudKey, { stationId: 'st7', pump: 1, vehicleId: 'car7' })
  const rid = car.authorize('st7', 1, token)
  const ok = await car.waitFor<PumpAuthorizedMessage>(
    (m) => m.type === 'pump-authorized' && m.requestId === rid,
  )
  const d = st.pump(1)
  const start = d.totalizerMilli
  d.lift('diesel')
  // The controller ends the session on its maximum length and closes the valve.
  await until('valve closed', async () => {
    await st.controller.settled()
    return st.controller.state(1)?.name !== 'fueling'
  })
  await new Promise((r) => setTimeout(r, 100))
  await st.controller.settled()
  d.hangUp()
  const ended = await car.waitFor<SessionEndedMessage>(
    (m) => m.type === 'session-ended' && m.sessionId === ok.sessionId,
  )
  t.equal(ended.reason.code, 'MAX_DURATION')
  const r = await verifySaleRecord(ended.saleJws, () => (pub.ok ? pub.value : undefined))
  if (!r.ok) throw new Error(r.reason.code)
  const sale = r.value
  t.equal(sale.outcome, 'timeout')
  t.equal(sale.totalizerStartMilli, start)
  t.equal(sale.totalizerEndMilli, d.totalizerMilli, 'measured to the hang-up')
  t.equal(sale.volumeMilli, d.totalizerMilli - start, 'every millilitre the pump counted')
  t.equal(sale.amountMinor, amountForVolume(sale.volumeMilli, 1799, 'EUR'))
  await until('delivered', () => cloud.sales.some((s) => s.idempotencyKey === ok.sessionId))
})

t.test(
  'a controller that dies between the stop and the hang-up sells the whole delivery once',
  async (t) => {
    const st = await startStation({
      stationId: 'st8',
      brokerUrl: broker.url,
      cloudUrl: cloud.url,
      journalDb,
      config: { limits },
      dispenser: { flowRateMilliPerS: 5_000 },
    })
    let stOpen = true
    t.teardown(() => (stOpen ? st.close() : undefined))
    const token = await makeToken(cloudKey, {
      stationId: 'st8',
      pump: 1,
      vehicleId: 'car7',
      sessionId: 'ses_closing_crash_1',
    })
    const rid = car.authorize('st8', 1, token)
    await car.waitFor<PumpAuthorizedMessage>(
      (m) => m.type === 'pump-authorized' && m.requestId === rid,
    )
    const d = st.pump(1)
    const start = d.totalizerMilli
    d.lift('diesel')
    await until('valve closed', async () => {
      await st.controller.settled()
      return st.controller.state(1)?.name !== 'fueling'
    })
    await st.controller.settled()
    const atStop = d.totalizerMilli
    // The controller dies; meanwhile the last fuel passes and the driver hangs up.
    stOpen = false
    await st.close()
    const drops = 700
    const st2 = await startStation({
      stationId: 'st8',
      brokerUrl: broker.url,
      cloudUrl: cloud.url,
      journalDb,
      config: { limits },
      dispenser: { flowRateMilliPerS: 5_000, totalizerMilli: atStop + drops },
    })
    t.teardown(() => st2.close())
    await until('forwarded', () =>
      cloud.sales.some((s) => s.idempotencyKey === 'ses_closing_crash_1'),
    )
    const sales = await st2.journal.listSales()
    t.equal(sales.length, 1, 'one sale')
    const sale = sales[0]?.sale
    t.equal(sale?.outcome, 'timeout', 'as the controller ended it')
    t.equal(sale?.totalizerEndMilli, atStop + drops)
    t.equal(sale?.volumeMilli, atStop + drops - start, 'the whole delivery, from the totalizer')
    t.equal(sale?.amountMinor, amountForVolume(atStop + drops - start, 1799, 'EUR'))
    await new Promise((r) => setTimeout(r, 300))
    await st2.controller.settled()
    t.equal((await st2.journal.listSales()).length, 1, 'still one')
    t.equal(cloud.sales.filter((s) => s.idempotencyKey === 'ses_closing_crash_1').length, 1)
    t.equal(st2.controller.state(1)?.name, 'idle')
  },
)
