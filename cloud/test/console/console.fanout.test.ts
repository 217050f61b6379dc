import { testDatabaseKind } from '@fuelpay/platform/test-db'
import t from 'tap'
import { fakeStation, openConsole, provisionOperator, startTestCloud, testDatabase } from './helpers.ts'

// Issue 6: several cloud replicas serve consoles from one database. An event
// written through one replica (its broker, its MQTT link, its outbox write)
// reaches a console connected to the other, through the outbox alone.
// Two processes cannot share one PGlite (it is one process's database), so on
// a machine without a PostgreSQL server there is no second replica to test.
const skip = (await testDatabaseKind()) === 'pglite' ? 'replicas share a PostgreSQL server; this run uses PGlite' : false
t.test('fan-out across two cloud instances on one PostgreSQL', { skip }, async (t) => {
  const tdb = await testDatabase(t)
  const one = await startTestCloud(t, tdb)
  const two = await startTestCloud(t, tdb)
  t.not(one.httpUrl, two.httpUrl)
  const op = await provisionOperator(one.httpUrl, 'op-fan', ['st-fan'])
  const other = await provisionOperator(two.httpUrl, 'op-other', ['st-other'])

  const onTwo = await openConsole(two.httpUrl, { apiKey: op.apiKey })
  t.teardown(() => onTwo.close())
  const onOne = await openConsole(one.httpUrl, { apiKey: op.apiKey })
  t.teardown(() => onOne.close())
  const otherOnTwo = await openConsole(two.httpUrl, { apiKey: other.apiKey })
  t.teardown(() => otherOnTwo.close())
  await onTwo.next('snapshot')
  await onOne.next('snapshot')
  await otherOnTwo.next('snapshot')

  // The station is connected to replica one's broker only.
  const station = await fakeStation(one, 'st-fan')
  t.teardown(() => station.close())
  await station.pumpState({ pump: 2, state: 'fueling', grade: 'unleaded95', unitPriceMilli: 1859, volumeMilli: 20_000, amountMinor: 3718, currency: 'EUR' })
  const viaTwo = await onTwo.next('pump', (p) => p.pump.stationId === 'st-fan' && p.pump.state === 'fueling', 20_000)
  t.equal(viaTwo.pump.amountText, '37.18 EUR', 'the tick written by replica one reaches a console on replica two')
  const viaOne = await onOne.next('pump', (p) => p.pump.stationId === 'st-fan' && p.pump.state === 'fueling', 20_000)
  t.equal(viaOne.pump.amountText, '37.18 EUR', 'and the console on replica one')

  await station.status(false)
  await onTwo.next('alert', (a) => a.alert.kind === 'station-offline' && a.alert.stationId === 'st-fan', 20_000)
  t.pass('alerts follow on replica two')

  // A command from replica one (its link talks to the broker the station is on).
  const id = 'fan-stop-1'
  onOne.send({ type: 'emergency-stop', id, stationId: 'st-fan', pump: 2 })
  const r = await onOne.next('result', (x) => x.id === id, 20_000)
  t.equal(r.ok, true, JSON.stringify(r))
  t.same(station.commands.at(-1)?.command, { op: 'emergency-stop', pump: 2 })

  t.notOk(
    otherOnTwo.frames.some((f) => (f.type === 'pump' && f.pump.stationId === 'st-fan') || (f.type === 'alert' && f.alert.stationId === 'st-fan')),
    'the other operator on replica two saw nothing of it',
  )
})
