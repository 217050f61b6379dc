import { silentLogger } from '@fuelpay/platform'
import { createTestDatabase } from '@fuelpay/platform/test-db'
import { sql } from 'kysely'
import t from 'tap'
import { openCloudDatabase } from '../../src/db/open.ts'
import { createOutboxReader } from '../../src/outbox/outbox-reader.ts'
import { appendOutbox, type OutboxEvent, purgeOutbox } from '../../src/outbox/outbox.repository.ts'

t.test('a reader from an old cursor crosses a purged stretch of the outbox in one gap wait, not one per purged id', async (t) => {
  const tdb = await createTestDatabase()
  const handle = await openCloudDatabase({ databaseUrl: tdb.url, dataDir: tdb.dataDir })
  t.teardown(async () => {
    await handle.close()
    await tdb.cleanup()
  })
  const db = handle.db
  const now = Date.now()
  for (let i = 0; i < 300; i++) await appendOutbox(db, { kind: 'pump.state', aggregateId: `old-${i}`, payload: {} })
  await sql`UPDATE outbox SET created_at = ${new Date(now - 8 * 86_400_000)}`.execute(db)
  await appendOutbox(db, { kind: 'session.held', aggregateId: 'new-1', payload: {} })
  t.equal(await purgeOutbox(db, new Date(now - 7 * 86_400_000)), 300)

  const clock = { now }
  const events: OutboxEvent[] = []
  // The library's example: a reader from the start (afterId 0), as a receipts mailer would run; batch 1 stands for a busy outbox.
  const reader = createOutboxReader({ handle, log: silentLogger(), onEvent: (e) => void events.push(e), pollMs: 3_600_000, gapTimeoutMs: 1000, batch: 1, nowMs: () => clock.now })
  t.teardown(() => reader.stop())
  await reader.start()
  await reader.poll()
  t.same(events.map((e) => e.aggregateId), ['new-1'], 'what is there is delivered at once')
  clock.now += 1001
  await reader.poll()
  t.equal(reader.cursor(), 301, 'after one gap wait the cursor is past the purged ids')
  await appendOutbox(db, { kind: 'session.held', aggregateId: 'new-2', payload: {} })
  await reader.poll()
  t.same(events.map((e) => e.aggregateId), ['new-1', 'new-2'], 'and a new event after it is delivered')
})
