import { connectMqtt } from '@fuelpay/platform'
import {
  decode,
  encode,
  type Message,
  type PumpAuthorizedMessage,
  type PumpRejectedMessage,
  type SessionEndedMessage,
  type StationCommandResultMessage,
  topics,
} from '@fuelpay/proto'
import t from 'tap'
import {
  makeToken,
  startRestartWorld,
  startStation,
  until,
} from '../helpers/station-fixture.ts'

// The cloud voids a held session (operator void, driver cancel) and tells the
// station; the car may still hold a valid token for it. The station must
// refuse that token for as long as it could verify, across restarts.

const STATION = 'st5'
// One journal for every incarnation of the station (the restart test reopens it).
const world = await startRestartWorld({ carId: 'car9' })
const { cloudKey, broker, cloud, car, journalDb } = world
const startSt5 = () =>
  startStation({
    stationId: STATION,
    brokerUrl: broker.url,
    cloudUrl: cloud.url,
    journalDb,
    // Auto-lift off: an armed pump stays armed, so "never armed" is observable.
    config: { limits: { nozzleTimeoutMs: 60_000, noFlowTimeoutMs: 60_000, maxSessionMs: 600_000 } },
  })
let station = await startSt5()
const consoleClient = await connectMqtt(broker.url, { clientId: 'cloud-console5', clean: true })
const results: StationCommandResultMessage[] = []
consoleClient.on('message', (topic, payload) => {
  const d = decode(topic, payload)
  if (d.ok && d.value.message.type === 'station-command-result') results.push(d.value.message)
})
await consoleClient.subscribeAsync(topics.stationCommandResult(STATION), { qos: 1 })
t.teardown(async () => {
  await consoleClient.endAsync()
  await station.close()
  await world.close()
})

/** Counts the controller's driver-authorize calls on every pump of the current station. */
function countArming(st: typeof station) {
  const calls: number[] = []
  for (const d of st.dispensers) {
    const real = d.authorize.bind(d)
    d.authorize = (grades) => {
      calls.push(d.pump)
      return real(grades)
    }
  }
  return calls
}
let armed = countArming(station)

const command = (commandId: string, cmd: object) =>
  consoleClient.publish(
    topics.stationCommand(STATION),
    encode(topics.stationCommand(STATION), {
      type: 'station-command',
      commandId,
      command: cmd as never,
    }),
    { qos: 1 },
  )
/** The n-th answer (1-based) to a command id. */
const result = async (commandId: string, n = 1) => {
  const mine = () => results.filter((r) => r.commandId === commandId)
  await until(`answer ${n} to ${commandId}`, () => mine().length >= n)
  return mine()[n - 1] as StationCommandResultMessage
}
const isReply = (requestId: string) => (m: Message) =>
  (m.type === 'pump-authorized' || m.type === 'pump-rejected') && m.requestId === requestId

