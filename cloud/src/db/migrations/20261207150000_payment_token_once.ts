import { type Kysely, sql } from 'kysely'

/**
 * A processor token (a card) belongs to one account (accounts/
 * account.repository.ts): the check before the insert cannot see a
 * concurrent insert of the same token for another account, the index can.
 *
 * Before it, one token could be stored more than once (a provisioning script
 * run again added the card again; two accounts at once): those rows stay
 * (sessions name them) and the later ones are marked `token_duplicate`, out
 * of the index, so an existing database upgrades instead of stopping the
 * start with "could not create unique index". Every row added from now on is
 * in the index.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE payment_methods ADD COLUMN token_duplicate boolean NOT NULL DEFAULT false`.execute(db)
  await sql`UPDATE payment_methods p SET token_duplicate = true
    WHERE EXISTS (SELECT 1 FROM payment_methods q WHERE q.processor_token = p.processor_token
      AND (q.created_at, q.id) < (p.created_at, p.id))`.execute(db)
  await sql`CREATE UNIQUE INDEX payment_methods_token ON payment_methods (processor_token) WHERE NOT token_duplicate`.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP INDEX payment_methods_token`.execute(db)
  await sql`ALTER TABLE payment_methods DROP COLUMN token_duplicate`.execute(db)
}
