import { reason } from '@fuelpay/proto'
import t from 'tap'
import { stationPumps } from '../../src/stations/station.repository.ts'
import { command, fakeStation, openConsole, postSale, provisionOperator, provisionVehicle, startTestCloud, testDatabase, until } from './helpers.ts'

// Issue 6, console protocol: snapshot then deltas, tenant isolation, every
// command answered and audited, bad input refused with stable codes.
t.test('console protocol on one cloud', async (t) => {
  const tdb = await testDatabase(t)
  const cloud = await startTestCloud(t, tdb)
  const a = await provisionOperator(cloud.httpUrl, 'op-a', ['st-a1'])
  const b = await provisionOperator(cloud.httpUrl, 'op-b', ['st-b1'])
  // Answers as the pump controller does (see fakeStation): a void-session for a session it has
  // never seen is ok and revoked; for one it saw end, SESSION_NOT_FOUND.
  const stA = await fakeStation(cloud, 'st-a1')
  t.teardown(() => stA.close())
  const stB = await fakeStation(cloud, 'st-b1')
  t.teardown(() => stB.close())
  await stA.status(true)
  await stA.pumpState({ pump: 1, state: 'idle', volumeMilli: 0, amountMinor: 0, currency: 'EUR' })

  const auditCount = async () =>
    Number((await cloud.deps.db.selectFrom('console_audit' as never).select((eb) => eb.fn.countAll().as('n')).executeTakeFirst() as { n: number } | undefined)?.n ?? 0)

  await t.test('a bad API key is refused and the socket closed with 4001', async (t) => {
    const c = await openConsole(cloud.httpUrl, { apiKey: 'fpo_not-a-real-key-000000' })
    const err = await c.next('error')
    t.equal(err.reason.code, 'UNAUTHENTICATED')
    t.equal((await c.closed).code, 4001)
  })

  await t.test('a first frame that is not a hello closes with 4002', async (t) => {
    const c = await openConsole(cloud.httpUrl)
    c.send({ type: 'ping', id: 'p1' })
    const err = await c.next('error')
    t.equal(err.reason.code, 'UNAUTHENTICATED')
    t.equal((await c.closed).code, 4002)
  })

  const ca = await openConsole(cloud.httpUrl, { apiKey: a.apiKey })
  t.teardown(() => ca.close())
  const cb = await openConsole(cloud.httpUrl, { apiKey: b.apiKey })
  t.teardown(() => cb.close())

  await t.test('welcome and a snapshot of only the own stations', async (t) => {
    const w = await ca.next('welcome')
    t.equal(w.operatorId, 'op-a')
    const snap = await ca.next('snapshot')
    t.same(
      snap.stations.map((s) => s.id),
      ['st-a1'],
      'operator A sees only its station',
    )
    const st = snap.stations[0]
    t.equal(st?.online, true)
    t.equal(st?.pumps.length, 2)
    t.equal(st?.pumps[0]?.state, 'idle', 'pump 1 as last reported')
    t.equal(st?.pumps[1]?.state, 'offline', 'pump 2 never reported: offline')
    t.same(
      st?.pumps[0]?.grades.map((g) => g.priceText),
      ['1.799 EUR/L', '1.859 EUR/L'],
    )
    const snapB = await cb.next('snapshot')
    t.same(
      snapB.stations.map((s) => s.id),
      ['st-b1'],
      'operator B sees only its station',
    )
  })

  await t.test('pump ticks arrive live, formatted, only to the owner', async (t) => {
    await stA.pumpState({ pump: 1, state: 'fueling', sessionId: 'sess-live-1', grade: 'diesel', unitPriceMilli: 1799, volumeMilli: 12_345, amountMinor: 2221, currency: 'EUR' })
    const f = await ca.next('pump', (p) => p.pump.state === 'fueling')
    t.equal(f.pump.amountText, '22.21 EUR')
    t.equal(f.pump.volumeText, '12.345 L')
    t.equal(f.pump.sessionId, 'sess-live-1')
    // B's own station ticks reach B; A's never do.
    await stB.pumpState({ pump: 2, state: 'fueling', grade: 'diesel', unitPriceMilli: 1799, volumeMilli: 1000, amountMinor: 180, currency: 'EUR' })
    const fb = await cb.next('pump', (p) => p.pump.stationId === 'st-b1')
    t.equal(fb.pump.pump, 2)
    t.notOk(
      cb.frames.some((x) => x.type === 'pump' && x.pump.stationId === 'st-a1'),
      'B never receives A pump frames',
    )
    t.notOk(
      ca.frames.some((x) => x.type === 'pump' && x.pump.stationId === 'st-b1'),
      'A never receives B pump frames',
    )
  })

  await t.test('station offline raises an alert, online clears it', async (t) => {
    await stA.status(false)
    const off = await ca.next('station', (s) => !s.online)
    t.equal(off.stationId, 'st-a1')
    const alert = await ca.next('alert', (x) => x.alert.kind === 'station-offline' && x.alert.active)
    t.equal(alert.alert.severity, 'critical')
    await stA.status(true)
    await ca.next('alert', (x) => x.alert.id === alert.alert.id && !x.alert.active)
    await stA.pumpState({ pump: 2, state: 'fault', volumeMilli: 0, amountMinor: 0, currency: 'EUR', reason: reason('PUMP_FAULT', 'pump fault: meter') })
    const fault = await ca.next('alert', (x) => x.alert.kind === 'pump-fault' && x.alert.active)
    t.equal(fault.alert.pump, 2)
    t.match(fault.alert.message, /meter/)
    t.notOk(
      cb.frames.some((x) => x.type === 'alert' && x.alert.stationId === 'st-a1'),
      'B sees none of A alerts',
    )
  })

  await t.test('emergency stop reaches the station cmd topic, is answered and audited', async (t) => {
    const before = stA.commands.length
    const r = await command(ca, { type: 'emergency-stop', stationId: 'st-a1', pump: 1 })
    t.equal(r.ok, true, JSON.stringify(r))
    const sent = stA.commands[before]
    t.same(sent?.command, { op: 'emergency-stop', pump: 1 }, 'the station received the command')
    const row = await cloud.deps.db.selectFrom('console_audit' as never).selectAll().where('id' as never, '=', r.auditId as never).executeTakeFirst() as Record<string, unknown>
    t.equal(row.operator_id, 'op-a')
    t.equal(row.command, 'emergency-stop')
    t.equal(row.outcome, 'ok')
    t.equal(row.station_command_id, sent?.commandId)
    const resume = await command(ca, { type: 'resume-pump', stationId: 'st-a1', pump: 1 })
    t.equal(resume.ok, true)
    t.same(stA.commands.at(-1)?.command, { op: 'resume', pump: 1 })
  })

  await t.test('a station refusal comes back as the reason', async (t) => {
    const s2 = await fakeStation(cloud, 'st-b1', () => reason('PUMP_FAULT'))
    t.teardown(() => s2.close())
    await stB.close()
    const r = await command(cb, { type: 'emergency-stop', stationId: 'st-b1', pump: 1 })
    t.equal(r.ok, false)
    t.equal(r.reason?.code, 'PUMP_FAULT')
  })

  await t.test('commands on another operator\'s station are refused and reach no station', async (t) => {
    const sentToB = stB.commands.length
    const r = await command(ca, { type: 'emergency-stop', stationId: 'st-b1', pump: 1 })
    t.equal(r.ok, false)
    t.equal(r.reason?.code, 'UNKNOWN_STATION')
    const p = await command(ca, { type: 'set-price', stationId: 'st-b1', grade: 'diesel', unitPriceMilli: 1 })
    t.equal(p.reason?.code, 'UNKNOWN_STATION')
    t.equal(stB.commands.length, sentToB, 'nothing published to B')
    const unknownPump = await command(ca, { type: 'emergency-stop', stationId: 'st-a1', pump: 9 })
    t.equal(unknownPump.reason?.code, 'UNKNOWN_PUMP')
    const row = await cloud.deps.db.selectFrom('console_audit' as never).selectAll().where('id' as never, '=', r.auditId as never).executeTakeFirst() as Record<string, unknown>
    t.equal(row.outcome, 'refused', 'refusals are audited too')
    t.equal(row.reason_code, 'UNKNOWN_STATION')
  })

  await t.test('set-price goes to the station, then the price list, and every console of the operator sees it', async (t) => {
    const ca2 = await openConsole(cloud.httpUrl, { apiKey: a.apiKey })
    t.teardown(() => ca2.close())
    await ca2.next('snapshot')
    const r = await command(ca, { type: 'set-price', stationId: 'st-a1', grade: 'diesel', unitPriceMilli: 1819 })
    t.equal(r.ok, true, JSON.stringify(r))
    t.same(stA.commands.at(-1)?.command, { op: 'set-price', grade: 'diesel', unitPriceMilli: 1819 })
    const prices = await ca2.next('prices', (p) => p.stationId === 'st-a1')
    t.same(
      prices.pumps.map((p) => p.grades.find((g) => g.grade === 'diesel')?.priceText),
      ['1.819 EUR/L', '1.819 EUR/L'],
    )
    const listed = (await stationPumps(cloud.deps.db, ['st-a1'])).get('st-a1') ?? []
    t.same(
      listed.map((p) => p.grades.find((g) => g.grade === 'diesel')?.unitPriceMilli),
      [1819, 1819],
      'the cloud price list follows the station',
    )
    const bad = await command(ca, { type: 'set-price', stationId: 'st-a1', grade: 'lpg', unitPriceMilli: 999 })
    t.equal(bad.reason?.code, 'UNKNOWN_GRADE')
  })

  await t.test('void-session: a held hold, a stuck authorized pump, fuel flowing, another tenant', async (t) => {
    const none = await command(ca, { type: 'void-session', sessionId: 'no-such-session' })
    t.equal(none.reason?.code, 'SESSION_NOT_FOUND')
    const car = await provisionVehicle(cloud.httpUrl, 'car-console-1')

    const held = await car.authorize('st-a1', 1)
    const seen = await ca.next('session', (s) => s.session.sessionId === held)
    t.equal(seen.session.state, 'held', 'the new session appears live')
    t.equal(seen.session.holdText, '50.00 EUR')
    const fromB = await command(cb, { type: 'void-session', sessionId: held })
    t.equal(fromB.reason?.code, 'SESSION_NOT_FOUND', 'B cannot void A session')
    const r = await command(ca, { type: 'void-session', sessionId: held })
    t.equal(r.ok, true, JSON.stringify(r))
    const voided = await ca.next('session', (s) => s.session.sessionId === held && s.session.state === 'voided')
    t.equal(voided.session.reasonCode, 'CANCELLED')
    const told = stA.commands.at(-1)
    t.same(told?.command, { op: 'void-session', sessionId: held }, 'the station is told to forget it')
    // The station never saw the session: it confirms and records the revocation (its token will be refused).
    await until(() => stA.revoked.has(held), 'the station revokes the unseen session')
    t.ok(stA.answers.has(told?.commandId ?? '') && stA.answers.get(told?.commandId ?? '') === undefined, 'and answers ok')
    const heldAudit = await cloud.deps.db.selectFrom('console_audit' as never).selectAll().where('id' as never, '=', r.auditId as never).executeTakeFirst() as Record<string, unknown>
    t.equal(heldAudit.outcome, 'ok')
    t.equal(heldAudit.station_command_id, told?.commandId, 'the station command is audited')
    const again = await command(ca, { type: 'void-session', sessionId: held })
    t.equal(again.reason?.code, 'SESSION_STATE_CONFLICT', 'a voided session is not voided twice')
    ca.send({ type: 'session-detail', id: 'd1', sessionId: held })
    const detail = await ca.next('session-detail', (d) => d.id === 'd1')
    t.same(
      detail.ledger.map((e) => e.kind),
      ['hold', 'release'],
    )
    t.same(
      detail.ledger[1]?.postings.map((p) => p.amountText),
      ['50.00 EUR', '-50.00 EUR'],
    )
    cb.send({ type: 'session-detail', id: 'd2', sessionId: held })
    t.equal((await cb.next('error', (e) => e.id === 'd2')).reason.code, 'SESSION_NOT_FOUND', 'B cannot read A session')

    // A pump took the token and still holds it: the station cancels it, and its zero sale voids the hold.
    const armed = await car.authorizeWithToken('st-a1', 2)
    await stA.pumpState({ pump: 2, state: 'authorized', sessionId: armed.sessionId, volumeMilli: 0, amountMinor: 0, currency: 'EUR' })
    await ca.next('session', (s) => s.session.sessionId === armed.sessionId && s.session.state === 'pump_authorized')
    const r1 = await command(ca, { type: 'void-session', sessionId: armed.sessionId })
    t.equal(r1.ok, true, JSON.stringify(r1))
    t.same(stA.commands.at(-1)?.command, { op: 'void-session', sessionId: armed.sessionId })
    t.notOk(stA.revoked.has(armed.sessionId), 'a session on a pump is cancelled there, not revoked')
    const still = await cloud.deps.db.selectFrom('sessions').select(['state', 'settle_action']).where('id', '=', armed.sessionId).executeTakeFirstOrThrow()
    t.same(still, { state: 'pump_authorized', settle_action: null }, 'the cloud waits for the station\'s sale')
    await stA.pumpState({ pump: 2, state: 'idle', volumeMilli: 0, amountMinor: 0, currency: 'EUR' })
    const keyA = a.stationKeys['st-a1']
    if (!keyA) throw new Error('station key missing')
    const zero = await postSale(cloud.httpUrl, { id: 'st-a1', key: keyA }, armed, 0)
    t.equal(zero.status, 200, JSON.stringify(zero.body))
    await ca.next('session', (s) => s.session.sessionId === armed.sessionId && s.session.state === 'voided')

    // A pump took the token but the session has since ended at the station: no fuel can flow, the cloud voids.
    const stuck = await car.authorize('st-a1', 2)
    await stA.pumpState({ pump: 2, state: 'authorized', sessionId: stuck, volumeMilli: 0, amountMinor: 0, currency: 'EUR' })
    await ca.next('session', (s) => s.session.sessionId === stuck && s.session.state === 'pump_authorized')
    await stA.pumpState({ pump: 2, state: 'idle', volumeMilli: 0, amountMinor: 0, currency: 'EUR' })
    const r2 = await command(ca, { type: 'void-session', sessionId: stuck })
    t.equal(r2.ok, true, JSON.stringify(r2))
    const sent2 = stA.commands.at(-1)
    t.same(sent2?.command, { op: 'void-session', sessionId: stuck })
    t.equal(stA.answers.get(sent2?.commandId ?? '')?.code, 'SESSION_NOT_FOUND', 'the station no longer has it')
    await ca.next('session', (s) => s.session.sessionId === stuck && s.session.state === 'voided')

    const flowing = await car.authorize('st-a1', 1)
    await stA.pumpState({ pump: 1, state: 'fueling', sessionId: flowing, grade: 'diesel', unitPriceMilli: 1799, volumeMilli: 500, amountMinor: 90, currency: 'EUR' })
    await ca.next('session', (s) => s.session.sessionId === flowing && s.session.state === 'fueling')
    const r3 = await command(ca, { type: 'void-session', sessionId: flowing })
    t.equal(r3.reason?.code, 'FUEL_ALREADY_FLOWING')
  })

  await t.test('bad input: an error with a stable code, nothing changes', async (t) => {
    const before = await auditCount()
    const sentA = stA.commands.length
    ca.sendRaw('{not json')
    t.equal((await ca.next('error')).reason.code, 'BAD_JSON')
    ca.send({ type: 'launch-rockets', id: 'x1' })
    const unknown = await ca.next('error')
    t.equal(unknown.reason.code, 'SCHEMA_INVALID')
    t.equal(unknown.id, 'x1', 'the error names the request')
    ca.send({ type: 'emergency-stop', id: 'x2', stationId: 'st-a1', pump: 0 })
    t.equal((await ca.next('error', (e) => e.id === 'x2')).reason.code, 'SCHEMA_INVALID')
    ca.send({ type: 'set-price', id: 'x3', stationId: 'st-a1', grade: 'diesel', unitPriceMilli: 1.5 })
    t.equal((await ca.next('error', (e) => e.id === 'x3')).reason.code, 'SCHEMA_INVALID', 'no floats for prices')
    ca.send({ type: 'emergency-stop', id: 'x4', stationId: 'st-a1', pump: 1, extra: true })
    t.equal((await ca.next('error', (e) => e.id === 'x4')).reason.code, 'SCHEMA_INVALID')
    ca.send({ type: 'ping', id: 'big', pad: 'x'.repeat(8000) })
    t.equal((await ca.next('error')).reason.code, 'PAYLOAD_TOO_LARGE')
    ca.sendRaw(Buffer.from([1, 2, 3]))
    t.equal((await ca.next('error')).reason.code, 'BAD_JSON', 'binary frames refused')
    ca.send({ type: 'ping', id: 'still-alive' })
    await ca.next('pong', (p) => p.id === 'still-alive')
    t.equal(await auditCount(), before, 'no audit rows for bad input')
    t.equal(stA.commands.length, sentA, 'no station commands for bad input')
  })

  await t.test('a frame above the hard limit closes the socket with 1009', async (t) => {
    const c = await openConsole(cloud.httpUrl, { apiKey: a.apiKey })
    await c.next('snapshot')
    c.sendRaw('x'.repeat(70 * 1024))
    t.equal((await c.closed).code, 1009)
  })
})
