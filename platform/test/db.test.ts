import type { Socket } from 'node:net'
import { sql } from 'kysely'
import type pg from 'pg'
import t from 'tap'
import { createStatementNames, openDatabase } from '../src/db.ts'
import { createTestDatabase, postgresReachable } from '../src/test-db.ts'

const noPostgres = (await postgresReachable()) ? false : 'no PostgreSQL server reachable'

for (const kind of ['postgres', 'pglite'] as const) {
  t.test(`${kind}: opens, runs a transaction, rolls back, parses int8 as number`, { skip: kind === 'postgres' && noPostgres }, async (t) => {
    process.env.FUELPAY_TEST_DB = kind
    const tdb = await createTestDatabase()
    t.teardown(tdb.cleanup)
    t.equal(tdb.kind, kind)
    const h = await openDatabase<{ x: { id: number; v: number } }>({ url: tdb.url, dataDir: tdb.dataDir })
    t.teardown(h.close)
    await sql`create table x (id int primary key, v bigint not null)`.execute(h.db)
    await h.db.insertInto('x').values({ id: 1, v: 9_007_199_254_740_991 }).execute()
    await t.rejects(
      h.db.transaction().execute(async (trx) => {
        await trx.insertInto('x').values({ id: 2, v: 2 }).execute()
        throw new Error('roll back')
      }),
    )
    const rows = await h.db.selectFrom('x').selectAll().orderBy('id').execute()
    t.same(rows, [{ id: 1, v: 9_007_199_254_740_991 }], 'rolled-back row is gone; int8 is a number')
    t.equal(typeof rows[0]?.v, 'number')
  })
}

t.test('statement names: a text is named once repeated, the same name every time, bounded, renamed after reset', async (t) => {
  const names = createStatementNames(3, 2)
  t.equal(names.nameFor('a $1'), undefined, 'first use: unnamed')
  t.equal(names.nameFor('a $1'), undefined, 'second use: unnamed')
  const a = names.nameFor('a $1')
  t.match(a, /^fp0_[A-Za-z0-9_-]{20}$/, 'third use: named')
  t.equal(names.nameFor('a $1'), a, 'stable')
  for (let i = 0; i < 3; i++) names.nameFor('b $1')
  t.equal(names.size, 2)
  for (let i = 0; i < 5; i++) t.equal(names.nameFor('c $1'), undefined, 'past the cap nothing more is named')
  names.reset()
  t.equal(names.size, 0)
  for (let i = 0; i < 2; i++) names.nameFor('a $1')
  const again = names.nameFor('a $1')
  t.match(again, /^fp1_/, 'a new generation of names')
  t.not(again, a)
})

t.test('postgres: repeated statements run prepared; a stale prepared select * fails once, then works', { skip: noPostgres }, async (t) => {
  process.env.FUELPAY_TEST_DB = 'postgres'
  const tdb = await createTestDatabase()
  t.teardown(tdb.cleanup)
  // One connection, so the statements prepared are visible on the session that checks.
  const h = await openDatabase<{ y: { id: number; v: number } }>({ url: tdb.url, poolSize: 1 })
  t.teardown(h.close)
  await sql`create table y (id int primary key, v int not null)`.execute(h.db)
  await h.db.insertInto('y').values({ id: 1, v: 10 }).execute()
  const read = () => h.db.selectFrom('y').selectAll().where('id', '=', 1).executeTakeFirst()
  for (let i = 0; i < 4; i++) t.same(await read(), { id: 1, v: 10 })
  const prepared = await sql<{ name: string; statement: string }>`select name, statement from pg_prepared_statements`.execute(h.db)
  t.ok(
    prepared.rows.some((r) => r.name.startsWith('fp0_') && r.statement.includes('"y"')),
    'the repeated select is a prepared statement on the connection',
  )
  const unprepared = await openDatabase<{ y: { id: number; v: number } }>({ url: tdb.url, poolSize: 1, prepare: false })
  t.teardown(unprepared.close)
  for (let i = 0; i < 4; i++) await unprepared.db.selectFrom('y').selectAll().where('id', '=', 1).execute()
  const none = await sql<{ n: number }>`select count(*)::int as n from pg_prepared_statements`.execute(unprepared.db)
  t.equal(none.rows[0]?.n, 0, 'prepare: false prepares nothing')

  await sql`alter table y add column w int not null default 7`.execute(unprepared.db)
  await t.rejects(read(), { code: '0A000' }, 'the stale prepared statement fails once')
  t.same(await read(), { id: 1, v: 10, w: 7 }, 'then runs under a new name with the new column')
})

