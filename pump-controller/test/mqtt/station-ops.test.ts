import { connectMqtt } from '@fuelpay/platform'
import {
  decode,
  encode,
  importPublicKey,
  type Message,
  type PumpAuthorizedMessage,
  type PumpRejectedMessage,
  type PumpStateMessage,
  type SessionEndedMessage,
  type StationCommandResultMessage,
  type StationStatusMessage,
  topics,
  verifySaleRecord,
} from '@fuelpay/proto'
import t from 'tap'
import { connectVehicle, makeToken, startStationWorld, until } from '../helpers/station-fixture.ts'

const w = await startStationWorld({
  stationId: 'st2',
  config: { limits: { nozzleTimeoutMs: 400, noFlowTimeoutMs: 60_000, maxSessionMs: 600_000 } },
})
const { cloudKey, cloud, station, car } = w
// The console's view: everything the station publishes.
const consoleClient = await connectMqtt(w.broker.url, { clientId: 'cloud-console', clean: true })
const seen: Message[] = []
consoleClient.on('message', (topic, payload) => {
  const d = decode(topic, payload)
  if (d.ok) seen.push(d.value.message)
})
await consoleClient.subscribeAsync(
  ['fuelpay/v1/st/st2/pump/+/state', 'fuelpay/v1/st/st2/status', 'fuelpay/v1/st/st2/cmd-res'],
  { qos: 1 },
)
t.teardown(async () => {
  await consoleClient.endAsync()
  await w.close()
})

const waitSeen = async <T extends Message>(
  match: (m: Message) => boolean,
  what: string,
): Promise<T> => {
  await until(what, () => seen.some(match))
  return seen.find(match) as T
}
const command = (commandId: string, cmd: object) =>
  consoleClient.publish(
    topics.stationCommand('st2'),
    encode(topics.stationCommand('st2'), {
      type: 'station-command',
      commandId,
      command: cmd as never,
    }),
    { qos: 1 },
  )
const result = (commandId: string) =>
  waitSeen<StationCommandResultMessage>(
    (m) => m.type === 'station-command-result' && m.commandId === commandId,
    `result of ${commandId}`,
  )
const isReply = (requestId: string) => (m: Message) =>
  (m.type === 'pump-authorized' || m.type === 'pump-rejected') && m.requestId === requestId

t.test('retained station status and pump state', async (t) => {
  const st = await waitSeen<StationStatusMessage>(
    (m) => m.type === 'station-status' && m.online,
    'online status',
  )
  t.equal(st.pumps, 2)
  const ps = await waitSeen<PumpStateMessage>(
    (m) => m.type === 'pump-state' && m.pump === 2,
    'pump 2 state',
  )
  t.equal(ps.state, 'idle')
  t.equal(ps.currency, 'EUR')
})

t.test(
  'nozzle not lifted: the authorization lapses with a zero sale, delivered to the cloud',
  async (t) => {
    const token = await makeToken(cloudKey, { stationId: 'st2', pump: 1, vehicleId: 'car7' })
    const requestId = car.authorize('st2', 1, token)
    const ok = await car.waitFor<PumpAuthorizedMessage>(isReply(requestId))
    t.equal(ok.type, 'pump-authorized')
    const ended = await car.waitFor<SessionEndedMessage>(
      (m) => m.type === 'session-ended' && m.sessionId === ok.sessionId,
    )
    t.equal(ended.reason.code, 'NOZZLE_TIMEOUT')
    const pub = await importPublicKey(station.stationKey.publicJwk)
    const sale = await verifySaleRecord(ended.saleJws, () => (pub.ok ? pub.value : undefined))
    t.ok(sale.ok)
    if (sale.ok) {
      t.equal(sale.value.outcome, 'lapsed')
      t.equal(sale.value.volumeMilli, 0)
      t.equal(sale.value.amountMinor, 0)
    }
    await until('zero sale delivered', () =>
      cloud.sales.some((s) => s.idempotencyKey === ok.sessionId),
    )
    // Queued and delivered at once: not news. The station status would say so
    // 2 s after a backlog change that held (backlogStatusDelayMs).
    await new Promise((r) => setTimeout(r, 2500))
    t.notOk(
      seen.some((m) => m.type === 'station-status' && m.backlog > 0),
      'a sale delivered at once puts no backlog into the station status',
    )
  },
)