t.test('void before presentation: the token is refused CANCELLED, nothing changes', async (t) => {
  const sessionId = 'ses_void_early_1'
  const token = await makeToken(cloudKey, {
    sessionId,
    stationId: STATION,
    pump: 2,
    vehicleId: 'car9',
  })
  command('cmd-void-early-1', { op: 'void-session', sessionId })
  const res = await result('cmd-void-early-1')
  t.equal(res.ok, true, 'the cloud void stands')
  t.equal(res.reason, undefined)
  t.equal(await station.journal.isSessionRevoked?.(sessionId), true, 'journaled')

  const rid = car.authorize(STATION, 2, token)
  const r = await car.waitFor<PumpRejectedMessage>(isReply(rid))
  t.equal(r.type, 'pump-rejected')
  t.equal(r.reason.code, 'CANCELLED')
  t.equal(r.reason.number, 304)
  t.equal(r.sessionId, sessionId)
  await station.controller.settled()
  t.equal(station.controller.state(2)?.name, 'idle', 'pump stays idle')
  t.same(armed, [], 'the dispenser was never armed')
  t.equal(station.pump(2).authorized, undefined)
  t.equal(
    await station.journal.isTokenUsed(
      JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()).jti,
    ),
    false,
    'the token is not marked used',
  )
  t.same(await station.journal.findSessionByRequest('car9', rid), undefined, 'no session opened')

  // The same token under a new request id, or the same request again: still refused.
  const rid2 = car.authorize(STATION, 2, token)
  t.equal((await car.waitFor<PumpRejectedMessage>(isReply(rid2))).reason.code, 'CANCELLED')
  car.authorize(STATION, 2, token, rid)
  await until('duplicate answered', () => car.inbox.filter(isReply(rid)).length >= 2)
  t.equal((car.inbox.filter(isReply(rid))[1] as PumpRejectedMessage).reason.code, 'CANCELLED')

  // A duplicate delivery of the void command: the first answer again.
  command('cmd-void-early-1', { op: 'void-session', sessionId })
  const dup = await result('cmd-void-early-1', 2)
  t.equal(dup.ok, true)
  t.same(armed, [], 'still never armed')

  // Another session on the same pump is untouched by the void.
  const other = await makeToken(cloudKey, { stationId: STATION, pump: 2, vehicleId: 'car9' })
  const rid3 = car.authorize(STATION, 2, other)
  const ok = await car.waitFor<PumpAuthorizedMessage>(isReply(rid3))
  t.equal(ok.type, 'pump-authorized')
  t.same(armed, [2])
  car.cancel(STATION, 2, ok.sessionId)
  await car.waitFor((m) => m.type === 'session-ended' && m.sessionId === ok.sessionId)
})

t.test(
  'void of an authorized session cancels it; of an ended one, SESSION_NOT_FOUND',
  async (t) => {
    await until('pump 1 idle', async () => {
      await station.controller.settled()
      return station.controller.state(1)?.name === 'idle'
    })
    const token = await makeToken(cloudKey, { stationId: STATION, pump: 1, vehicleId: 'car9' })
    const rid = car.authorize(STATION, 1, token)
    const ok = await car.waitFor<PumpAuthorizedMessage>(isReply(rid))
    t.equal(ok.type, 'pump-authorized')
    command('cmd-void-active-1', { op: 'void-session', sessionId: ok.sessionId })
    t.equal((await result('cmd-void-active-1')).ok, true)
    const ended = await car.waitFor<SessionEndedMessage>(
      (m) => m.type === 'session-ended' && m.sessionId === ok.sessionId,
    )
    t.equal(ended.reason.code, 'CANCELLED')
    t.ok(ended.saleJws, 'a zero sale voids the hold')
    t.equal(
      await station.journal.isSessionRevoked?.(ok.sessionId),
      false,
      'no revocation: it was seen',
    )
    await until('zero sale delivered', () =>
      cloud.sales.some((s) => s.idempotencyKey === ok.sessionId),
    )

    // Voiding it again (it ended here): the answer stays SESSION_NOT_FOUND.
    command('cmd-void-ended-1', { op: 'void-session', sessionId: ok.sessionId })
    const again = await result('cmd-void-ended-1')
    t.equal(again.ok, false)
    t.equal(again.reason?.code, 'SESSION_NOT_FOUND')
    t.equal(await station.journal.isSessionRevoked?.(ok.sessionId), false)

    // Once fuel flows, a void is refused and the delivery goes on.
    await until('pump 1 idle', async () => {
      await station.controller.settled()
      return station.controller.state(1)?.name === 'idle'
    })
    const token2 = await makeToken(cloudKey, { stationId: STATION, pump: 1, vehicleId: 'car9' })
    const rid2 = car.authorize(STATION, 1, token2)
    const ok2 = await car.waitFor<PumpAuthorizedMessage>(isReply(rid2))
    t.ok(station.pump(1).lift('diesel'))
    await until('fueling', async () => {
      await station.controller.settled()
      return station.controller.state(1)?.name === 'fueling'
    })
    command('cmd-void-flowing-1', { op: 'void-session', sessionId: ok2.sessionId })
    const flowing = await result('cmd-void-flowing-1')
    t.equal(flowing.ok, false)
    t.equal(flowing.reason?.code, 'FUEL_ALREADY_FLOWING')
    t.equal(station.controller.state(1)?.name, 'fueling')
    t.ok(station.pump(1).hangUp())
    await car.waitFor((m) => m.type === 'completed' && m.sessionId === ok2.sessionId)
  },
)

