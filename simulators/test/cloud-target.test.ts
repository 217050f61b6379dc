import { PGlite } from '@electric-sql/pglite'
import t from 'tap'
import { cloudSessionFacts, type SqlQuery } from '../src/cloud-target.ts'

// The columns cloudSessionFacts reads, as the cloud's migrations make them.
async function miniCloudDb(): Promise<{ sql: SqlQuery; close: () => Promise<void> }> {
  const pg = new PGlite()
  await pg.exec(`
    CREATE TABLE sessions (id text PRIMARY KEY, station_id text NOT NULL, pump integer NOT NULL,
      state text NOT NULL, hold_amount_minor bigint NOT NULL, captured_minor bigint NOT NULL, sale jsonb);
    CREATE TABLE journal_entries (id bigserial PRIMARY KEY, session_id text, kind text NOT NULL);`)
  return {
    sql: async (text, params) => (await pg.query(text, params)).rows as Record<string, unknown>[],
    close: () => pg.close(),
  }
}

t.test('a late capture is a capture: counted alone, and counted with a capture before it', async (t) => {
  const db = await miniCloudDb()
  t.teardown(db.close)
  const sale = JSON.stringify({ volumeMilli: 20_000 })
  await db.sql(
    `INSERT INTO sessions VALUES ('late', 'st1', 1, 'captured', 5000, 3598, $1),
       ('twice', 'st1', 2, 'captured', 5000, 3598, $1), ('once', 'st1', 3, 'captured', 5000, 3598, $1)`,
    [sale],
  )
  await db.sql(
    `INSERT INTO journal_entries (session_id, kind) VALUES ('late', 'hold'), ('late', 'release'),
       ('late', 'late_capture'), ('twice', 'hold'), ('twice', 'capture'), ('twice', 'late_capture'),
       ('once', 'hold'), ('once', 'capture'), ('once', 'release')`,
  )
  const facts = new Map((await cloudSessionFacts(db.sql, ['st1'])).map((f) => [f.sessionId, f]))
  t.equal(facts.get('late')?.captures, 1, 'a late capture alone is one capture')
  t.equal(facts.get('twice')?.captures, 2, 'a capture and a late capture are two')
  t.equal(facts.get('once')?.captures, 1)
  t.equal(facts.get('once')?.volumeMilli, 20_000)
  t.equal(facts.get('once')?.pump, 3)
})
