import { connectMqtt } from '@fuelpay/platform'
import {
  decode,
  encode,
  type PumpAuthorizedMessage,
  type StationCommandResultMessage,
  topics,
} from '@fuelpay/proto'
import t from 'tap'
import { startPrices } from '../src/controller.ts'
import {
  closeInOrder,
  makeToken,
  startRestartWorld,
  startStation,
  until,
} from './helpers/station-fixture.ts'

t.test(
  'startPrices: a changed configured price wins, an unchanged one leaves the journal',
  async (t) => {
    const configured = { diesel: 1899, unleaded95: 1859 }
    t.same(
      startPrices(
        configured,
        { diesel: 1799, unleaded95: 1999 },
        { diesel: 1799, unleaded95: 1859 },
      ),
      { diesel: 1899, unleaded95: 1999 },
      'diesel changed in the configuration; unleaded95 was set by the operator',
    )
    t.same(
      startPrices(configured, { diesel: 1799, lpg: 999 }, { diesel: 1799 }),
      { diesel: 1899, unleaded95: 1859 },
      'a new grade comes from the configuration; a grade no longer configured goes',
    )
    t.same(
      startPrices(configured, { diesel: 1799, unleaded95: 1999 }, undefined),
      { diesel: 1799, unleaded95: 1999 },
      'a journal from before configured prices were kept: its prices stand',
    )
  },
)

// The whole station, restarted on one journal with another configuration.
const STATION = 'st6'
const world = await startRestartWorld()
const { cloudKey, broker, cloud, car, journalDb } = world
const consoleClient = await connectMqtt(broker.url, { clientId: 'cloud-console6', clean: true })
const results: StationCommandResultMessage[] = []
consoleClient.on('message', (topic, payload) => {
  const d = decode(topic, payload)
  if (d.ok && d.value.message.type === 'station-command-result') results.push(d.value.message)
})
await consoleClient.subscribeAsync(topics.stationCommandResult(STATION), { qos: 1 })
t.teardown(() =>
  closeInOrder([
    ['console', () => consoleClient.endAsync()],
    ['world', world.close],
  ]),
)
const start = (prices1: Record<string, number>) =>
  startStation({
    stationId: STATION,
    brokerUrl: broker.url,
    cloudUrl: cloud.url,
    journalDb,
    config: {
      pumps: [
        { pump: 1, prices: prices1 },
        { pump: 2, prices: { diesel: prices1.diesel ?? 1799 } },
      ],
      // No auto-lift: an authorized session stays authorized across the restart.
      limits: { nozzleTimeoutMs: 600_000, noFlowTimeoutMs: 600_000, maxSessionMs: 900_000 },
    },
  })

t.test('configured prices take effect after a restart; operator prices survive one', async (t) => {
  const st1 = await start({ diesel: 1799, unleaded95: 1859 })
  consoleClient.publish(
    topics.stationCommand(STATION),
    encode(topics.stationCommand(STATION), {
      type: 'station-command',
      commandId: 'cmd-price-u95',
      command: { op: 'set-price', pump: 1, grade: 'unleaded95', unitPriceMilli: 1999 },
    }),
    { qos: 1 },
  )
  await until('set-price answered', () => results.some((r) => r.commandId === 'cmd-price-u95'))
  t.equal(st1.controller.state(1)?.prices.unleaded95, 1999)
  // A session authorized before the restart keeps the prices it was authorized at.
  const token = await makeToken(cloudKey, { stationId: STATION, pump: 2, vehicleId: 'car7' })
  const rid = car.authorize(STATION, 2, token)
  const ok = await car.waitFor<PumpAuthorizedMessage>(
    (m) => m.type === 'pump-authorized' && m.requestId === rid,
  )
  await st1.controller.settled()
  await st1.close()

  // The operator of the station edits the configuration: diesel goes up.
  const st2 = await start({ diesel: 1899, unleaded95: 1859 })
  t.same(
    st2.controller.state(1)?.prices,
    { diesel: 1899, unleaded95: 1999 },
    'the changed configured price wins; the operator price of an unchanged one stays',
  )
  t.equal(st2.controller.state(2)?.prices.diesel, 1899)
  const s = st2.controller.state(2)?.session
  t.equal(s?.sessionId, ok.sessionId, 'the session is recovered')
  t.equal(s?.grades[0]?.unitPriceMilli, 1799, 'at the price it was authorized at')
  await st2.close()

  // Started again with the same configuration: nothing moves.
  const st3 = await start({ diesel: 1899, unleaded95: 1859 })
  t.teardown(() => st3.close())
  t.same(st3.controller.state(1)?.prices, { diesel: 1899, unleaded95: 1999 })
})