t.test('bad void commands change nothing', async (t) => {
  // A session id outside the schema is refused by the codec before the controller acts.
  consoleClient.publish(
    topics.stationCommand(STATION),
    JSON.stringify({
      v: 1,
      type: 'station-command',
      msgId: 'abcdefgh2',
      ts: Date.now(),
      commandId: 'cmd-void-bad-1',
      command: { op: 'void-session', sessionId: 'bad id with spaces' },
    }),
    { qos: 1 },
  )
  const r = await result('cmd-void-bad-1')
  t.equal(r.ok, false)
  t.equal(r.reason?.code, 'SCHEMA_INVALID')
  t.equal(await station.journal.isSessionRevoked?.('bad id with spaces'), false)
})

t.test('the revocation survives a controller restart', async (t) => {
  const sessionId = 'ses_void_restart_1'
  const token = await makeToken(cloudKey, {
    sessionId,
    stationId: STATION,
    pump: 2,
    vehicleId: 'car9',
  })
  command('cmd-void-restart-1', { op: 'void-session', sessionId })
  t.equal((await result('cmd-void-restart-1')).ok, true)

  await station.close()
  station = await startSt5()
  armed = countArming(station)
  t.equal(await station.journal.isSessionRevoked?.(sessionId), true, 'still in the journal')

  // The car's retained subscription may land after the station's; retry with one request id (idempotent).
  const rid = `rrestart${Date.now()}`
  let r: PumpRejectedMessage | undefined
  for (let i = 0; i < 20 && !r; i++) {
    car.authorize(STATION, 2, token, rid)
    r = await car.waitFor<PumpRejectedMessage>(isReply(rid), 500).catch(() => undefined)
  }
  t.equal(r?.type, 'pump-rejected')
  t.equal(r?.reason.code, 'CANCELLED')
  await station.controller.settled()
  t.equal(station.controller.state(2)?.name, 'idle')
  t.same(armed, [], 'never armed after the restart either')

  // A duplicate of the void command after the restart (its answer cache is gone): still ok, once.
  command('cmd-void-restart-1', { op: 'void-session', sessionId })
  t.equal((await result('cmd-void-restart-1', 2)).ok, true)
})

t.test(
  "a journal without revocations (the simulators' in-memory one): kept in memory",
  async (t) => {
    const st6 = await startStation({
      stationId: 'st6',
      brokerUrl: broker.url,
      cloudUrl: cloud.url,
      wrapJournal: (j) => {
        const { revokeSession: _r, isSessionRevoked: _i, ...rest } = j
        return rest
      },
    })
    t.teardown(() => st6.close())
    const armed6 = countArming(st6)
    const answers: StationCommandResultMessage[] = []
    const watcher = await connectMqtt(broker.url, { clientId: 'cloud-console6', clean: true })
    t.teardown(() => watcher.endAsync())
    watcher.on('message', (topic, payload) => {
      const d = decode(topic, payload)
      if (d.ok && d.value.message.type === 'station-command-result') answers.push(d.value.message)
    })
    await watcher.subscribeAsync(topics.stationCommandResult('st6'), { qos: 1 })
    const sessionId = 'ses_void_mem_1'
    const token = await makeToken(cloudKey, {
      sessionId,
      stationId: 'st6',
      pump: 1,
      vehicleId: 'car9',
    })
    await watcher.publishAsync(
      topics.stationCommand('st6'),
      encode(topics.stationCommand('st6'), {
        type: 'station-command',
        commandId: 'cmd-void-mem-1',
        command: { op: 'void-session', sessionId },
      }),
      { qos: 1 },
    )
    await until('answer', () => answers.some((a) => a.commandId === 'cmd-void-mem-1'))
    t.equal(answers.find((a) => a.commandId === 'cmd-void-mem-1')?.ok, true)
    const rid = car.authorize('st6', 1, token)
    const r = await car.waitFor<PumpRejectedMessage>(isReply(rid))
    t.equal(r.reason.code, 'CANCELLED')
    await st6.controller.settled()
    t.equal(st6.controller.state(1)?.name, 'idle')
    t.same(armed6, [])
  },
)
