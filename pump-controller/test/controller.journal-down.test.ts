import { connectMqtt } from '@fuelpay/platform'
import {
  decode,
  encode,
  type PumpAuthorizedMessage,
  type StationCommandResultMessage,
  topics,
} from '@fuelpay/proto'
import t from 'tap'
import type { Journal } from '../src/journal/journal.repository.ts'
import { makeToken, startStationWorld, until } from './helpers/station-fixture.ts'

// The journal going away must not keep a pump running: an operator's stop (and the
// controller's own stops) close the valve first; the pump state is journaled when it can be.
const failing = { savePump: false }
const w = await startStationWorld({
  stationId: 'st11',
  dispenser: { flowRateMilliPerS: 5_000 },
  wrapJournal: (j: Journal): Journal => ({
    ...j,
    async savePump(state, nowMs) {
      if (failing.savePump) throw new Error('disk full')
      return j.savePump(state, nowMs)
    },
  }),
})
t.teardown(w.close)
const { cloudKey, station, car } = w
const consoleClient = await connectMqtt(w.broker.url, { clientId: 'cloud-console', clean: true })
const results: StationCommandResultMessage[] = []
consoleClient.on('message', (topic, payload) => {
  const d = decode(topic, payload)
  if (d.ok && d.value.message.type === 'station-command-result') results.push(d.value.message)
})
await consoleClient.subscribeAsync(topics.stationCommandResult('st11'), { qos: 1 })
t.teardown(() => consoleClient.endAsync())

t.test('an emergency stop closes the valve while the journal cannot be written', async (t) => {
  const token = await makeToken(cloudKey, { stationId: 'st11', pump: 1, vehicleId: 'car7' })
  const rid = car.authorize('st11', 1, token)
  const ok = await car.waitFor<PumpAuthorizedMessage>(
    (m) => m.type === 'pump-authorized' && m.requestId === rid,
  )
  const d = station.pump(1)
  d.lift('diesel')
  await until('fuel flows', () => d.deliveryVolumeMilli >= 500)

  failing.savePump = true
  consoleClient.publish(
    topics.stationCommand('st11'),
    encode(topics.stationCommand('st11'), {
      type: 'station-command',
      commandId: 'cmd-estop-disk-full',
      command: { op: 'emergency-stop', pump: 1 },
    }),
    { qos: 1 },
  )
  await until('the stop is answered', () =>
    results.some((r) => r.commandId === 'cmd-estop-disk-full'),
  )
  await station.controller.settled()
  const stoppedAt = d.deliveryVolumeMilli
  await new Promise((r) => setTimeout(r, 300))
  t.equal(d.deliveryVolumeMilli, stoppedAt, 'no fuel flows after the stop')
  t.equal(station.controller.state(1)?.name, 'suspended')

  // The journal comes back: the stop is journaled without another command.
  failing.savePump = false
  await until('the stop is journaled', async () => {
    const saved = (await station.journal.loadPumps()).get(1)
    return saved?.name === 'suspended' && saved.stopped === true
  })
  d.hangUp()
  await car.waitFor((m) => m.type === 'session-ended' && m.sessionId === ok.sessionId)
})
