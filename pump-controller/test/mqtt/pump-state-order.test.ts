import { connectMqtt } from '@fuelpay/platform'
import { decode, encode, type PumpStateMessage, topics } from '@fuelpay/proto'
import t from 'tap'
import { startStationWorld, until } from '../helpers/station-fixture.ts'

// The cloud orders a pump's states by their stamp (it may hear them in
// another order); states sent within one millisecond must still be ordered.
t.test("a pump's states carry stamps that always increase, even within one millisecond", async (t) => {
  const frozen = Date.now()
  const w = await startStationWorld({ stationId: 'st-order', clock: { now: () => frozen } })
  const watcher = await connectMqtt(w.broker.url, { clientId: 'cloud-order', clean: true })
  t.teardown(async () => {
    await watcher.endAsync()
    await w.close()
  })
  const states: PumpStateMessage[] = []
  watcher.on('message', (topic, payload) => {
    const d = decode(topic, payload)
    if (d.ok && d.value.message.type === 'pump-state' && d.value.message.pump === 1) states.push(d.value.message)
  })
  await watcher.subscribeAsync(topics.pumpState('st-order', 1), { qos: 1 })
  await until('the retained idle state', () => states.length >= 1)
  const command = (commandId: string, command: object) =>
    watcher.publishAsync(topics.stationCommand('st-order'), encode(topics.stationCommand('st-order'), { type: 'station-command', commandId, command: command as never }), { qos: 1 })
  await command('order-stop-1', { op: 'emergency-stop', pump: 1 })
  await until('suspended', () => states.some((s) => s.state === 'suspended'))
  await command('order-resume-1', { op: 'resume', pump: 1 })
  await until('idle again', () => states.at(-1)?.state === 'idle' && states.length >= 3)
  t.same(states.map((s) => s.state).slice(-2), ['suspended', 'idle'])
  const stamps = states.map((s) => s.ts)
  t.ok(stamps.every((ts, i) => i === 0 || ts > (stamps[i - 1] as number)), `stamps increase: ${stamps.map((s) => s - frozen).join(', ')}`)
  t.ok(stamps.every((ts) => ts - frozen < 1000), 'and stay next to the clock')
})
