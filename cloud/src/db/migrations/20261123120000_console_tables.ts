import { type Kysely, sql } from 'kysely'

/**
 * The console's own tables (issue 6): the audit trail of operator commands
 * and operators' alert acknowledgements, plus an index for the
 * settlement-failed alerts the console reads from the outbox.
 *
 * Until this migration the console created them itself on first use, so on
 * a database that ran an older cloud they exist already: IF NOT EXISTS.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE IF NOT EXISTS console_audit (
      id bigserial PRIMARY KEY,
      operator_id text NOT NULL,
      command text NOT NULL,
      client_request_id text NOT NULL,
      station_id text,
      pump integer,
      session_id text,
      request jsonb NOT NULL,
      outcome text NOT NULL CHECK (outcome IN ('pending', 'ok', 'refused')),
      reason_code text,
      reason_message text,
      station_command_id text,
      remote_address text,
      created_at timestamptz NOT NULL DEFAULT now(),
      answered_at timestamptz
    )`.execute(db)
  await sql`CREATE INDEX IF NOT EXISTS console_audit_operator ON console_audit (operator_id, id DESC)`.execute(db)
  await sql`
    CREATE TABLE IF NOT EXISTS console_alert_acks (
      alert_id text PRIMARY KEY,
      operator_id text NOT NULL,
      session_id text,
      event_id bigint NOT NULL,
      audit_id bigint,
      acknowledged_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db)
  // Settlement-failed alerts are read from the outbox on every alert refresh;
  // the outbox grows with pump ticks, so the few rows of this kind get their own index.
  await sql`
    CREATE INDEX IF NOT EXISTS console_outbox_settlement_failed ON outbox (operator_id, id)
    WHERE kind = 'session.settlement-failed'`.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP INDEX IF EXISTS console_outbox_settlement_failed`.execute(db)
  await sql`DROP TABLE IF EXISTS console_alert_acks`.execute(db)
  await sql`DROP TABLE IF EXISTS console_audit`.execute(db)
}
