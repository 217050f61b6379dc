import { createTestDatabase } from '@fuelpay/platform/test-db'
import type { SaleRecord } from '@fuelpay/proto'
import t from 'tap'
import { openJournal } from '../../src/journal/journal.open.ts'
import { initialPumpState, type PumpSession, transition } from '../../src/pump/pump.machine.ts'

const tdb = await createTestDatabase()
t.teardown(() => tdb.cleanup())
const open = () => openJournal({ url: tdb.url, dataDir: tdb.dataDir })
let { journal, close } = await open()
t.teardown(() => close())

const T0 = 1_700_000_000_000
const limits = { nozzleTimeoutMs: 60_000, noFlowTimeoutMs: 120_000, maxSessionMs: 900_000 }
const idle = initialPumpState({ pump: 3, prices: { diesel: 1799 }, currency: 'EUR', limits })
const authorizeFor = (sessionId: string, tokenId: string, requestId = `req-${sessionId}`) =>
  transition(idle, {
    type: 'authorize',
    nowMs: T0,
    auth: {
      sessionId,
      tokenId,
      requestId,
      vehicleId: 'car7',
      maxAmountMinor: 5000,
      maxVolumeMilli: 50_000,
      currency: 'EUR',
      grades: ['diesel'],
      tokenExpMs: T0 + 120_000,
    },
  }).state

const saleFor = (session: PumpSession, seq: number): SaleRecord => ({
  sessionId: session.sessionId,
  tokenId: session.tokenId,
  stationId: 'st1',
  pump: 3,
  vehicleId: session.vehicleId,
  outcome: 'lapsed',
  volumeMilli: 0,
  volumeUnit: 'L',
  amountMinor: 0,
  currency: 'EUR',
  startedAt: T0,
  endedAt: T0 + 1,
  seq,
  totalizerStartMilli: 0,
  totalizerEndMilli: 0,
})

t.test('migrations are idempotent (second open)', async (t) => {
  const again = await open()
  await again.close()
  t.pass()
})

t.test('a token id is used once; the session is found by its request id', async (t) => {
  const s = authorizeFor('ses1', 'tok-aaaa1')
  t.equal(
    await journal.recordAuthorization({
      session: s.session as PumpSession,
      pumpState: s,
      keepUntilMs: T0 + 150_000,
      nowMs: T0,
    }),
    'ok',
  )
  t.equal(await journal.isTokenUsed('tok-aaaa1'), true)
  t.equal(await journal.isTokenUsed('tok-other'), false)
  t.equal(
    await journal.recordAuthorization({
      session: s.session as PumpSession,
      pumpState: s,
      keepUntilMs: T0 + 150_000,
      nowMs: T0,
    }),
    'replayed',
  )
  const s2 = authorizeFor('ses1', 'tok-bbbb2')
  t.equal(
    await journal.recordAuthorization({
      session: s2.session as PumpSession,
      pumpState: s2,
      keepUntilMs: T0,
      nowMs: T0,
    }),
    'replayed',
    'a second token for the same session',
  )
  t.equal(await journal.isTokenUsed('tok-bbbb2'), false, 'the refused one left nothing behind')
  const found = await journal.findSessionByRequest('car7', 'req-ses1')
  t.equal(found?.sessionId, 'ses1')
  t.equal(
    await journal.findSessionByRequest('car8', 'req-ses1'),
    undefined,
    'request ids are per vehicle',
  )
  const pumps = await journal.loadPumps()
  t.equal(pumps.get(3)?.name, 'authorized')
  t.equal(pumps.get(3)?.session?.sessionId, 'ses1')
})

t.test('used tokens are kept until their expiry plus skew, then purged', async (t) => {
  t.equal(await journal.purgeUsedTokens(T0 + 149_999), 0)
  t.equal(await journal.isTokenUsed('tok-aaaa1'), true)
  t.equal(await journal.purgeUsedTokens(T0 + 150_001), 1)
  t.equal(await journal.isTokenUsed('tok-aaaa1'), false)
})

t.test(
  'a session voided before it was seen: its authorization is refused, until purged',
  async (t) => {
    const T1 = T0 + 10_000_000
    const revoke = (sessionId: string, commandId: string) =>
      journal.revokeSession?.({ sessionId, commandId, keepUntilMs: T1 + 3_660_000, nowMs: T1 })
    t.equal(await revoke('ses-void', 'cmd-void-0001'), 'revoked')
    t.equal(await revoke('ses-void', 'cmd-void-0002'), 'revoked', 'idempotent')
    t.equal(await journal.isSessionRevoked?.('ses-void'), true)
    t.equal(await journal.isSessionRevoked?.('ses-other'), false)
    // ses1 was authorized above: the station saw it, so nothing is recorded.
    t.equal(await revoke('ses1', 'cmd-void-0003'), 'seen')
    t.equal(await journal.isSessionRevoked?.('ses1'), false)

    const s = authorizeFor('ses-void', 'tok-void1')
    const before = await journal.loadPumps()
    t.equal(
      await journal.recordAuthorization({
        session: s.session as PumpSession,
        pumpState: s,
        keepUntilMs: T1 + 150_000,
        nowMs: T1,
      }),
      'revoked',
    )
    t.equal(await journal.isTokenUsed('tok-void1'), false, 'token not used')
    t.equal(await journal.findSessionByRequest('car7', 'req-ses-void'), undefined, 'no session')
    t.same(await journal.loadPumps(), before, 'pump state unchanged')

    // Survives a reopen (a restart), then goes with the purge once no token can name it.
    await close()
    ;({ journal, close } = await open())
    t.equal(await journal.isSessionRevoked?.('ses-void'), true)
    t.equal(await journal.purgeUsedTokens(T1 + 3_659_999), 0)
    t.equal(await journal.isSessionRevoked?.('ses-void'), true)
    t.equal(await journal.purgeUsedTokens(T1 + 3_660_001), 1)
    t.equal(await journal.isSessionRevoked?.('ses-void'), false)
  },
)

