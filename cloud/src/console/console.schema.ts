import { type Kysely, sql } from 'kysely'
import type { ColumnType, Generated } from 'kysely'
import type { Tables } from '../db/database.ts'

/**
 * The console's own table: the audit trail of operator commands (issue 6:
 * "each answered and audited"). One row per command, written before the
 * command is carried out (outcome `pending`) and completed with its answer,
 * so a crash mid-command still leaves a trace.
 *
 * Why not a migration: the cloud's migrator lists its migrations statically
 * (db/migrator.ts), owned by the cloud's engineer. Until this is moved into
 * that list, `ensureConsoleSchema` creates the table idempotently (IF NOT
 * EXISTS, under an advisory lock so two replicas starting together do not
 * race on the catalog). The statements are written as a migration would be.
 */
export interface ConsoleAuditTable {
  id: Generated<number>
  operator_id: string
  command: string
  client_request_id: string
  station_id: string | null
  pump: number | null
  session_id: string | null
  request: ColumnType<Record<string, unknown>, string, string>
  outcome: 'pending' | 'ok' | 'refused'
  reason_code: string | null
  reason_message: string | null
  /** The station command id sent over MQTT, when one was. */
  station_command_id: string | null
  remote_address: string | null
  created_at: ColumnType<Date, Date | string | undefined, Date | string>
  answered_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>
}

/**
 * Operators' acknowledgements of alerts that only an operator clears (a
 * declined late capture): one row per alert id, naming the newest outbox
 * event it covers, so a later failure of the same session raises again.
 */
export interface ConsoleAlertAckTable {
  alert_id: string
  operator_id: string
  session_id: string | null
  event_id: ColumnType<number, number, number>
  audit_id: number | null
  acknowledged_at: ColumnType<Date, Date | string | undefined, Date | string>
}

export type ConsoleTables = Tables & { console_audit: ConsoleAuditTable; console_alert_acks: ConsoleAlertAckTable }
export type ConsoleDb = Kysely<ConsoleTables>

const LOCK_KEY = 'fuelpay_console_schema'

export async function ensureConsoleSchema(db: Kysely<Tables>): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await sql`SELECT pg_advisory_xact_lock(hashtext(${LOCK_KEY}))`.execute(tx)
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
      )`.execute(tx)
    await sql`CREATE INDEX IF NOT EXISTS console_audit_operator ON console_audit (operator_id, id DESC)`.execute(tx)
    await sql`
      CREATE TABLE IF NOT EXISTS console_alert_acks (
        alert_id text PRIMARY KEY,
        operator_id text NOT NULL,
        session_id text,
        event_id bigint NOT NULL,
        audit_id bigint,
        acknowledged_at timestamptz NOT NULL DEFAULT now()
      )`.execute(tx)
    // Settlement-failed alerts are read from the outbox on every alert refresh;
    // the outbox grows with pump ticks, so the few rows of this kind get their own index.
    await sql`
      CREATE INDEX IF NOT EXISTS console_outbox_settlement_failed ON outbox (operator_id, id)
      WHERE kind = 'session.settlement-failed'`.execute(tx)
  })
}
