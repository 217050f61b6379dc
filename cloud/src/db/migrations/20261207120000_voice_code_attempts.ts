import { type Kysely, sql } from 'kysely'

/**
 * Wrong voice codes per account (authorization.service.ts): every attempt is
 * counted before the code is checked, and after five in a row the account
 * takes one attempt per lockout period until a right code resets the count.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE accounts
    ADD COLUMN voice_code_failures integer NOT NULL DEFAULT 0,
    ADD COLUMN voice_code_locked_until timestamptz`.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE accounts DROP COLUMN voice_code_failures, DROP COLUMN voice_code_locked_until`.execute(db)
}
