import type { PumpStateMessage } from '@fuelpay/proto'
import t from 'tap'
import { handlePumpState, handleStationStatus } from '../../src/mqtt/telemetry.service.ts'
import { authorize, type Cloud, makeCloud, provision } from '../helpers.ts'

/** A pump-state message from pump 1 (authorized, nothing pumped) unless `o` says otherwise. */
const pumpState = (cloud: Cloud, o: Partial<PumpStateMessage> & { stationId: string }): PumpStateMessage => ({
  v: 1,
  type: 'pump-state',
  msgId: `m${Math.random().toString(36).slice(2, 12)}`,
  ts: cloud.clock.now,
  pump: 1,
  state: 'authorized',
  volumeMilli: 0,
  amountMinor: 0,
  currency: 'EUR',
  ...o,
})

// Pump telemetry moves a session along only when it is this station's and
// this pump's, undecided, and the news moves it forward; an unknown station
// writes nothing at all.
t.test('pump state: who may move a session, and where to', async (t) => {
  const cloud = await makeCloud(t)
  const w = await provision(cloud)
  const held = await authorize(cloud, w, { amountMinor: 3000 })
  t.equal(held.status, 201, 'held')
  const sessionId = held.body.sessionId as string
  const msg = (o: Partial<PumpStateMessage>) => pumpState(cloud, { stationId: w.stationId, sessionId, ...o })
  const session = () => cloud.db.selectFrom('sessions').select(['state', 'hold_expires_at']).where('id', '=', sessionId).executeTakeFirstOrThrow()
  const outboxTicks = async () => (await cloud.db.selectFrom('outbox').select('id').where('kind', '=', 'pump.state').execute()).length
  const before = await session()

  await handlePumpState(cloud.deps, msg({ stationId: 'no-such-station' }))
  t.equal(await outboxTicks(), 0, 'an unknown station writes no event')
  t.equal((await cloud.db.selectFrom('pump_status').select('pump').execute()).length, 0, 'and no pump status')

  await handlePumpState(cloud.deps, msg({ pump: 2 }))
  t.equal((await session()).state, 'held', 'another pump does not move the session')
  t.equal(await outboxTicks(), 1, 'but its state is recorded for the console')

  await handlePumpState(cloud.deps, msg({ state: 'authorized' }))
  t.equal((await session()).state, 'pump_authorized')
  await handlePumpState(cloud.deps, msg({ state: 'fueling', grade: 'diesel', unitPriceMilli: 1799, volumeMilli: 1000, amountMinor: 180 }))
  const fueling = await session()
  t.equal(fueling.state, 'fueling')
  t.ok(new Date(fueling.hold_expires_at as Date) >= new Date(before.hold_expires_at as Date), 'the hold lives as long as a session in progress')
  await handlePumpState(cloud.deps, msg({ state: 'authorized' }))
  t.equal((await session()).state, 'fueling', 'never backwards')

  const status = await cloud.db.selectFrom('pump_status').selectAll().where('pump', '=', 1).executeTakeFirstOrThrow()
  t.equal(status.state, 'authorized', 'the last pump state is kept')
  t.equal(await outboxTicks(), 4, 'one console event per message from a known station')
})

t.test('pump state: a decided session is not moved by telemetry', async (t) => {
  const cloud = await makeCloud(t)
  const w = await provision(cloud)
  const held = await authorize(cloud, w, {})
  const sessionId = held.body.sessionId as string
  await cloud.db.updateTable('sessions').set({ settle_action: 'void', settle_amount_minor: 0 }).where('id', '=', sessionId).execute()
  await handlePumpState(cloud.deps, pumpState(cloud, { stationId: w.stationId, sessionId, state: 'authorized' }))
  const row = await cloud.db.selectFrom('sessions').select('state').where('id', '=', sessionId).executeTakeFirstOrThrow()
  t.equal(row.state, 'held')
})

t.test('station status: kept and told to the console; an unknown station writes nothing', async (t) => {
  const cloud = await makeCloud(t)
  const w = await provision(cloud)
  const status = (o: { stationId?: string; online: boolean; backlog: number }) =>
    handleStationStatus(cloud.deps, { v: 1, type: 'station-status', msgId: `m${Math.random().toString(36).slice(2, 12)}`, ts: cloud.clock.now, stationId: o.stationId ?? w.stationId, online: o.online, backlog: o.backlog, pumps: 2 } as never)
  const events = async () => (await cloud.db.selectFrom('outbox').select(['operator_id', 'payload']).where('kind', '=', 'station.status').execute())
  await status({ stationId: 'no-such-station', online: true, backlog: 0 })
  t.equal((await events()).length, 0, 'no event for an unknown station')
  t.equal((await cloud.db.selectFrom('station_status').selectAll().execute()).length, 0, 'and no status')
  await status({ online: true, backlog: 3 })
  await status({ online: false, backlog: 1 })
  const row = await cloud.db.selectFrom('station_status').selectAll().where('station_id', '=', w.stationId).executeTakeFirstOrThrow()
  t.match(row, { online: false, backlog: 1 }, 'the last status is kept')
  const ev = await events()
  t.equal(ev.length, 2, 'one console event per status')
  t.ok(ev.every((e) => e.operator_id === w.operatorId), "under the station's operator")
})

t.test('a message heard twice (a redelivery, two cloud replicas) is written and told once; an overtaken pump state is not written over a newer one', async (t) => {
  const cloud = await makeCloud(t)
  const w = await provision(cloud)
  const kept = async () => (await cloud.db.selectFrom('pump_status').select('state').where('pump', '=', 1).executeTakeFirstOrThrow()).state
  const ticks = async () => (await cloud.db.selectFrom('outbox').select('payload').where('kind', '=', 'pump.state').orderBy('id').execute()).map((e) => (e.payload as { state: string }).state)
  const t0 = cloud.clock.now
  const authorized = pumpState(cloud, { stationId: w.stationId, state: 'authorized', ts: t0 })
  const fueling = pumpState(cloud, { stationId: w.stationId, state: 'fueling', grade: 'diesel', unitPriceMilli: 1799, volumeMilli: 10, amountMinor: 2, ts: t0 + 100 })
  await Promise.all([handlePumpState(cloud.deps, authorized), handlePumpState(cloud.deps, authorized)])
  t.same(await ticks(), ['authorized'], 'the same message at once from two handlers: one event')
  await handlePumpState(cloud.deps, fueling)
  await handlePumpState(cloud.deps, authorized)
  t.equal(await kept(), 'fueling', 'the late copy of an older message does not overwrite the newer state')
  await handlePumpState(cloud.deps, fueling)
  t.same(await ticks(), ['authorized', 'fueling'], 'nor is anything told twice')

  // Later on, an older stamp means the station's clock went back: the news is newer.
  cloud.clock.now += 5000
  await handlePumpState(cloud.deps, pumpState(cloud, { stationId: w.stationId, state: 'idle', ts: t0 - 60_000 }))
  t.equal(await kept(), 'idle', 'a station whose clock was set back is still heard')
  t.same(await ticks(), ['authorized', 'fueling', 'idle'])

  const status = { v: 1, type: 'station-status', msgId: 'st-status-1', ts: t0, stationId: w.stationId, online: true, backlog: 0, pumps: 2 } as const
  await handleStationStatus(cloud.deps, status as never)
  await handleStationStatus(cloud.deps, status as never)
  const statusEvents = await cloud.db.selectFrom('outbox').select('id').where('kind', '=', 'station.status').execute()
  t.equal(statusEvents.length, 1, 'a station status heard twice: one event')
})
