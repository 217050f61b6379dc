import { sql } from 'kysely'
import type { Db } from '../db/database.ts'
import { isSealedKey, type KeySealer } from './key-sealing.ts'

/** Signing keys that still verify: the active one and the previous ones (newest first). */
export function listLiveSigningKeys(db: Db) {
  return db
    .selectFrom('signing_keys')
    .selectAll()
    .where('status', 'in', ['active', 'previous'])
    .orderBy('created_at', 'desc')
    .execute()
}

export async function insertActiveSigningKey(
  db: Db,
  key: { kid: string; privateJwk: object; publicJwk: object },
): Promise<void> {
  await db.transaction().execute(async (tx) => {
    // The previous active key keeps verifying (tokens in flight); older ones retire.
    await tx.updateTable('signing_keys').set({ status: 'retired' }).where('status', '=', 'previous').execute()
    await tx.updateTable('signing_keys').set({ status: 'previous' }).where('status', '=', 'active').execute()
    await tx
      .insertInto('signing_keys')
      .values({
        kid: key.kid,
        private_jwk: JSON.stringify(key.privateJwk),
        public_jwk: JSON.stringify(key.publicJwk),
        status: 'active',
      })
      .execute()
  })
}

/**
 * Seals every private key still stored as it is (retired ones too: they
 * would still sign), each only if its row is unchanged; returns how many.
 */
export async function sealPlainSigningKeys(db: Db, sealer: KeySealer): Promise<number> {
  const rows = await db.selectFrom('signing_keys').select(['kid', 'private_jwk']).execute()
  let sealed = 0
  for (const row of rows) {
    if (isSealedKey(row.private_jwk)) continue
    const plain = JSON.stringify(typeof row.private_jwk === 'string' ? JSON.parse(row.private_jwk) : row.private_jwk)
    const r = await sql`UPDATE signing_keys SET private_jwk = ${JSON.stringify(sealer.seal(row.kid, JSON.parse(plain)))}::jsonb
      WHERE kid = ${row.kid} AND private_jwk = ${plain}::jsonb`.execute(db)
    sealed += Number(r.numAffectedRows ?? 0)
  }
  return sealed
}