t.test('cancel by another vehicle is refused; bad payloads get a reason', async (t) => {
  const token = await makeToken(cloudKey, { stationId: 'st2', pump: 2, vehicleId: 'car7' })
  const requestId = car.authorize('st2', 2, token)
  const ok = await car.waitFor<PumpAuthorizedMessage>(isReply(requestId))
  const other = await connectVehicle(w.broker.url, 'car8')
  t.teardown(() => other.close())
  const cancelId = other.cancel('st2', 2, ok.sessionId)
  const r = await other.waitFor<PumpRejectedMessage>(
    (m) => m.type === 'pump-rejected' && m.requestId === cancelId,
  )
  t.equal(r.reason.code, 'SESSION_NOT_FOUND')
  t.equal(station.controller.state(2)?.name, 'authorized', 'unchanged')
  // a schema-invalid authorize (extra field) is answered with SCHEMA_INVALID
  const bad = {
    v: 1,
    type: 'authorize',
    msgId: 'abcdefgh1',
    ts: Date.now(),
    requestId: 'rbad00001',
    token: 'x'.repeat(20),
    extra: 1,
  }
  car.client.publish(topics.pumpRequest('st2', 2, 'car7'), JSON.stringify(bad), { qos: 1 })
  const rb = await car.waitFor<PumpRejectedMessage>(
    (m) => m.type === 'pump-rejected' && m.requestId === 'rbad00001',
  )
  t.equal(rb.reason.code, 'SCHEMA_INVALID')
  car.client.publish(topics.pumpRequest('st2', 2, 'car7'), 'not json', { qos: 1 })
  await station.controller.settled()
  t.equal(station.controller.state(2)?.name, 'authorized', 'garbage changes nothing')
  // the owner cancels
  car.cancel('st2', 2, ok.sessionId)
  const ended = await car.waitFor<SessionEndedMessage>(
    (m) => m.type === 'session-ended' && m.sessionId === ok.sessionId,
  )
  t.equal(ended.reason.code, 'CANCELLED')
})

