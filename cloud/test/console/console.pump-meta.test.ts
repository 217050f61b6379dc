import t from 'tap'
import { adminPost, fakeStation, openConsole, provisionOperator, startTestCloud, testDatabase } from './helpers.ts'

// Every pump frame carries the pump's prices and whether it is in service.
// An admin changes either without any console event (POST
// /v1/admin/stations/:id/prices, .../pumps/:pump/service): the pump's next
// state must show the price and service flag in force, not those of the
// first frame this process sent for the station.
t.test('pump frames follow price and service changes made outside the console', async (t) => {
  const tdb = await testDatabase(t)
  const cloud = await startTestCloud(t, tdb)
  const op = await provisionOperator(cloud.httpUrl, 'op-meta', ['st-meta'])
  const station = await fakeStation(cloud, 'st-meta')
  t.teardown(() => station.close())
  const c = await openConsole(cloud.httpUrl, { apiKey: op.apiKey })
  t.teardown(() => c.close())
  await c.next('snapshot')

  await station.pumpState({ pump: 1, state: 'idle', volumeMilli: 0, amountMinor: 0, currency: 'EUR' })
  const before = await c.next('pump', (f) => f.pump.pump === 1 && f.pump.state === 'idle')
  t.equal(before.pump.grades.find((g) => g.grade === 'diesel')?.priceText, '1.799 EUR/L')
  t.equal(before.pump.inService, true)

  await adminPost(cloud.httpUrl, '/v1/admin/stations/st-meta/prices', { pump: 1, grade: 'diesel', unitPriceMilli: 1899 })
  await adminPost(cloud.httpUrl, '/v1/admin/stations/st-meta/pumps/1/service', { inService: false })
  await station.pumpState({ pump: 1, state: 'fault', volumeMilli: 0, amountMinor: 0, currency: 'EUR' })
  const after = await c.next('pump', (f) => f.pump.pump === 1 && f.pump.state === 'fault')
  t.equal(after.pump.grades.find((g) => g.grade === 'diesel')?.priceText, '1.899 EUR/L', 'the new price')
  t.equal(after.pump.inService, false, 'out of service')
})
