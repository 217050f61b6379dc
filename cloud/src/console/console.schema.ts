import type { ColumnType, Generated, Kysely } from 'kysely'
import type { Tables } from '../db/database.ts'

/**
 * The console's own table: the audit trail of operator commands (issue 6:
 * "each answered and audited"). One row per command, written before the
 * command is carried out (outcome `pending`) and completed with its answer,
 * so a crash mid-command still leaves a trace. Created by the migration
 * 20261123120000_console_tables.
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