t.test(
  'operator commands: emergency stop, resume, set-price, void-session; duplicates answered once',
  async (t) => {
    await until('pump 1 idle', async () => {
      await station.controller.settled()
      return station.controller.state(1)?.name === 'idle'
    })
    command('cmd-estop-1', { op: 'emergency-stop', pump: 1 })
    t.equal((await result('cmd-estop-1')).ok, true)
    t.equal(station.controller.state(1)?.name, 'suspended')
    const token = await makeToken(cloudKey, { stationId: 'st2', pump: 1, vehicleId: 'car7' })
    const rid = car.authorize('st2', 1, token)
    const refused = await car.waitFor<PumpRejectedMessage>(isReply(rid))
    t.equal(refused.reason.code, 'PUMP_OUT_OF_SERVICE')
    command('cmd-estop-2', { op: 'emergency-stop', pump: 1 })
    const again = await result('cmd-estop-2')
    t.equal(again.ok, false)
    t.equal(again.reason?.code, 'SESSION_STATE_CONFLICT')
    command('cmd-resume-1', { op: 'resume', pump: 1 })
    t.equal((await result('cmd-resume-1')).ok, true)
    // duplicate delivery of the same command: same answer, applied once
    const before = seen.filter(
      (m) => m.type === 'station-command-result' && m.commandId === 'cmd-resume-1',
    ).length
    command('cmd-resume-1', { op: 'resume', pump: 1 })
    await until(
      'duplicate answered',
      () =>
        seen.filter((m) => m.type === 'station-command-result' && m.commandId === 'cmd-resume-1')
          .length > before,
    )
    const dup = seen
      .filter((m) => m.type === 'station-command-result' && m.commandId === 'cmd-resume-1')
      .at(-1) as StationCommandResultMessage
    t.equal(dup.ok, true, 'the first answer again, not a refusal of a second resume')
    t.equal(station.controller.state(1)?.name, 'idle')
    command('cmd-price-1', { op: 'set-price', grade: 'diesel', unitPriceMilli: 1899 })
    t.equal((await result('cmd-price-1')).ok, true)
    t.equal(station.controller.state(1)?.prices.diesel, 1899)
    t.equal(station.controller.state(2)?.prices.diesel, 1899)
    command('cmd-price-2', { op: 'set-price', pump: 2, grade: 'unleaded95', unitPriceMilli: 1899 })
    t.equal((await result('cmd-price-2')).reason?.code, 'UNKNOWN_GRADE')
    command('cmd-price-3', { op: 'emergency-stop', pump: 9 })
    t.equal((await result('cmd-price-3')).reason?.code, 'UNKNOWN_PUMP')
    // void a session the cloud gave up on
    const token2 = await makeToken(cloudKey, { stationId: 'st2', pump: 1, vehicleId: 'car7' })
    const rid2 = car.authorize('st2', 1, token2)
    const ok2 = await car.waitFor<PumpAuthorizedMessage>(isReply(rid2))
    command('cmd-void-1', { op: 'void-session', sessionId: ok2.sessionId })
    t.equal((await result('cmd-void-1')).ok, true)
    const ended = await car.waitFor<SessionEndedMessage>(
      (m) => m.type === 'session-ended' && m.sessionId === ok2.sessionId,
    )
    t.equal(ended.reason.code, 'CANCELLED')
    // voiding it again: it ended here, so no pump has it
    command('cmd-void-3', { op: 'void-session', sessionId: ok2.sessionId })
    t.equal((await result('cmd-void-3')).reason?.code, 'SESSION_NOT_FOUND')
    // a session this station never saw: the void is kept, so its token is refused later
    // (test/mqtt/void-session.test.ts)
    command('cmd-void-2', { op: 'void-session', sessionId: 'nosuchsession' })
    const unseen = await result('cmd-void-2')
    t.equal(unseen.ok, true)
    t.equal(await station.journal.isSessionRevoked?.('nosuchsession'), true)
  },
)

t.test(
  'cloud down: sales queue, backlog shows in station status, all arrive in order',
  async (t) => {
    await until('pump 2 idle', async () => {
      await station.controller.settled()
      return station.controller.state(2)?.name === 'idle'
    })
    await until('backlog 0', async () => (await station.journal.backlog()) === 0)
    cloud.state.salesMode = 'down'
    const sessions: string[] = []
    for (let i = 0; i < 3; i++) {
      const token = await makeToken(cloudKey, { stationId: 'st2', pump: 2, vehicleId: 'car7' })
      const rid = car.authorize('st2', 2, token)
      const ok = await car.waitFor<PumpAuthorizedMessage>(isReply(rid))
      sessions.push(ok.sessionId)
      car.cancel('st2', 2, ok.sessionId)
      await car.waitFor((m) => m.type === 'session-ended' && m.sessionId === ok.sessionId)
      await until('pump 2 idle', async () => {
        await station.controller.settled()
        return station.controller.state(2)?.name === 'idle'
      })
    }
    const st = await waitSeen<StationStatusMessage>(
      (m) => m.type === 'station-status' && m.backlog === 3,
      'backlog 3 in status',
    )
    t.equal(st.online, true)
    const metrics = await station.controller.metrics.registry.getSingleMetricAsString(
      'fuelpay_pc_sales_backlog',
    )
    t.match(metrics, /fuelpay_pc_sales_backlog\{station="st2"\} 3/)
    // The queue is stuck behind its oldest sale: health and metrics say so.
    await until('a failed attempt', () => station.controller.health().deliveryFailing !== undefined)
    const h = station.controller.health()
    t.equal(h.backlog, 3)
    t.equal(h.deliveryFailing?.sessionId, sessions[0])
    t.match(h.deliveryFailing?.lastError, /^503 /)
    t.match(
      await station.controller.metrics.registry.getSingleMetricAsString(
        'fuelpay_pc_sales_head_attempts',
      ),
      /fuelpay_pc_sales_head_attempts\{station="st2"\} [1-9]/,
    )
    const before = cloud.sales.length
    cloud.state.salesMode = 'ok'
    station.controller.forwarder.wake()
    await until('delivered', () => cloud.sales.length >= before + 3, 15_000)
    t.same(
      cloud.sales.slice(before).map((s) => s.idempotencyKey),
      sessions,
      'in order',
    )
    t.equal(station.controller.health().deliveryFailing, undefined, 'no longer stuck')
    await waitSeen<StationStatusMessage>(
      (m) => m.type === 'station-status' && m.backlog === 0 && seen.indexOf(m) > seen.indexOf(st),
      'backlog back to 0',
    )
  },
)

