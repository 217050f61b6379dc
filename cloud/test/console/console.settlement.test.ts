import { silentLogger } from '@fuelpay/platform'
import { amountForVolume, type ConsoleServerMessage, formatAmount } from '@fuelpay/proto'
import t from 'tap'
import { computeAlerts, DEFAULT_ALERT_THRESHOLDS, settlementFailedAlert } from '../../src/console/console.alerts.ts'
import { createConsoleHub } from '../../src/console/console.hub.ts'
import { appendOutbox } from '../../src/outbox/outbox.repository.ts'
import { lockSession, updateSession } from '../../src/sessions/session.repository.ts'
import { ADMIN, command, fakeStation, openConsole, postSale, provisionOperator, provisionVehicle, startTestCloud, testDatabase } from './helpers.ts'

// A declined late capture (fuel pumped, not paid for) raises a "settlement failed" alert that
// stays until an operator acknowledges it or the session ends captured after all.
t.test('a declined late capture raises a settlement-failed alert', async (t) => {
  const tdb = await testDatabase(t)
  const cloud = await startTestCloud(t, tdb)
  const a = await provisionOperator(cloud.httpUrl, 'op-sa', ['st-sa1'])
  const b = await provisionOperator(cloud.httpUrl, 'op-sb', ['st-sb1'])
  const keyA = a.stationKeys['st-sa1']
  if (!keyA) throw new Error('station key missing')
  const st = await fakeStation(cloud, 'st-sa1')
  t.teardown(() => st.close())
  await st.status(true)
  const car = await provisionVehicle(cloud.httpUrl, 'car-settle-1')
  const ca = await openConsole(cloud.httpUrl, { apiKey: a.apiKey })
  t.teardown(() => ca.close())
  const cb = await openConsole(cloud.httpUrl, { apiKey: b.apiKey })
  t.teardown(() => cb.close())
  await ca.next('snapshot')
  await cb.next('snapshot')

  const volumeMilli = 12_345
  const amount = amountForVolume(volumeMilli, 1799, 'EUR')
  let alertId = ''
  let sessionId = ''

  await t.test('through the real settlement path: void, card drained, late sale declined', async (t) => {
    // The operator voids a hold the cloud saw no pump take; the station was offline and sold anyway.
    const auth = await car.authorizeWithToken('st-sa1', 1)
    sessionId = auth.sessionId
    const v = await command(ca, { type: 'void-session', sessionId })
    t.equal(v.ok, true, JSON.stringify(v))
    await ca.next('session', (s) => s.session.sessionId === sessionId && s.session.state === 'voided')
    await cloud.deps.db.updateTable('sim_cards').set({ available_minor: 100 }).where('token', '=', car.cardToken).execute()
    const sale = await postSale(cloud.httpUrl, { id: 'st-sa1', key: keyA }, auth, volumeMilli)
    t.equal(sale.status, 200, JSON.stringify(sale.body))
    t.equal(sale.body.state, 'failed')

    const raised = await ca.next('alert', (x) => x.alert.kind === 'settlement-failed' && x.alert.sessionId === sessionId && x.alert.active)
    alertId = raised.alert.id
    t.equal(raised.alert.severity, 'critical')
    t.equal(raised.alert.stationId, 'st-sa1')
    t.equal(raised.alert.pump, 1)
    t.equal(raised.alert.reasonCode, 'INSUFFICIENT_FUNDS')
    t.equal(raised.alert.amountMinor, amount)
    t.equal(raised.alert.amountText, formatAmount(amount, 'EUR'))
    t.match(raised.alert.message, sessionId)
    t.match(raised.alert.message, formatAmount(amount, 'EUR'))
    t.match(raised.alert.message, 'INSUFFICIENT_FUNDS')
    await ca.next('session', (s) => s.session.sessionId === sessionId && s.session.state === 'failed')
    t.notOk(
      cb.frames.some((f) => f.type === 'alert' && f.alert.sessionId === sessionId),
      'another operator sees nothing of it',
    )
  })

  await t.test('it is in the snapshot of a console that connects later, and stays', async (t) => {
    const late = await openConsole(cloud.httpUrl, { apiKey: a.apiKey })
    t.teardown(() => late.close())
    const snap = await late.next('snapshot')
    const alert = snap.alerts.find((x) => x.id === alertId)
    t.equal(alert?.kind, 'settlement-failed')
    t.equal(alert?.amountText, formatAmount(amount, 'EUR'))
    t.equal(alert?.active, true)
    // The sweep and other session traffic do not clear it.
    await st.status(false)
    await ca.next('alert', (x) => x.alert.kind === 'station-offline' && x.alert.active)
    await st.status(true)
    await ca.next('alert', (x) => x.alert.kind === 'station-offline' && !x.alert.active)
    const snap2 = await (await openConsole(cloud.httpUrl, { apiKey: a.apiKey })).next('snapshot')
    t.ok(snap2.alerts.some((x) => x.id === alertId && x.active), 'still raised')
    t.notOk(
      ca.frames.some((f) => f.type === 'alert' && f.alert.id === alertId && !f.alert.active),
      'never cleared by itself',
    )
  })

  await t.test('acknowledging: only the owner, only this kind of alert, then it clears everywhere', async (t) => {
    const other = await openConsole(cloud.httpUrl, { apiKey: a.apiKey })
    t.teardown(() => other.close())
    await other.next('snapshot')
    const fromB = await command(cb, { type: 'acknowledge-alert', alertId })
    t.equal(fromB.reason?.code, 'NOT_FOUND', 'B cannot acknowledge A alert')
    const live = await command(ca, { type: 'acknowledge-alert', alertId: 'station-offline:st-sa1' })
    t.equal(live.reason?.code, 'NOT_FOUND', 'alerts of a live condition are not cleared by hand')
    const unknown = await command(ca, { type: 'acknowledge-alert', alertId: 'settlement-failed:no-such-session' })
    t.equal(unknown.reason?.code, 'NOT_FOUND')
    ca.send({ type: 'acknowledge-alert', id: 'bad1', alertId: 'x'.repeat(200) })
    t.equal((await ca.next('error', (e) => e.id === 'bad1')).reason.code, 'SCHEMA_INVALID')
    ca.send({ type: 'acknowledge-alert', id: 'bad2', alertId: 7 })
    t.equal((await ca.next('error', (e) => e.id === 'bad2')).reason.code, 'SCHEMA_INVALID')
    const stillThere = await (await openConsole(cloud.httpUrl, { apiKey: a.apiKey })).next('snapshot')
    t.ok(stillThere.alerts.some((x) => x.id === alertId), 'refused acknowledgements change nothing')

    const ack = await command(ca, { type: 'acknowledge-alert', alertId })
    t.equal(ack.ok, true, JSON.stringify(ack))
    const cleared = await other.next('alert', (x) => x.alert.id === alertId && !x.alert.active)
    t.equal(cleared.alert.kind, 'settlement-failed', 'every console of the operator sees the clear')
    const audit = (await cloud.deps.db.selectFrom('console_audit' as never).selectAll().where('id' as never, '=', ack.auditId as never).executeTakeFirst()) as Record<string, unknown>
    t.equal(audit.command, 'acknowledge-alert')
    t.equal(audit.session_id, sessionId)
    t.equal(audit.outcome, 'ok')
    const snap = await (await openConsole(cloud.httpUrl, { apiKey: a.apiKey })).next('snapshot')
    t.notOk(
      snap.alerts.some((x) => x.id === alertId),
      'gone from new snapshots',
    )
    const twice = await command(ca, { type: 'acknowledge-alert', alertId })
    t.equal(twice.reason?.code, 'NOT_FOUND', 'no longer raised')
  })

  await t.test('an event written as the service writes it; cleared when the session ends captured', async (t) => {
    await cloud.deps.db.updateTable('sim_cards').set({ available_minor: 1_000_000 }).where('token', '=', car.cardToken).execute()
    const s2 = await car.authorize('st-sa1', 2)
    await ca.next('session', (s) => s.session.sessionId === s2)
    // As finishLateCapture writes a decline: the session failed and the event, in one transaction.
    await cloud.deps.db.transaction().execute(async (tx) => {
      const row = await lockSession(tx, s2)
      if (!row) throw new Error('no session')
      await updateSession(tx, s2, { state: 'failed', reason_code: 'DECLINED', reason_message: 'late capture of 1234 failed', settled_at: new Date() })
      await appendOutbox(tx, {
        kind: 'session.settlement-failed',
        aggregateId: s2,
        operatorId: row.operator_id,
        stationId: row.station_id,
        accountId: row.account_id,
        payload: { sessionId: s2, pump: row.pump, currency: 'EUR', lateCapture: true, state: 'failed', amountMinor: 1234, reason: 'DECLINED', message: 'declined' },
      })
    })
    const raised = await ca.next('alert', (x) => x.alert.id === `settlement-failed:${s2}` && x.alert.active)
    t.equal(raised.alert.amountText, '12.34 EUR')
    t.equal(raised.alert.reasonCode, 'DECLINED')
    t.equal(raised.alert.pump, 2)
    // The charge went through after all (say, collected on a retried forced post).
    await cloud.deps.db.transaction().execute(async (tx) => {
      const row = await lockSession(tx, s2)
      if (!row) throw new Error('no session')
      await updateSession(tx, s2, { state: 'captured', captured_minor: 1234, released_minor: Number(row.hold_amount_minor) - 1234 })
      await appendOutbox(tx, {
        kind: 'session.captured',
        aggregateId: s2,
        operatorId: row.operator_id,
        stationId: row.station_id,
        accountId: row.account_id,
        payload: { sessionId: s2, pump: row.pump, state: 'captured', capturedMinor: 1234, currency: 'EUR' },
      })
    })
    await ca.next('alert', (x) => x.alert.id === `settlement-failed:${s2}` && !x.alert.active)
    const snap = await (await openConsole(cloud.httpUrl, { apiKey: a.apiKey })).next('snapshot')
    t.notOk(
      snap.alerts.some((x) => x.id === `settlement-failed:${s2}`),
      'not in snapshots once captured',
    )
  })
})

