import { openDatabase } from '@fuelpay/platform'
import { createTestDatabase } from '@fuelpay/platform/test-db'
import { Migrator } from 'kysely/migration'
import t from 'tap'
import type { Db, Tables } from '../../src/db/database.ts'
import { MIGRATIONS, migrateToLatest } from '../../src/db/migrator.ts'
import { idempotencyClaim } from '../../src/idempotency/answer-sealing.ts'
import { beginIdempotent } from '../../src/idempotency/idempotency.repository.ts'

/** A database as the cloud left it before 7 December 2026's migrations (the ones from `from` on). */
async function databaseBefore(t: Tap, from: string): Promise<Db> {
  const tdb = await createTestDatabase()
  const handle = await openDatabase<Tables>({ url: tdb.url, dataDir: tdb.dataDir })
  t.teardown(async () => {
    await handle.close()
    await tdb.cleanup()
  })
  const older = Object.fromEntries(Object.entries(MIGRATIONS).filter(([name]) => name < from))
  const { error } = await new Migrator({ db: handle.db, provider: { getMigrations: async () => older } }).migrateToLatest()
  if (error) throw error
  return handle.db
}
type Tap = { teardown(fn: () => unknown): void }

t.test('a database holding one card twice (allowed before the unique index) still upgrades; new duplicates are refused', async (t) => {
  const db = await databaseBefore(t, '20261207150000')
  await db.insertInto('accounts').values([{ id: 'acc1', name: 'One' }, { id: 'acc2', name: 'Two' }]).execute()
  const pm = (id: string, accountId: string) => ({ id, account_id: accountId, processor_token: 'tok_same', brand: 'visa', last4: '4242', is_default: false })
  // Added twice by a provisioning script run again (one account), before the cloud answered the method it is.
  await db.insertInto('payment_methods').values([pm('pm1', 'acc1'), pm('pm2', 'acc1')]).execute()
  await t.resolves(migrateToLatest(db), 'the upgrade does not stop the start')
  t.equal((await db.selectFrom('payment_methods').select('id').execute()).length, 2, 'the rows kept (sessions name them)')
  await t.rejects(db.insertInto('payment_methods').values(pm('pm3', 'acc2')).execute(), { code: '23505' }, 'a new one on another account is refused')
})

t.test('idempotency keys stored before they were hashed are found after the upgrade: a retry replays, not runs again', async (t) => {
  const db = await databaseBefore(t, '20261207150000')
  const scope = 'vehicle:car7'
  const raw = 'key-0123456789abcdef'
  const now = new Date()
  await db
    .insertInto('idempotency_keys')
    .values({ scope, key: raw, request_hash: 'h1', state: 'done', status_code: 200, response: '{"password":"p"}', expires_at: new Date(now.getTime() + 86_400_000), created_at: now })
    .execute()
  await db
    .insertInto('idempotency_keys')
    .values({ scope, key: `${raw}-2`, request_hash: 'h2', state: 'in_progress', expires_at: new Date(now.getTime() + 86_400_000), created_at: now })
    .execute()
  await migrateToLatest(db)
  const claim = idempotencyClaim(scope, raw)
  const r = { requestHash: 'h1', expiresAt: new Date(now.getTime() + 86_400_000), now, staleMs: 60_000 }
  const done = await beginIdempotent(db, { scope, key: claim.key, ...r })
  t.match(done, { kind: 'replay', statusCode: 200 }, 'the stored answer, not a second run')
  if (done.kind === 'replay') t.equal(claim.open(done.response), '{"password":"p"}')
  const running = await beginIdempotent(db, { scope, key: idempotencyClaim(scope, `${raw}-2`).key, ...r, requestHash: 'h2' })
  t.equal(running.kind, 'in_progress', 'a claim in flight at the upgrade is still in flight')
})
