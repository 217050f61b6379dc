import { randomBytes } from 'node:crypto'
import { silentLogger } from '@fuelpay/platform'
import { createTestDatabase } from '@fuelpay/platform/test-db'
import { signBrokerCredential, verifyBrokerCredential } from '@fuelpay/proto'
import { sql } from 'kysely'
import t from 'tap'
import { loadConfig } from '../../src/config.ts'
import { openCloudDatabase } from '../../src/db/open.ts'
import { createKeyRing } from '../../src/keys/key-ring.ts'
import { isSealedKey, keySealer } from '../../src/keys/key-sealing.ts'

const car = { role: 'vehicle', id: 'car7' } as const

t.test('with a key-encryption key the private signing keys are sealed at rest, and still sign', async (t) => {
  const tdb = await createTestDatabase()
  const handle = await openCloudDatabase({ databaseUrl: tdb.url, dataDir: tdb.dataDir })
  t.teardown(async () => {
    await handle.close()
    await tdb.cleanup()
  })
  const db = handle.db
  const log = silentLogger()
  const stored = async () => (await db.selectFrom('signing_keys').select(['kid', 'private_jwk', 'status']).orderBy('created_at').execute())

  // A cloud that ran without one first: its key is stored as it is.
  const plainRing = await createKeyRing({ db, log })
  const before = await stored()
  t.equal(before.length, 1)
  t.notOk(isSealedKey(before[0]?.private_jwk), 'no key-encryption key: stored as it is')
  const oldToken = await signBrokerCredential(car, plainRing.active())

  const kek = randomBytes(32)
  const ring = await createKeyRing({ db, log, sealer: keySealer(kek) })
  const after = await stored()
  t.ok(isSealedKey(after[0]?.private_jwk), 'the existing key is sealed at the next start')
  t.notMatch(JSON.stringify(after), /"d":/, 'no private part in the clear')
  t.equal(ring.active().kid, plainRing.active().kid, 'the same key, opened')
  const v = await verifyBrokerCredential(oldToken, { keys: ring.lookup, nowMs: Date.now() })
  t.ok(v.ok, 'tokens signed before still verify')

  await ring.rotate()
  const rotated = await stored()
  t.equal(rotated.length, 2)
  t.ok(rotated.every((r) => isSealedKey(r.private_jwk)), 'a new key is sealed from the start')
  const token = await signBrokerCredential(car, ring.active())
  t.ok((await verifyBrokerCredential(token, { keys: ring.lookup, nowMs: Date.now() })).ok, 'and signs')

  await t.rejects(createKeyRing({ db, log }), /is sealed: set FUELPAY_KEY_ENCRYPTION_KEY/, 'without the key the cloud does not start')
  await t.rejects(createKeyRing({ db, log, sealer: keySealer(randomBytes(32)) }), /does not open with FUELPAY_KEY_ENCRYPTION_KEY/, 'nor with another key')
  // A sealed key moved to another row (kid bound in) does not open.
  const active = rotated.find((r) => r.status === 'active')
  const previous = rotated.find((r) => r.status === 'previous')
  await sql`UPDATE signing_keys SET private_jwk = ${JSON.stringify(previous?.private_jwk)}::jsonb WHERE kid = ${active?.kid as string}`.execute(db)
  await t.rejects(createKeyRing({ db, log, sealer: keySealer(kek) }), /does not open/, 'a sealed key copied onto another kid is refused')
})

t.test('FUELPAY_KEY_ENCRYPTION_KEY: 32 bytes in base64url, or refused', async (t) => {
  const kek = randomBytes(32).toString('base64url')
  t.same(loadConfig({ FUELPAY_KEY_ENCRYPTION_KEY: kek }).keyEncryptionKey, Buffer.from(kek, 'base64url'))
  t.equal(loadConfig({}).keyEncryptionKey, undefined)
  for (const bad of ['short', randomBytes(16).toString('base64url'), `${kek}=`, randomBytes(32).toString('hex')])
    t.throws(() => loadConfig({ FUELPAY_KEY_ENCRYPTION_KEY: bad }), /FUELPAY_KEY_ENCRYPTION_KEY must be 32 bytes/)
})
