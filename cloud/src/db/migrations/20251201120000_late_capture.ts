import { type Kysely, sql } from 'kysely'

/**
 * Late capture (a forced post): a signed sale that reaches the cloud after
 * its hold was voided (expired by the sweeper, or cancelled while the pump
 * had already taken the token) is still charged, by a new processor
 * authorization and capture. Such a session released its whole hold and
 * captured up to that hold on top of it, so the amounts check allows
 * released = hold with captured <= hold for `settle_action = 'late_capture'`.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE sessions ADD COLUMN late_capture_auth_id text`.execute(db)
  await sql`ALTER TABLE sessions DROP CONSTRAINT sessions_settle_action_check`.execute(db)
  await sql`ALTER TABLE sessions ADD CONSTRAINT sessions_settle_action_check
    CHECK (settle_action IN ('capture', 'void', 'late_capture'))`.execute(db)
  await sql`ALTER TABLE sessions DROP CONSTRAINT sessions_check`.execute(db)
  await sql`ALTER TABLE sessions ADD CONSTRAINT sessions_amounts_check CHECK (
    captured_minor + released_minor <= hold_amount_minor
    OR (settle_action = 'late_capture' AND released_minor = hold_amount_minor AND captured_minor <= hold_amount_minor))`.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE sessions DROP CONSTRAINT sessions_amounts_check`.execute(db)
  await sql`ALTER TABLE sessions ADD CONSTRAINT sessions_check CHECK (captured_minor + released_minor <= hold_amount_minor)`.execute(db)
  await sql`ALTER TABLE sessions DROP CONSTRAINT sessions_settle_action_check`.execute(db)
  await sql`ALTER TABLE sessions ADD CONSTRAINT sessions_settle_action_check CHECK (settle_action IN ('capture', 'void'))`.execute(db)
  await sql`ALTER TABLE sessions DROP COLUMN late_capture_auth_id`.execute(db)
}