t.test('sales get a station-wide seq, once per session, and survive a reopen', async (t) => {
  const a = authorizeFor('ses-a', 'tok-a0000')
  const b = authorizeFor('ses-b', 'tok-b0000')
  for (const s of [a, b])
    await journal.recordAuthorization({
      session: s.session as PumpSession,
      pumpState: s,
      keepUntilMs: T0 + 150_000,
      nowMs: T0,
    })
  let builds = 0
  const record = (s: typeof a) =>
    journal.recordSale({
      sessionId: s.session?.sessionId as string,
      pumpState: idle,
      nowMs: T0,
      build: async (seq) => {
        builds++
        return { sale: saleFor(s.session as PumpSession, seq), saleJws: `jws-${seq}` }
      },
    })
  const ra = await record(a)
  const rb = await record(b)
  t.equal(rb.seq, ra.seq + 1)
  const again = await record(a)
  t.equal(again.existed, true)
  t.equal(again.seq, ra.seq)
  t.equal(builds, 2, 'an existing sale is not built again')
  t.equal(await journal.backlog(), 2)
  t.equal((await journal.nextPendingSale())?.seq, ra.seq, 'oldest first')
  await journal.noteSaleAttempt(ra.seq, '503')
  await journal.markSaleAcked(ra.seq, { ok: true }, T0 + 5)
  t.equal((await journal.nextPendingSale())?.seq, rb.seq)
  await close()
  ;({ journal, close } = await open())
  t.equal(await journal.backlog(), 1, 'pending sales survive a restart')
  const all = await journal.listSales()
  t.same(
    all.map((s) => [s.seq, s.state]),
    [
      [ra.seq, 'acked'],
      [rb.seq, 'pending'],
    ],
  )
  t.equal(all[0]?.attempts, 1)
  t.equal(all[1]?.sale.sessionId, 'ses-b')
  await journal.markSaleRejected(rb.seq, 'SALE_MISMATCH')
  t.equal(await journal.backlog(), 0)
  t.equal(
    (await journal.loadPumps()).get(3)?.name,
    'idle',
    'the pump state was written with the sale',
  )
})

t.test('key-value store (cached JWKS)', async (t) => {
  t.equal(await journal.getValue('jwks'), undefined)
  await journal.setValue('jwks', { keys: [{ kid: 'a' }] }, T0)
  await journal.setValue('jwks', { keys: [{ kid: 'b' }] }, T0)
  t.same(await journal.getValue('jwks'), { keys: [{ kid: 'b' }] })
})

// One PGlite directory must never be opened twice at once; schemas are for a shared PostgreSQL.
t.test(
  'journals of two stations in one database, each in its own schema',
  { skip: tdb.url ? false : 'needs PostgreSQL' },
  async (t) => {
    const a = await openJournal({ url: tdb.url, dataDir: tdb.dataDir, schema: 'pc_st_a' })
    const b = await openJournal({ url: tdb.url, dataDir: tdb.dataDir, schema: 'pc_st_b' })
    t.teardown(async () => {
      await a.close()
      await b.close()
    })
    const s = authorizeFor('ses-schema', 'tok-schema1')
    t.equal(
      await a.journal.recordAuthorization({
        session: s.session as PumpSession,
        pumpState: s,
        keepUntilMs: T0 + 150_000,
        nowMs: T0,
      }),
      'ok',
    )
    t.equal(await a.journal.isTokenUsed('tok-schema1'), true)
    t.equal(await b.journal.isTokenUsed('tok-schema1'), false, 'separate')
    t.equal(await journal.isTokenUsed('tok-schema1'), false, 'and apart from the default schema')
    const again = await openJournal({ url: tdb.url, dataDir: tdb.dataDir, schema: 'pc_st_a' })
    t.equal(
      await again.journal.isTokenUsed('tok-schema1'),
      true,
      'reopen finds it; migration idempotent',
    )
    await again.close()
    await t.rejects(openJournal({ url: tdb.url, schema: 'Bad;Name' }), /bad journal schema/)
  },
)
