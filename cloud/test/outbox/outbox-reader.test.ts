import { silentLogger } from '@fuelpay/platform'
import { createTestDatabase, postgresReachable } from '@fuelpay/platform/test-db'
import { sql } from 'kysely'
import t from 'tap'
import { openCloudDatabase } from '../../src/db/open.ts'
import { createOutboxReader } from '../../src/outbox/outbox-reader.ts'
import { appendOutbox, type OutboxEvent } from '../../src/outbox/outbox.repository.ts'

const noPostgres = !(await postgresReachable())

t.test('postgres: the LISTEN connection comes back after the server ends it (restart, failover)', { skip: noPostgres }, async (t) => {
  process.env.FUELPAY_TEST_DB = 'postgres'
  const tdb = await createTestDatabase()
  const handle = await openCloudDatabase({ databaseUrl: tdb.url })
  t.teardown(async () => {
    await handle.close()
    await tdb.cleanup()
  })
  const events: OutboxEvent[] = []
  // Polling once an hour: only a notification can bring an event in while the test waits.
  const reader = createOutboxReader({ handle, log: silentLogger(), onEvent: (e) => void events.push(e), pollMs: 3_600_000, relistenMs: 50 })
  await reader.start()
  t.teardown(() => reader.stop())
  const waitFor = async (n: number) => {
    const until = Date.now() + 10_000
    while (events.length < n && Date.now() < until) await new Promise((r) => setTimeout(r, 20))
    return events.length
  }
  await appendOutbox(handle.db, { kind: 'session.updated', aggregateId: 'ses-1', payload: {} })
  t.equal(await waitFor(1), 1, 'a notification wakes the reader')

  const ended = await sql<{ n: number }>`
    select count(pg_terminate_backend(pid))::int as n from pg_stat_activity
    where datname = current_database() and pid <> pg_backend_pid() and query like 'LISTEN%'`.execute(handle.db)
  t.equal(ended.rows[0]?.n, 1, 'the server ended the listening session')
  // Each append notifies; keep appending until one is heard (the listener needs a moment to come back).
  const until = Date.now() + 10_000
  let appended = 1
  while (events.length < 2 && Date.now() < until) {
    await appendOutbox(handle.db, { kind: 'session.updated', aggregateId: `ses-${++appended}`, payload: {} })
    await new Promise((r) => setTimeout(r, 100))
  }
  t.ok(events.length >= 2, 'events are heard again without waiting for the poll')
  t.same(
    events.map((e) => e.aggregateId),
    Array.from({ length: events.length }, (_, i) => `ses-${i + 1}`),
    'in order, none lost',
  )
})

t.test('postgres: a reader stopped while it listens again has closed that connection when stop returns', { skip: noPostgres }, async (t) => {
  process.env.FUELPAY_TEST_DB = 'postgres'
  const tdb = await createTestDatabase()
  const handle = await openCloudDatabase({ databaseUrl: tdb.url })
  t.teardown(async () => {
    await handle.close()
    await tdb.cleanup()
  })
  const listeners = async () =>
    (await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity where datname = current_database() and query like 'LISTEN%' and pid <> pg_backend_pid()`.execute(handle.db)).rows[0]?.n ?? 0
  let left = 0
  for (let round = 0; round < 8; round++) {
    const reader = createOutboxReader({ handle, log: silentLogger(), onEvent: () => {}, pollMs: 3_600_000, relistenMs: 1 })
    await reader.start()
    await sql`select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and query like 'LISTEN%' and pid <> pg_backend_pid()`.execute(handle.db)
    // Stop while the reader is making its listener again (the timer fires at once).
    await new Promise((r) => setTimeout(r, round * 3))
    await reader.stop()
    left += await listeners()
    // A listener closed late would show up a moment later as well; wait it out between rounds.
    await new Promise((r) => setTimeout(r, 100))
    await sql`select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and query like 'LISTEN%' and pid <> pg_backend_pid()`.execute(handle.db)
  }
  t.equal(left, 0, 'no listening session left behind at any stop')
})
