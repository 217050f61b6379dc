import type {
  PumpAuthorizedMessage,
  PumpRejectedMessage,
  SessionEndedMessage,
} from '@fuelpay/proto'
import { generateSigningKey } from '@fuelpay/proto'
import t from 'tap'
import { buildHealthServer } from '../src/http/health.server.ts'
import type { Journal } from '../src/journal/journal.repository.ts'
import { makeToken, startStationWorld, until } from './helpers/station-fixture.ts'

// A journal that fails when told to: the database going away under a running station.
const failing = { authorize: 0, sale: 0 }
const w = await startStationWorld({
  stationId: 'st3',
  config: { limits: { nozzleTimeoutMs: 300, noFlowTimeoutMs: 60_000, maxSessionMs: 600_000 } },
  wrapJournal: (j: Journal): Journal => ({
    ...j,
    async recordAuthorization(input) {
      if (failing.authorize > 0) {
        failing.authorize--
        throw new Error('database unavailable')
      }
      return j.recordAuthorization(input)
    },
    async recordSale(input) {
      if (failing.sale > 0) {
        failing.sale--
        throw new Error('database unavailable')
      }
      return j.recordSale(input)
    },
  }),
})
t.teardown(w.close)
const { cloudKey, cloud, station, car } = w
const isReply = (requestId: string) => (m: { type: string; requestId?: string }) =>
  (m.type === 'pump-authorized' || m.type === 'pump-rejected') && m.requestId === requestId

t.test('journal unavailable: the pump is not activated, the car is told', async (t) => {
  failing.authorize = 1
  const token = await makeToken(cloudKey, { stationId: 'st3', pump: 1, vehicleId: 'car7' })
  const rid = car.authorize('st3', 1, token)
  const r = await car.waitFor<PumpRejectedMessage>(isReply(rid))
  t.equal(r.type, 'pump-rejected')
  t.equal(r.reason.code, 'UNAVAILABLE')
  t.equal(station.controller.state(1)?.name, 'idle')
  t.equal(station.pump(1).authorized, undefined, 'dispenser not armed')
  // the same token works once the journal is back (it was never marked used)
  const rid2 = car.authorize('st3', 1, token)
  const ok = await car.waitFor<PumpAuthorizedMessage>(isReply(rid2))
  t.equal(ok.type, 'pump-authorized')
  // a sale that cannot be journaled at first is retried, then delivered
  failing.sale = 2
  const ended = await car.waitFor<SessionEndedMessage>(
    (m) => m.type === 'session-ended' && m.sessionId === ok.sessionId,
  )
  t.equal(ended.reason.code, 'NOZZLE_TIMEOUT')
  t.equal(failing.sale, 0, 'failed twice before it was written')
  await until('delivered', () => cloud.sales.some((s) => s.idempotencyKey === ok.sessionId))
})

t.test('/healthz and /metrics', async (t) => {
  const app = buildHealthServer({ controller: station.controller })
  t.teardown(() => app.close())
  const h = await app.inject({ method: 'GET', url: '/healthz' })
  t.equal(h.statusCode, 200)
  const body = h.json() as {
    ok: boolean
    stationId: string
    mqttConnected: boolean
    pumps: { pump: number; state: string }[]
  }
  t.equal(body.stationId, 'st3')
  t.equal(body.mqttConnected, true)
  t.same(
    body.pumps.map((p) => p.pump),
    [1, 2],
  )
  const m = await app.inject({ method: 'GET', url: '/metrics' })
  t.equal(m.statusCode, 200)
  t.match(m.body, /fuelpay_pc_authorizations_total\{result="UNAVAILABLE",station="st3"\} 1/)
  t.match(m.body, /fuelpay_pc_authorizations_total\{result="ok",station="st3"\} 1/)
  t.match(m.body, /fuelpay_pc_pump_state\{pump="1",state="idle",station="st3"\}/)
  const nf = await app.inject({ method: 'GET', url: '/nope' })
  t.equal(nf.statusCode, 404)
})

t.test(
  'temporary refusals are not remembered: the same request tried again goes through',
  async (t) => {
    const idle = (pump: number) =>
      until(`pump ${pump} idle`, async () => {
        await station.controller.settled()
        return station.controller.state(pump)?.name === 'idle'
      })
    // The journal is away for a moment: UNAVAILABLE; the car's retry keeps its request id.
    await idle(2)
    failing.authorize = 1
    const token = await makeToken(cloudKey, { stationId: 'st3', pump: 2, vehicleId: 'car7' })
    const rid = car.authorize('st3', 2, token)
    const r = await car.waitFor<PumpRejectedMessage>(isReply(rid))
    t.equal(r.reason.code, 'UNAVAILABLE')
    car.inbox.length = 0
    car.authorize('st3', 2, token, rid)
    const ok = await car.waitFor<PumpAuthorizedMessage>(isReply(rid))
    t.equal(ok.type, 'pump-authorized', 'not the stale UNAVAILABLE')
    car.cancel('st3', 2, ok.sessionId)
    await car.waitFor((m) => m.type === 'session-ended' && m.sessionId === ok.sessionId)

    // A token signed with a key the station has not fetched yet: TOKEN_UNKNOWN_KEY until it has.
    await idle(2)
    const k2 = await generateSigningKey('cloud-k2')
    const token2 = await makeToken(k2, { stationId: 'st3', pump: 2, vehicleId: 'car7' })
    const rid2 = car.authorize('st3', 2, token2)
    const r2 = await car.waitFor<PumpRejectedMessage>(isReply(rid2))
    t.equal(r2.reason.code, 'TOKEN_UNKNOWN_KEY')
    cloud.state.jwks = { keys: [cloudKey.publicJwk, k2.publicJwk] }
    t.ok(await station.controller.keys.refresh(), 'the station fetches the new key')
    car.inbox.length = 0
    car.authorize('st3', 2, token2, rid2)
    const ok2 = await car.waitFor<PumpAuthorizedMessage>(isReply(rid2))
    t.equal(ok2.type, 'pump-authorized', 'not the stale TOKEN_UNKNOWN_KEY')
    car.cancel('st3', 2, ok2.sessionId)
    await car.waitFor((m) => m.type === 'session-ended' && m.sessionId === ok2.sessionId)

    // A definitive refusal is still remembered: the duplicate gets the same answer, nothing is armed.
    await idle(2)
    const wrongPump = await makeToken(cloudKey, { stationId: 'st3', pump: 1, vehicleId: 'car7' })
    const rid3 = car.authorize('st3', 2, wrongPump)
    t.equal((await car.waitFor<PumpRejectedMessage>(isReply(rid3))).reason.code, 'WRONG_PUMP')
    car.inbox.length = 0
    car.authorize('st3', 2, wrongPump, rid3)
    t.equal((await car.waitFor<PumpRejectedMessage>(isReply(rid3))).reason.code, 'WRONG_PUMP')
  },
)