t.test('a malformed settlement-failed payload still raises, without inventing an amount or code', async (t) => {
  const base = { eventId: 1, sessionId: 'sess-1', stationId: 'st-1', pump: 3, currency: 'EUR', createdAt: '2025-01-01T00:00:00.000Z' }
  const bad = settlementFailedAlert({ ...base, payload: { reason: '<img onerror=x>', amountMinor: 12.5, currency: 'XXX' } })
  t.equal(bad.reasonCode, 'DECLINED')
  t.equal(bad.amountMinor, undefined)
  t.equal(bad.amountText, undefined)
  t.notMatch(bad.message, '<img')
  const big = settlementFailedAlert({ ...base, payload: { reason: 'INSUFFICIENT_FUNDS', amountMinor: Number.MAX_SAFE_INTEGER + 2 } })
  t.equal(big.amountMinor, undefined, 'out-of-range amounts are not shown')
  const yen = settlementFailedAlert({ ...base, currency: 'EUR', payload: { reason: 'CARD_EXPIRED', amountMinor: 1500, currency: 'JPY' } })
  t.equal(yen.amountText, formatAmount(1500, 'JPY'), 'the event currency wins when valid')
  const alerts = computeAlerts(
    {
      stations: [],
      pumps: [],
      sessions: [{ id: 'sess-1', station_id: 'st-1', pump: 3, state: 'completed', settle_action: 'late_capture', created_at: base.createdAt, updated_at: base.createdAt }],
      settlementFailures: [{ ...base, payload: { reason: 'DECLINED', amountMinor: 100, currency: 'EUR' } }],
    },
    Date.parse(base.createdAt) + 3_600_000,
    DEFAULT_ALERT_THRESHOLDS,
  )
  t.equal(alerts.size, 1, 'one alert per session')
  t.equal(alerts.get('settlement-failed:sess-1')?.reasonCode, 'DECLINED', 'the decline wins over a stuck settlement')
})

