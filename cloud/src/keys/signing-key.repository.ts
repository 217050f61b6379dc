import type { Db } from '../db/database.ts'

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
