import { type Kysely, sql } from 'kysely'

/**
 * How often the sweeper failed to carry out a decided settlement, and when it
 * tries again (settlement.service.ts expireSessions): a settlement the
 * processor keeps refusing waits longer each time instead of taking a place
 * in every sweep's batch, where enough of them would keep expired holds from
 * ever being released.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE sessions
    ADD COLUMN settle_attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN settle_next_at timestamptz`.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE sessions DROP COLUMN settle_attempts, DROP COLUMN settle_next_at`.execute(db)
}