t.test(
  'an operator stops a faulted or unreachable pump; it comes back suspended until resume',
  async (t) => {
    const pumpIs = (name: string) =>
      until(`pump 1 ${name}`, async () => {
        await station.controller.settled()
        return station.controller.state(1)?.name === name
      })
    await pumpIs('idle')
    const d = station.pump(1)
    d.injectFault('pulser-error')
    await pumpIs('fault')
    command('cmd-estop-fault', { op: 'emergency-stop', pump: 1 })
    t.equal((await result('cmd-estop-fault')).ok, true, 'accepted while faulted')
    t.equal(station.controller.state(1)?.stopped, true)
    d.clearFault('pulser-error')
    await pumpIs('suspended')
    const token = await makeToken(cloudKey, { stationId: 'st2', pump: 1, vehicleId: 'car7' })
    const rid = car.authorize('st2', 1, token)
    t.equal(
      (await car.waitFor<PumpRejectedMessage>(isReply(rid))).reason.code,
      'PUMP_OUT_OF_SERVICE',
      'still blocked when the fault clears',
    )
    command('cmd-resume-fault', { op: 'resume', pump: 1 })
    t.equal((await result('cmd-resume-fault')).ok, true)
    await pumpIs('idle')

    d.injectFault('comm-loss')
    await pumpIs('offline')
    command('cmd-estop-offline', { op: 'emergency-stop', pump: 1 })
    t.equal((await result('cmd-estop-offline')).ok, true, 'accepted while offline')
    d.clearFault('comm-loss')
    await pumpIs('suspended')
    command('cmd-resume-offline', { op: 'resume', pump: 1 })
    t.equal((await result('cmd-resume-offline')).ok, true)
    await pumpIs('idle')
  },
)

t.test('broker restart: the station reconnects, resubscribes and serves again', async (t) => {
  await w.stopBroker()
  await until('station sees the loss', () => !station.link.connected)
  await w.startBrokerAgain()
  await until('station reconnected', () => station.link.connected, 15_000)
  await until('car reconnected', () => car.client.connected, 15_000)
  await station.controller.settled()
  const token = await makeToken(cloudKey, { stationId: 'st2', pump: 2, vehicleId: 'car7' })
  let r: PumpAuthorizedMessage | undefined
  // The car's own resubscription may land just after ours; retry with the same requestId (idempotent).
  const rid = `rrecon${Date.now()}`
  for (let i = 0; i < 20 && !r; i++) {
    car.authorize('st2', 2, token, rid)
    r = await car.waitFor<PumpAuthorizedMessage>(isReply(rid), 500).catch(() => undefined)
  }
  t.equal(r?.type, 'pump-authorized')
  t.equal(station.controller.state(2)?.name, 'authorized')
})
