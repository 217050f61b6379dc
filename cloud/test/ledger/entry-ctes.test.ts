import { sql } from 'kysely'
import t from 'tap'
import { capturePostings, entryCtes, releasePostings, verifyLedger } from '../../src/ledger/ledger.repository.ts'
import { makeCloud } from '../helpers.ts'

// Ledger entries written inside a larger statement: in the order given,
// only when the gating change happened, never unbalanced.
t.test('entryCtes', async (t) => {
  const cloud = await makeCloud(t)
  const { db } = cloud
  const entries = (amount: number) => [
    { sessionId: null, kind: 'capture' as const, currency: 'EUR', postings: capturePostings('acc1', 'st1', amount) },
    { sessionId: null, kind: 'release' as const, currency: 'EUR', postings: releasePostings('acc1', 'st1', 500 - amount) },
  ]
  const kinds = async () => (await sql<{ kind: string }>`SELECT kind FROM journal_entries ORDER BY id`.execute(db)).rows.map((r) => r.kind)

  await sql`WITH g AS (SELECT 1 AS one), ${entryCtes('x', 'g', entries(300))} SELECT 1`.execute(db)
  t.same(await kinds(), ['capture', 'release'], 'ids follow the order given')
  const postings = await sql<{ n: number }>`SELECT count(*)::int AS n FROM postings`.execute(db)
  t.equal(postings.rows[0]?.n, 6, 'four capture and two release postings')

  await sql`WITH g AS (SELECT 1 AS one WHERE false), ${entryCtes('x', 'g', entries(300))} SELECT 1`.execute(db)
  t.same(await kinds(), ['capture', 'release'], 'a gate with no row writes nothing')

  await sql`WITH g AS (SELECT 1 AS one), ${entryCtes('x', 'g', entries(500))} SELECT 1`.execute(db)
  t.same(await kinds(), ['capture', 'release', 'capture'], 'an entry with no non-zero posting is left out')

  await sql`WITH ${entryCtes('x', undefined, [])} SELECT 1`.execute(db)
  t.same(await kinds(), ['capture', 'release', 'capture'], 'no entries, nothing written')

  t.throws(() => entryCtes('x', undefined, [entries(1)[0]!, entries(2)[0]!]), /one entry per kind/)
  t.throws(
    () => entryCtes('x', undefined, [{ sessionId: null, kind: 'hold', currency: 'EUR', postings: [{ account: 'a', amountMinor: 5 }] }]),
    /unbalanced/,
  )
  t.ok((await verifyLedger(db)).ok, 'the ledger balances')
})
