import { type Kysely, sql } from 'kysely'

/**
 * Idempotency keys are stored as sha256(scope, NUL, key) in hex since
 * idempotency/answer-sealing.ts: the keys stored before it (in the clear,
 * for up to FUELPAY_IDEMPOTENCY_TTL_MS) are hashed the same way here, so a
 * retry made across the upgrade finds its claim (409 in progress, or the
 * stored answer, which is read as it is) instead of running a second time.
 * Every row is one of those: the migration runs before this cloud serves.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`UPDATE idempotency_keys
    SET key = encode(sha256(convert_to(scope, 'UTF8') || '\\x00'::bytea || convert_to(key, 'UTF8')), 'hex')`.execute(db)
}

/** Hashes cannot be undone; the keys stay hashed (an old cloud just does not find them). */
export async function down(_db: Kysely<unknown>): Promise<void> {}
