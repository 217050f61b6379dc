import { silentLogger } from '@fuelpay/platform'
import t from 'tap'
import type { Position, StationSummary } from '@fuelpay/proto'
import { type Clock, createVehicleAgent, memoryKeyStore, realClock, type VehicleAgentConfig } from '../src/agent.ts'
import { type BeaconSighting, staticLocation } from '../src/location/location.ts'
import { fakeCloud, fakeStation, OTHER_STATION, STATION } from './helpers/fakes.ts'

const here = { lat: STATION.lat, lon: STATION.lon }

function setup(cloudOpts: Parameters<typeof fakeCloud>[0] = {}, stationOpts: Parameters<typeof fakeStation>[1] = {}, beacons: Parameters<typeof staticLocation>[1] = []) {
  const cloud = fakeCloud(cloudOpts)
  const station = fakeStation(cloud, stationOpts)
  const keys = memoryKeyStore()
  const kept: string[] = []
  const bodies: unknown[] = []
  const agent = createVehicleAgent({
    log: silentLogger(),
    config: { vehicleId: 'car7', limits: { pumpReplyTimeoutMs: 300, answerTimeoutMs: 2000 }, receiptRetryMs: 5 },
    cloud: cloud.client,
    mqtt: station.connector,
    location: staticLocation(here, beacons),
    keys: {
      keep: (purpose, key, body) => {
        kept.push(key)
        bodies.push(body)
        keys.keep(purpose, key, body)
      },
      done: keys.done,
    },
  })
  return { cloud, station, agent, kept, bodies }
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

t.test("another station's beacon does not move the car away from the station whose geofence holds it; the hold says where the car is", async (t) => {
  // The Paris station's beacon (or a copy of it) heard loudly in Berlin.
  const { cloud, agent } = setup({ stations: [STATION, OTHER_STATION] }, {}, [{ major: OTHER_STATION.beaconMajor as number, minor: 1, txPower: -59, rssi: -35 }])
  t.teardown(() => agent.close())
  const out = await agent.runUtterance('pay for pump 2', { answers: ['no'] })
  t.equal(out.code, 'CANCELLED')
  const hold = cloud.calls.find((c) => c.method === 'requestFuelAuthorization')?.args[0] as { stationId: string; position?: unknown }
  t.equal(hold.stationId, STATION.id)
  t.same(hold.position, here)
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

t.test('the voice code goes to the cloud and is never kept in the key store', async (t) => {
  const { cloud, agent, bodies } = setup({ voiceCode: '4711' })
  t.teardown(() => agent.close())
  const out = await agent.runUtterance('pay for pump 2', { answers: ['four seven one one', 'yes'] })
  t.equal(out.paid, true, `${out.code} ${out.message}`)
  const sent = cloud.calls.filter((c) => c.method === 'requestFuelAuthorization').map((c) => (c.args[0] as { voiceCode?: string }).voiceCode)
  t.same(sent, [undefined, '4711'], 'asked for, then sent')
  const holds = bodies.filter((b) => (b as { request?: unknown }).request !== undefined) as { request: object; voiceCodeOmitted?: boolean; sessionId?: string }[]
  t.equal(holds.length, 3, 'each request kept before it was sent, the granted one again with its session')
  for (const b of holds) t.notOk(JSON.stringify(b).includes('4711'), `no voice code in ${JSON.stringify(b)}`)
  t.same(holds.map((b) => b.voiceCodeOmitted === true), [false, true, true], 'marked when one was sent')
})

t.test('an answer source is told when the answer asked for is the voice code (so it is not echoed)', async (t) => {
  const { agent } = setup({ voiceCode: '4711' })
  t.teardown(() => agent.close())
  const queue = ['four seven one one', 'yes']
  const asked: boolean[] = []
  const out = await agent.runUtterance('pay for pump 2', {
    nextAnswer: async ({ secret }) => {
      asked.push(secret)
      return queue.shift()
    },
  })
  t.equal(out.paid, true, `${out.code} ${out.message}`)
  t.same(asked, [true, false], 'the code is asked as a secret, the read-back not')
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

t.test('a sale is checked against the station, pump and session the car authorized, not those it names', async (t) => {
  // Validly signed (the fake cloud publishes the same key for every station), but for another station or pump.
  for (const saleNames of [{ stationId: OTHER_STATION.id }, { pump: 3 }]) {
    const { cloud, agent } = setup({ stations: [STATION, OTHER_STATION] }, { saleNames })
    t.teardown(() => agent.close())
    const out = await agent.runUtterance('pay for pump 2', { answers: ['yes'] })
    t.equal(out.paid, false, JSON.stringify(saleNames))
    t.equal(out.code, 'SALE_MISMATCH', JSON.stringify(saleNames))
    t.same(cloud.calls.filter((c) => c.method === 'stationJwks').map((c) => c.args[0]), [STATION.id], "the authorized station's keys")
  }
})

/** An agent whose position, beacons and clock the test moves; the cloud's station list can change under it. */
function movable(config: Partial<VehicleAgentConfig> = {}, stations: StationSummary[] = [STATION], cloudOpts: Parameters<typeof fakeCloud>[0] = {}) {
  const cloud = fakeCloud({ ...cloudOpts, stations })
  const station = fakeStation(cloud)
  let position: Position | undefined = { ...here }
  let beacons: BeaconSighting[] = []
  let offsetMs = 0
  // Real timers, a clock whose "now" the test can move forward.
  const clock: Clock = { ...realClock, now: () => Date.now() + offsetMs }
  const agent = createVehicleAgent({
    log: silentLogger(),
    config: { vehicleId: 'car7', limits: { pumpReplyTimeoutMs: 300, answerTimeoutMs: 2000 }, receiptRetryMs: 5, ...config },
    cloud: cloud.client,
    mqtt: station.connector,
    location: { position: async () => position, beacons: async () => beacons },
    clock,
  })
  return {
    cloud,
    station,
    agent,
    moveTo: (p: Position | undefined) => {
      position = p
    },
    hear: (b: BeaconSighting[]) => {
      beacons = b
    },
    age: (ms: number) => {
      offsetMs += ms
    },
    nearCalls: () => cloud.calls.filter((c) => c.method === 'stationsNear').length,
  }
}

// ~111 m per 0.001 degree of latitude; the station's geofence is 150 m.
const north = (m: number) => ({ lat: here.lat + m / 111_195, lon: here.lon })

t.test('a second request at the same forecourt reuses the station lookup', async (t) => {
  const m = movable()
  t.teardown(() => m.agent.close())
  const first = await m.agent.runUtterance('pay for pump 2', { answers: ['no'] })
  t.equal(first.code, 'CANCELLED')
  m.moveTo(north(40))
  const second = await m.agent.runUtterance('pay for pump 1', { answers: ['no'] })
  t.equal(second.code, 'CANCELLED', `second ${second.code} ${second.message}`)
  t.equal(m.nearCalls(), 1, 'one stations-near lookup for two holds')
  const holds = m.cloud.calls.filter((c) => c.method === 'requestFuelAuthorization').map((c) => (c.args[0] as { stationId: string; pump: number }))
  t.same(holds.map((h) => [h.stationId, h.pump]), [[STATION.id, 2], [STATION.id, 1]])
})

t.test('the lookup is made again once the car moved more than 100 m', async (t) => {
  const m = movable()
  t.teardown(() => m.agent.close())
  await m.agent.runUtterance('pay for pump 2', { answers: ['no'] })
  m.moveTo(north(120))
  const second = await m.agent.runUtterance('pay for pump 2', { answers: ['no'] })
  t.equal(second.code, 'CANCELLED', 'still inside the 150 m geofence')
  t.equal(m.nearCalls(), 2)
  t.same(m.cloud.calls.filter((c) => c.method === 'stationsNear')[1]?.args[0], north(120), 'asked for where the car is now')
})

t.test('the lookup is made again once it is older than 60 s', async (t) => {
  const m = movable()
  t.teardown(() => m.agent.close())
  await m.agent.runUtterance('pay for pump 2', { answers: ['no'] })
  m.age(59_000)
  await m.agent.runUtterance('pay for pump 2', { answers: ['no'] })
  t.equal(m.nearCalls(), 1, 'reused at 59 s')
  m.age(2_000)
  await m.agent.runUtterance('pay for pump 2', { answers: ['no'] })
  t.equal(m.nearCalls(), 2, 'asked again at 61 s')
})

t.test('a reused list without a station for where the car is: the cloud is asked before saying no', async (t) => {
  const stations = [OTHER_STATION]
  const m = movable({}, stations)
  t.teardown(() => m.agent.close())
  const first = await m.agent.runUtterance('pay for pump 2', { answers: ['no'] })
  t.equal(first.code, 'OUTSIDE_GEOFENCE', 'no station in Berlin yet')
  stations.push(STATION)
  const second = await m.agent.runUtterance('pay for pump 2', { answers: ['no'] })
  t.equal(second.code, 'CANCELLED', `found the new station: ${second.code} ${second.message}`)
  t.equal(m.nearCalls(), 2)
})

t.test('a reused list that does not know a beacon the car hears is looked up again', async (t) => {
  const annex: StationSummary = { ...STATION, id: 'st-berlin-2', name: 'Fuelpay Berlin Annex', beaconMajor: 4343 }
  const stations = [STATION]
  const m = movable({}, stations)
  t.teardown(() => m.agent.close())
  await m.agent.runUtterance('pay for pump 2', { answers: ['no'] })
  stations.push(annex)
  m.hear([{ major: 4343, minor: 2, txPower: -59, rssi: -60 }])
  const second = await m.agent.runUtterance('pay for pump 2', { answers: ['no'] })
  t.equal(second.code, 'CANCELLED')
  t.equal(m.nearCalls(), 2)
  const lastHold = m.cloud.calls.filter((c) => c.method === 'requestFuelAuthorization').at(-1)?.args[0] as { stationId: string }
  t.equal(lastHold.stationId, annex.id, 'the beacon\'s station, known only from the fresh list')
})

t.test('a hold refused for a reason a stale list can cause empties the cache', async (t) => {
  const m = movable({}, [STATION], { decline: { code: 'PUMP_OUT_OF_SERVICE', number: 502, message: 'pump is out of service' } })
  t.teardown(() => m.agent.close())
  t.equal((await m.agent.runUtterance('pay for pump 2')).code, 'PUMP_OUT_OF_SERVICE')
  t.equal((await m.agent.runUtterance('pay for pump 2')).code, 'PUMP_OUT_OF_SERVICE')
  t.equal(m.nearCalls(), 2)
})

t.test('a payment refusal keeps the cache', async (t) => {
  const m = movable({}, [STATION], { decline: { code: 'INSUFFICIENT_FUNDS', number: 400, message: 'declined: insufficient funds' } })
  t.teardown(() => m.agent.close())
  await m.agent.runUtterance('pay for pump 2')
  await m.agent.runUtterance('pay for pump 2')
  t.equal(m.nearCalls(), 1)
})

t.test('stationsCache: false asks the cloud every time', async (t) => {
  const m = movable({ stationsCache: false })
  t.teardown(() => m.agent.close())
  await m.agent.runUtterance('pay for pump 2', { answers: ['no'] })
  await m.agent.runUtterance('pay for pump 2', { answers: ['no'] })
  t.equal(m.nearCalls(), 2)
})

t.test('the station lookup does not wait for the beacon scan', async (t) => {
  const cloud = fakeCloud()
  const station = fakeStation(cloud)
  let scanDone: (b: BeaconSighting[]) => void = () => {}
  const scanning = new Promise<BeaconSighting[]>((r) => {
    scanDone = r
  })
  let lookedUpDuringScan = false
  const agent = createVehicleAgent({
    log: silentLogger(),
    config: { vehicleId: 'car7' },
    cloud: {
      ...cloud.client,
      stationsNear: (p) => {
        lookedUpDuringScan = true
        // The scan ends only once the lookup has been made.
        setImmediate(() => scanDone([{ major: STATION.beaconMajor as number, minor: 3, txPower: -59, rssi: -60 }]))
        return cloud.client.stationsNear(p)
      },
    },
    mqtt: station.connector,
    location: { position: async () => ({ ...here }), beacons: () => scanning },
  })
  t.teardown(() => agent.close())
  const turn = await agent.hear('pay for fuel')
  t.ok(lookedUpDuringScan)
  t.equal(turn.phase, 'confirming', 'the pump came from the beacon heard after the lookup')
  const hold = cloud.calls.find((c) => c.method === 'requestFuelAuthorization')?.args[0] as { pump: number }
  t.equal(hold.pump, 3)
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

t.test('a link whose broker credential ends before a session could is renewed before the hold, not mid-session', async (t) => {
  const { cloud, station, agent } = setup({ credentialTtlMs: 10 * 60_000 })
  t.teardown(() => agent.close())
  await agent.connect()
  t.equal(station.clients.length, 1)
  const out = await agent.runUtterance('pay for pump 2', { answers: ['yes'] })
  t.equal(out.paid, true, `${out.code} ${out.message}`)
  t.equal(cloud.calls.filter((c) => c.method === 'mqttCredentials').length, 2, 'a fresh credential for the session')
  t.equal(station.clients.length, 2, 'on a new connection')
  t.equal(station.clients[0]?.ended, true, 'the old one closed')
  t.equal(station.clients[1]?.ended, false, 'the session ran on the new one to its end')
})

t.test('connect() on a closed agent rejects', async (t) => {
  const { agent } = setup()
  await agent.close()
  await t.rejects(agent.connect(), /closed/)
})

t.test("a station's keys are read once for its sales, and again when a sale is signed with a new key", async (t) => {
  const { cloud, agent } = setup()
  t.teardown(() => agent.close())
  const jwksReads = () => cloud.calls.filter((c) => c.method === 'stationJwks').length
  for (let i = 0; i < 2; i++) {
    const out = await agent.runUtterance('pay for pump 2', { answers: ['yes'] })
    t.equal(out.paid, true, `session ${i + 1}: ${out.code} ${out.message}`)
  }
  t.equal(jwksReads(), 1, 'two sales of one station: its keys read once')
  cloud.rotateStationKey()
  const after = await agent.runUtterance('pay for pump 2', { answers: ['yes'] })
  t.equal(after.paid, true, `a sale signed with the new key verifies: ${after.code} ${after.message}`)
  t.equal(jwksReads(), 2, 'after reading the keys again')
})

t.test('under a canopy (fix outside the geofence) the station is named by its beacon and the hold goes without the fix', async (t) => {
  const m = movable()
  t.teardown(() => m.agent.close())
  m.moveTo({ ...north(400), accuracyM: 120 }) // a canopy-degraded fix
  m.hear([{ major: STATION.beaconMajor as number, minor: 2, txPower: -59, rssi: -50 }])
  const out = await m.agent.runUtterance('pay for pump 2', { answers: ['no'] })
  t.equal(out.code, 'CANCELLED')
  const hold = m.cloud.calls.find((c) => c.method === 'requestFuelAuthorization')?.args[0] as { stationId: string; position?: unknown }
  t.equal(hold.stationId, STATION.id)
  t.equal(hold.position, undefined, 'a fix outside the geofence would only make the cloud refuse')
})

t.test('a yes naming another pump cancels the held session before the new hold is asked for', async (t) => {
  const { cloud, agent } = setup()
  t.teardown(() => agent.close())
  const order: string[] = []
  const { cancelSession, requestFuelAuthorization } = cloud.client
  cloud.client.cancelSession = async (id, key) => {
    await new Promise((r) => setTimeout(r, 50))
    order.push('cancelled')
    return cancelSession(id, key)
  }
  cloud.client.requestFuelAuthorization = async (req, key) => {
    order.push(`hold pump ${req.pump}`)
    return requestFuelAuthorization(req, key)
  }
  const out = await agent.runUtterance('pay for pump 2', { answers: ['yes, pump 3', 'no'] })
  t.equal(out.code, 'CANCELLED')
  t.same(order.slice(0, 3), ['hold pump 2', 'cancelled', 'hold pump 3'], 'the old hold is released before the new one is asked for')
})

t.test('a session the station ends after fuel flowed (emergency stop) is settled: the driver hears why, and what was charged', async (t) => {
  const { agent } = setup({}, { endedBy: { code: 'EMERGENCY_STOP', number: 305, message: 'pump was emergency stopped' } })
  t.teardown(() => agent.close())
  const out = await agent.runUtterance('pay for pump 2', { answers: ['yes'] })
  t.ok(out.replies.some((r) => r.key === 'sessionEnded' && /stopped by the station/.test(r.text)), 'why it ended')
  t.equal(out.paid, true, `${out.code} ${JSON.stringify(out.replies.map((r) => r.text))}`)
  t.equal(out.receipt?.amountMinor, 3598)
  t.match(out.replies.at(-1)?.text, /Charged 35\.98 EUR to visa ending 4242/)
  t.equal(out.sale?.amountMinor, 3598, 'the signed sale')
})

t.test('a station-ended session whose sale does not verify is not shown as paid', async (t) => {
  const { agent } = setup({}, { endedBy: { code: 'EMERGENCY_STOP', number: 305, message: 'pump was emergency stopped' }, saleNames: { pump: 3 } })
  t.teardown(() => agent.close())
  const out = await agent.runUtterance('pay for pump 2', { answers: ['yes'] })
  t.equal(out.paid, false)
  t.equal(out.code, 'SALE_MISMATCH')
})

t.test('a car that cannot keep the hold request on its disk says so instead of waiting forever, and asks for no hold', async (t) => {
  const cloud = fakeCloud()
  const station = fakeStation(cloud)
  const agent = createVehicleAgent({
    log: silentLogger(),
    config: { vehicleId: 'car7', limits: { pumpReplyTimeoutMs: 300, answerTimeoutMs: 2000 }, receiptRetryMs: 5 },
    cloud: cloud.client,
    mqtt: station.connector,
    location: staticLocation(here, []),
    keys: {
      keep: async () => {
        throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' })
      },
      done: () => {},
    },
  })
  t.teardown(() => agent.close())
  const out = await Promise.race([agent.runUtterance('pay for pump 2', { answers: ['yes'] }), new Promise<undefined>((r) => setTimeout(() => r(undefined), 2000))])
  t.ok(out, 'the conversation ended')
  t.equal(out?.paid, false)
  t.match(out?.replies.at(-1)?.text, /not available/)
  t.notOk(cloud.calls.some((c) => c.method === 'requestFuelAuthorization'), 'no hold without its key kept')
})

t.test('a hold granted whose session cannot be written to disk is still read back (and its key, kept before, lets a restart cancel it)', async (t) => {
  const cloud = fakeCloud()
  const station = fakeStation(cloud)
  let keeps = 0
  const agent = createVehicleAgent({
    log: silentLogger(),
    config: { vehicleId: 'car7', limits: { pumpReplyTimeoutMs: 300, answerTimeoutMs: 2000 }, receiptRetryMs: 5 },
    cloud: cloud.client,
    mqtt: station.connector,
    location: staticLocation(here, []),
    keys: {
      keep: async () => {
        if (++keeps > 1) throw new Error('EIO')
      },
      done: () => {},
    },
  })
  t.teardown(() => agent.close())
  const out = await Promise.race([agent.runUtterance('pay for pump 2', { answers: ['no'] }), new Promise<undefined>((r) => setTimeout(() => r(undefined), 2000))])
  t.equal(out?.code, 'CANCELLED')
  t.ok(cloud.calls.some((c) => c.method === 'cancelSession'), 'the hold is released')
})

t.test("the station's completed message is lost: after a quiet spell the cloud says it was charged, and the driver hears what", async (t) => {
  const cloud = fakeCloud()
  const station = fakeStation(cloud, { loseCompleted: true })
  const agent = createVehicleAgent({
    log: silentLogger(),
    config: { vehicleId: 'car7', limits: { pumpReplyTimeoutMs: 300, answerTimeoutMs: 2000, quietCheckMs: 50 }, receiptRetryMs: 5 },
    cloud: cloud.client,
    mqtt: station.connector,
    location: staticLocation(here, []),
    keys: memoryKeyStore(),
  })
  t.teardown(() => agent.close())
  const out = await agent.runUtterance('pay for pump 2', { answers: ['yes'] })
  t.equal(out.paid, true, `${out.code} ${out.message}`)
  t.equal(out.receipt?.amountMinor, 3598, 'the receipt says what was charged')
  t.ok(cloud.calls.some((c) => c.method === 'getSession'), 'asked the cloud')
  t.match(out.replies.at(-1)?.text, /Charged 35\.98 EUR/)
})
