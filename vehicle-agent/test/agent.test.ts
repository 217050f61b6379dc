import { silentLogger } from '@fuelpay/platform'
import t from 'tap'
import { createVehicleAgent, memoryKeyStore } from '../src/agent.ts'
import { staticLocation } from '../src/location/location.ts'
import { fakeCloud, fakeStation, STATION } from './helpers/fakes.ts'

const here = { lat: STATION.lat, lon: STATION.lon }

function setup(cloudOpts: Parameters<typeof fakeCloud>[0] = {}, stationOpts: Parameters<typeof fakeStation>[1] = {}, beacons: Parameters<typeof staticLocation>[1] = []) {
  const cloud = fakeCloud(cloudOpts)
  const station = fakeStation(cloud, stationOpts)
  const keys = memoryKeyStore()
  const kept: string[] = []
  const agent = createVehicleAgent({
    log: silentLogger(),
    config: { vehicleId: 'car7', limits: { pumpReplyTimeoutMs: 300, answerTimeoutMs: 2000 }, receiptRetryMs: 5 },
    cloud: cloud.client,
    mqtt: station.connector,
    location: staticLocation(here, beacons),
    keys: {
      keep: (purpose, key, body) => {
        kept.push(key)
        keys.keep(purpose, key, body)
      },
      done: keys.done,
    },
  })
  return { cloud, station, agent, kept }
}

t.test('pay for pump 2: read-back, yes, authorize, fuel, verified sale, receipt', async (t) => {
  const { cloud, station, agent, kept } = setup()
  t.teardown(() => agent.close())
  const out = await agent.runUtterance('pay for pump 2', { answers: ['yes'] })
  t.equal(out.paid, true, `outcome ${out.code} ${out.message} ${JSON.stringify(out.replies.map((r) => r.text))}`)
  t.equal(out.receipt?.amountMinor, 3598)
  const readBack = out.replies.find((r) => r.key === 'readBack')
  t.match(readBack?.text, /Fuelpay Berlin Mitte, pump 2.*up to 100\.00 EUR.*visa ending 4242.*activate/)
  const hold = cloud.calls.find((c) => c.method === 'requestFuelAuthorization')
  t.ok(hold, 'asked for a hold')
  t.equal(kept[0], hold?.args[1], 'the idempotency key was kept before the request used it')
  const auth = station.published.find((p) => (p.message as { type: string }).type === 'authorize')
  t.equal(auth?.topic, 'fuelpay/v1/st/st-berlin-1/pump/2/req/car7')
  t.same(station.clients[0]?.subs, ['fuelpay/v1/st/+/pump/+/res/car7'])
  t.ok(out.replies.some((r) => r.key === 'receipt' && /Charged 35\.98 EUR to visa ending 4242/.test(r.text)))
})

t.test('a "no" at the read-back voids the hold and activates nothing', async (t) => {
  const { cloud, station, agent } = setup()
  t.teardown(() => agent.close())
  const out = await agent.runUtterance('Säule 2 bezahlen', { answers: ['nein'] })
  t.equal(out.paid, false)
  t.equal(out.code, 'CANCELLED')
  t.ok(cloud.calls.some((c) => c.method === 'cancelSession'), 'hold voided')
  t.notOk(station.published.some((p) => (p.message as { type: string }).type === 'authorize'), 'pump never activated')
  t.match(out.replies.at(-1)?.text, /Abgebrochen/)
})

t.test('a declined hold says why, in the driver language', async (t) => {
  const { agent } = setup({ decline: { code: 'INSUFFICIENT_FUNDS', number: 400, message: 'declined: insufficient funds' } })
  t.teardown(() => agent.close())
  const out = await agent.runUtterance('payer la pompe 2')
  t.equal(out.code, 'INSUFFICIENT_FUNDS')
  t.match(out.replies.at(-1)?.text, /Paiement refusé : provision insuffisante/)
})

t.test('the pump refuses: reason spoken, hold released', async (t) => {
  const { cloud, agent } = setup({}, { behaviour: { kind: 'reject', reason: { code: 'PUMP_BUSY', number: 300, message: 'pump is not idle' } } })
  t.teardown(() => agent.close())
  const out = await agent.runUtterance('pay for pump 1', { answers: ['yes'] })
  t.equal(out.code, 'PUMP_BUSY')
  t.match(out.replies.at(-1)?.text, /pump is busy/)
  t.ok(cloud.calls.some((c) => c.method === 'cancelSession'))
})

t.test('a silent pump: bounded wait, then cancel on MQTT and in the cloud', async (t) => {
  const { cloud, station, agent } = setup({}, { behaviour: { kind: 'silent' } })
  t.teardown(() => agent.close())
  const out = await agent.runUtterance('pay for pump 1', { answers: ['yes'] })
  t.equal(out.code, 'TIMEOUT')
  t.ok(cloud.calls.some((c) => c.method === 'cancelSession'))
  const types = station.published.map((p) => (p.message as { type: string }).type)
  t.ok(types.includes('cancel'), 'cancel published to the pump')
  const authorizes = station.published.filter((p) => (p.message as { type: string }).type === 'authorize') as { message: { requestId: string } }[]
  t.ok(authorizes.length >= 1)
  t.equal(new Set(authorizes.map((a) => a.message.requestId)).size, 1, 'a republish keeps the requestId')
})

t.test('cancel while waiting for the nozzle', async (t) => {
  const { cloud, station, agent } = setup({}, { behaviour: { kind: 'authorize-only' } })
  t.teardown(() => agent.close())
  await agent.hear('pay for pump 2')
  const turn = await agent.hear('yes')
  // Wait (bounded by the machine's timers) until the pump is ready.
  while (agent.state().phase === 'authorizing') await new Promise((r) => setTimeout(r, 5))
  t.equal(agent.state().phase, 'pump_ready', `after ${turn.phase}`)
  const c = await agent.hear('cancel')
  t.equal(c.outcome?.code, 'CANCELLED')
  t.ok(station.published.some((p) => (p.message as { type: string }).type === 'cancel'))
  t.ok(cloud.calls.some((c) => c.method === 'cancelSession'))
})

t.test('a forged sale record is not accepted as paid', async (t) => {
  const { agent } = setup({}, { forgeSale: true })
  t.teardown(() => agent.close())
  const out = await agent.runUtterance('pay for pump 2', { answers: ['yes'] })
  t.equal(out.paid, false)
  t.equal(out.code, 'SALE_MISMATCH')
})

t.test('connect() brings the pump link up before the driver speaks; the hold then needs no credentials', async (t) => {
  const { cloud, station, agent } = setup()
  t.teardown(() => agent.close())
  await agent.connect()
  t.equal(station.clients.length, 1, 'connected')
  t.same(station.clients[0]?.subs, ['fuelpay/v1/st/+/pump/+/res/car7'], 'inbox subscribed')
  const credentialsBefore = cloud.calls.filter((c) => c.method === 'mqttCredentials').length
  t.equal(credentialsBefore, 1)
  await agent.connect()
  const out = await agent.runUtterance('pay for pump 2', { answers: ['yes'] })
  t.equal(out.paid, true, `${out.code} ${out.message}`)
  t.equal(cloud.calls.filter((c) => c.method === 'mqttCredentials').length, 1, 'no second credentials request')
  t.equal(station.clients.length, 1, 'no second connection')
})

t.test('connect() on a closed agent rejects', async (t) => {
  const { agent } = setup()
  await agent.close()
  await t.rejects(agent.connect(), /closed/)
})