// The embedded database: the console's outbox reader is woken by PGlite's LISTEN, not only by polling.
t.test('on PGlite the console listens for outbox events', async (t) => {
  const cloud = await startTestCloud(t, {}, { pglite: true })
  t.equal(cloud.database.kind, 'pglite')
  const op = await provisionOperator(cloud.httpUrl, 'op-pg', ['st-pg1'])
  const c = await openConsole(cloud.httpUrl, { apiKey: op.apiKey })
  t.teardown(() => c.close())
  await c.next('snapshot')
  const stats = (await (await fetch(`${cloud.httpUrl}/v1/console/stats`, { headers: { authorization: `Bearer ${ADMIN}` }, signal: AbortSignal.timeout(10_000) })).json()) as {
    wake: string
    clients: number
  }
  t.equal(stats.wake, 'listen', 'cloud.ts hands the database handle through build() to the console')
  t.equal(stats.clients, 1)

  // A hub on the same handle that would not poll for ten minutes still gets the event at once: LISTEN did it.
  const hub = createConsoleHub({ handle: cloud.database, log: silentLogger(), pollMs: 600_000, alertSweepMs: 600_000 })
  t.teardown(() => hub.close())
  const got: ConsoleServerMessage[] = []
  let wake: () => void = () => {}
  const arrived = new Promise<void>((resolve) => {
    wake = resolve
  })
  await hub.attach({
    operatorId: 'op-pg',
    send: (frame) => {
      got.push(JSON.parse(frame) as ConsoleServerMessage)
      wake()
    },
  })
  await appendOutbox(cloud.deps.db, { kind: 'station.status', aggregateId: 'st-pg1', operatorId: 'op-pg', stationId: 'st-pg1', payload: { stationId: 'st-pg1', online: true, backlog: 0 } })
  const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 10_000).unref())
  t.not(await Promise.race([arrived, timer]), 'timeout', 'the event arrived without a poll')
  t.same(
    got.map((f) => f.type),
    ['station'],
  )
})
