import { createTestDatabase } from '@fuelpay/platform/test-db'
import { sql } from 'kysely'
import t from 'tap'
import { loadConfig } from '../../src/config.ts'
import { openCloudDatabase } from '../../src/db/open.ts'
import { appendOutbox, purgeOutbox, readOutbox } from '../../src/outbox/outbox.repository.ts'

t.test('the outbox keeps its retention window and settlement-failed alerts; older events go in batches', async (t) => {
  const tdb = await createTestDatabase()
  const handle = await openCloudDatabase({ databaseUrl: tdb.url, dataDir: tdb.dataDir })
  t.teardown(async () => {
    await handle.close()
    await tdb.cleanup()
  })
  const db = handle.db
  const day = 86_400_000
  const now = Date.parse('2026-12-07T12:00:00Z')
  const at = async (daysAgo: number, kind: string, id: string) => {
    await appendOutbox(db, { kind, aggregateId: id, payload: {} })
    await sql`UPDATE outbox SET created_at = ${new Date(now - daysAgo * day)} WHERE aggregate_id = ${id}`.execute(db)
  }
  for (let i = 0; i < 7; i++) await at(10, 'pump.state', `old-${i}`)
  await at(9, 'session.settlement-failed', 'alert')
  await at(8, 'session.captured', 'old-captured')
  await at(1, 'pump.state', 'new-1')
  await at(0, 'session.held', 'new-2')
  const before = new Date(now - 7 * day)

  t.equal(await purgeOutbox(db, before, { batch: 3, maxBatches: 2 }), 6, 'at most two batches of three in one call')
  t.equal(await purgeOutbox(db, before, { batch: 3 }), 2, 'the rest in the next')
  t.equal(await purgeOutbox(db, before, { batch: 3 }), 0, 'then nothing')
  const left = await readOutbox(db, { afterId: 0, limit: 100 })
  t.same(left.map((e) => e.aggregateId), ['alert', 'new-1', 'new-2'], 'the alert and the last seven days stay, in order')

  await sql`DELETE FROM outbox`.execute(db)
  t.equal(await purgeOutbox(db, before), 0, 'an empty outbox is no error')
})

t.test('FUELPAY_OUTBOX_RETENTION_MS: a week by default; under an hour is refused', async (t) => {
  t.equal(loadConfig({}).outboxRetentionMs, 7 * 86_400_000)
  t.equal(loadConfig({ FUELPAY_OUTBOX_RETENTION_MS: String(30 * 86_400_000) }).outboxRetentionMs, 30 * 86_400_000)
  t.throws(() => loadConfig({ FUELPAY_OUTBOX_RETENTION_MS: '1000' }), /FUELPAY_OUTBOX_RETENTION_MS/)
})
