import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import type { DriverEvent } from '../../src/pump/pump-driver.ts'
import { createSimulatedDispenser } from '../../src/pump/simulated-dispenser.ts'

const until = async (what: string, fn: () => boolean, timeoutMs = 5000) => {
  const end = Date.now() + timeoutMs
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

t.test('flows only when armed and lifted, stops at the preset, totalizer only grows', async (t) => {
  const d = createSimulatedDispenser({
    pump: 1,
    grades: ['diesel', 'unleaded95'],
    flowRateMilliPerS: 100_000,
    tickMs: 5,
    totalizerMilli: 500,
  })
  t.teardown(() => d.close())
  const events: DriverEvent[] = []
  d.subscribe((e) => events.push(e))
  t.ok(d.lift('diesel'), 'lift without authorization')
  await new Promise((r) => setTimeout(r, 50))
  t.equal(d.totalizerMilli, 500, 'no flow without authorization')
  t.ok(d.hangUp())
  await d.authorize([{ grade: 'diesel', unitPriceMilli: 1799, presetVolumeMilli: 2_345 }])
  t.notOk(d.lift('lpg'), 'no such nozzle')
  t.ok(d.lift('unleaded95'))
  await new Promise((r) => setTimeout(r, 50))
  t.equal(d.deliveryVolumeMilli, 0, 'a grade not armed does not flow')
  d.hangUp()
  await d.authorize([{ grade: 'diesel', unitPriceMilli: 1799, presetVolumeMilli: 2_345 }])
  t.ok(d.lift('diesel'))
  await until('preset', () => d.deliveryVolumeMilli === 2_345)
  await new Promise((r) => setTimeout(r, 30))
  t.equal(d.deliveryVolumeMilli, 2_345, 'stops exactly at the preset')
  t.equal(d.totalizerMilli, 500 + 2_345)
  t.ok(d.hangUp())
  const flows = events
    .filter((e) => e.type === 'flow')
    .map((e) => (e as { totalizerMilli: number }).totalizerMilli)
  t.ok(
    flows.every((v, i) => i === 0 || v > (flows[i - 1] ?? 0)),
    'monotonic totalizer',
  )
  t.same(events.at(-1), { type: 'nozzle-hung-up', volumeMilli: 2_345, totalizerMilli: 2_845 })
  t.equal(d.authorized, undefined, 'hang-up disarms')
})

t.test('stop, release and resume', async (t) => {
  const d = createSimulatedDispenser({
    pump: 1,
    grades: ['diesel'],
    flowRateMilliPerS: 50_000,
    tickMs: 5,
  })
  t.teardown(() => d.close())
  await d.authorize([{ grade: 'diesel', unitPriceMilli: 1799, presetVolumeMilli: 1_000_000 }])
  d.lift()
  await until('some flow', () => d.deliveryVolumeMilli > 0)
  await d.stop()
  const v = d.deliveryVolumeMilli
  await new Promise((r) => setTimeout(r, 40))
  t.equal(d.deliveryVolumeMilli, v, 'stopped')
  await d.resume()
  await until('flowing again', () => d.deliveryVolumeMilli > v)
  d.release()
  const w = d.deliveryVolumeMilli
  await new Promise((r) => setTimeout(r, 40))
  t.equal(d.deliveryVolumeMilli, w, 'trigger released: no flow')
})

t.test('faults: pulser error, stuck nozzle, communication loss', async (t) => {
  const d = createSimulatedDispenser({
    pump: 1,
    grades: ['diesel'],
    flowRateMilliPerS: 50_000,
    tickMs: 5,
  })
  t.teardown(() => d.close())
  const events: DriverEvent[] = []
  d.subscribe((e) => events.push(e))
  d.injectFault('pulser-error')
  t.same(events.at(-1), { type: 'fault', fault: 'pulser-error' })
  t.equal((await d.read()).fault, 'pulser-error')
  d.clearFault('pulser-error')
  t.same(events.at(-1), { type: 'fault-cleared' })
  await d.authorize([{ grade: 'diesel', unitPriceMilli: 1799, presetVolumeMilli: 1_000_000 }])
  d.lift()
  d.injectFault('stuck-nozzle')
  t.notOk(d.hangUp(), 'a stuck nozzle does not hang up')
  d.clearFault('stuck-nozzle')
  t.ok(d.hangUp())
  await d.authorize([{ grade: 'diesel', unitPriceMilli: 1799, presetVolumeMilli: 3_000 }])
  d.lift()
  d.injectFault('comm-loss')
  t.same(events.at(-1), { type: 'comm-lost' })
  await t.rejects(d.stop(), 'commands fail while the link is down')
  t.equal((await d.read()).online, false)
  const n = events.length
  await until('pump keeps dispensing to its own preset', () => d.deliveryVolumeMilli === 3_000)
  t.equal(events.length, n, 'nothing reported while the link is down')
  d.clearFault('comm-loss')
  await until('restored', () => events.at(-1)?.type === 'comm-restored')
  const last = events.at(-1) as { reading: { totalizerMilli: number; online: boolean } }
  t.equal(last.reading.totalizerMilli, d.totalizerMilli)
  t.equal(last.reading.online, true)
})

t.test('the totalizer survives a restart (state file)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fuelpay-sim-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'pump-1.json')
  const a = createSimulatedDispenser({
    pump: 1,
    grades: ['diesel'],
    flowRateMilliPerS: 100_000,
    tickMs: 5,
    stateFile: file,
  })
  await a.authorize([{ grade: 'diesel', unitPriceMilli: 1799, presetVolumeMilli: 1_500 }])
  a.lift()
  await until('preset', () => a.deliveryVolumeMilli === 1_500)
  await a.close()
  const b = createSimulatedDispenser({ pump: 1, grades: ['diesel'], stateFile: file })
  t.teardown(() => b.close())
  const r = await b.read()
  t.equal(r.totalizerMilli, 1_500)
  t.equal(r.nozzleUp, false)
})

t.test('demo mode lifts, fills and hangs up by itself', async (t) => {
  const d = createSimulatedDispenser({
    pump: 1,
    grades: ['diesel'],
    flowRateMilliPerS: 100_000,
    tickMs: 5,
    autoLiftAfterMs: 10,
    autoFillMilli: 800,
    autoHangUpAfterMs: 10,
  })
  t.teardown(() => d.close())
  const events: DriverEvent[] = []
  d.subscribe((e) => events.push(e))
  await d.authorize([{ grade: 'diesel', unitPriceMilli: 1799, presetVolumeMilli: 5_000 }])
  await until('hung up', () => events.some((e) => e.type === 'nozzle-hung-up'))
  t.same(events.at(-1), { type: 'nozzle-hung-up', volumeMilli: 800, totalizerMilli: 800 })
  t.equal(events[0]?.type, 'nozzle-lifted')
})