t.test('postgres: warm connections are open before the handle is returned, and kept while idle', { skip: noPostgres }, async (t) => {
  process.env.FUELPAY_TEST_DB = 'postgres'
  const tdb = await createTestDatabase()
  const h = await openDatabase({ url: tdb.url, poolSize: 5, warmConnections: 3, idleTimeoutMs: 60_000 })
  const cold = await openDatabase({ url: tdb.url, poolSize: 5 })
  t.teardown(async () => {
    await h.close()
    await cold.close()
    await tdb.cleanup()
  })
  t.equal(h.pool?.totalCount, 3, 'three connections opened')
  t.equal(h.pool?.idleCount, 3, 'and handed back to the pool')
  t.equal(cold.pool?.totalCount, 0, 'none without warmConnections')
})

t.test('postgres: a pooled connection the server ends (restart, failover, admin) is dropped, not a crash; the next query reconnects', { skip: noPostgres }, async (t) => {
  process.env.FUELPAY_TEST_DB = 'postgres'
  const tdb = await createTestDatabase()
  const lost: string[] = []
  const h = await openDatabase({ url: tdb.url, poolSize: 3, warmConnections: 3, onConnectionLost: (err) => lost.push((err as { code?: string }).code ?? '') })
  t.teardown(async () => {
    await h.close()
    await tdb.cleanup()
  })
  const admin = await openDatabase({ url: tdb.url, poolSize: 1 })
  const ended = await sql<{ n: number }>`select count(pg_terminate_backend(pid))::int as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`.execute(admin.db)
  await admin.close()
  t.equal(ended.rows[0]?.n, 3, 'the three idle connections were ended by the server')
  const until = Date.now() + 5000
  while (lost.length < 3 && Date.now() < until) await new Promise((r) => setTimeout(r, 20))
  t.same(lost, ['57P01', '57P01', '57P01'], 'each loss is reported with its code')
  const r = await sql<{ one: number }>`select 1 as one`.execute(h.db)
  t.equal(r.rows[0]?.one, 1, 'the next query opens a new connection')
})

t.test('postgres: close() returns once every connection has ended, not once each was asked to', { skip: noPostgres }, async (t) => {
  process.env.FUELPAY_TEST_DB = 'postgres'
  const tdb = await createTestDatabase()
  t.teardown(tdb.cleanup)
  const h = await openDatabase({ url: tdb.url, poolSize: 4 })
  const clients: pg.PoolClient[] = []
  h.pool?.on('connect', (c) => clients.push(c))
  await Promise.all([1, 2, 3, 4].map(() => sql`select pg_sleep(0.05)`.execute(h.db)))
  t.equal(clients.length, 4, 'four connections in use')
  await h.close()
  const sockets = clients.map((c) => (c as unknown as { connection: { stream: Socket } }).connection.stream)
  t.same(
    sockets.map((s) => s.readyState === 'closed' || s.destroyed),
    [true, true, true, true],
    'every socket is closed when close() returns',
  )
})

t.test('postgres: a connection the server ends under a running query fails that query, and nothing else', { skip: noPostgres }, async (t) => {
  process.env.FUELPAY_TEST_DB = 'postgres'
  const tdb = await createTestDatabase()
  const h = await openDatabase({ url: tdb.url, poolSize: 2 })
  t.teardown(async () => {
    await h.close()
    await tdb.cleanup()
  })
  const admin = await openDatabase({ url: tdb.url, poolSize: 1 })
  t.teardown(admin.close)
  // Held checked out, as a query's connection is until the caller releases it.
  const client = await h.pool!.connect()
  const running = client.query('select pg_sleep(10)').then(() => undefined, (e: Error & { code?: string }) => e)
  const until = Date.now() + 5000
  let ended = 0
  while (ended === 0 && Date.now() < until) {
    const r = await sql<{ n: number }>`select count(pg_terminate_backend(pid))::int as n from pg_stat_activity where query = 'select pg_sleep(10)'`.execute(admin.db)
    ended = r.rows[0]?.n ?? 0
  }
  t.equal(ended, 1, 'the server ended the query')
  t.equal((await running)?.code, '57P01', 'the query fails with the server\'s reason')
  // The socket's end follows; pg reports it on the client, still checked out.
  await new Promise((r) => setTimeout(r, 200))
  client.release(true)
  const r = await sql<{ one: number }>`select 1 as one`.execute(h.db)
  t.equal(r.rows[0]?.one, 1, 'the process is still up and the pool serves')
})
