import { type Kysely, sql } from 'kysely'

/**
 * A processor token (a card) belongs to one account (accounts/
 * account.repository.ts): the check before the insert cannot see a
 * concurrent insert of the same token for another account, the index can.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`CREATE UNIQUE INDEX payment_methods_token ON payment_methods (processor_token)`.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP INDEX payment_methods_token`.execute(db)
}
