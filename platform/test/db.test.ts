import { sql } from 'kysely'
import t from 'tap'
import { openDatabase } from '../src/db.ts'
import { createTestDatabase } from '../src/test-db.ts'

for (const kind of ['postgres', 'pglite'] as const) {
  t.test(`${kind}: opens, runs a transaction, rolls back, parses int8 as number`, async (t) => {
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
