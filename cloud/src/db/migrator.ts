import { type Migration, Migrator } from 'kysely/migration'
import type { Db } from './database.ts'
import * as initial from './migrations/20251123120000_initial.ts'
import * as consoleTables from './migrations/20261123120000_console_tables.ts'
import * as lateCapture from './migrations/20251201120000_late_capture.ts'
import * as idempotencyKeysHashed from './migrations/20261207160000_idempotency_keys_hashed.ts'
import * as paymentTokenOnce from './migrations/20261207150000_payment_token_once.ts'
import * as settleBackoff from './migrations/20261207140000_settle_backoff.ts'
import * as telemetryOnce from './migrations/20261207130000_telemetry_once.ts'
import * as voiceCodeAttempts from './migrations/20261207120000_voice_code_attempts.ts'

/**
 * Migrations by timestamped name. Listed here rather than read from disk so
 * they run the same under tsx, in tests and from any working directory.
 */
export const MIGRATIONS: Record<string, Migration> = {
  '20251123120000_initial': initial,
  '20251201120000_late_capture': lateCapture,
  '20261123120000_console_tables': consoleTables,
  '20261207120000_voice_code_attempts': voiceCodeAttempts,
  '20261207130000_telemetry_once': telemetryOnce,
  '20261207140000_settle_backoff': settleBackoff,
  '20261207150000_payment_token_once': paymentTokenOnce,
  '20261207160000_idempotency_keys_hashed': idempotencyKeysHashed,
}

/** Brings the schema to the latest migration; throws with the failing migration's name. */
export async function migrateToLatest(db: Db): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => MIGRATIONS },
  })
  const { error, results } = await migrator.migrateToLatest()
  const failed = results?.find((r) => r.status === 'Error')
  if (error) {
    throw new Error(`migration ${failed?.migrationName ?? '?'} failed: ${(error as Error).message ?? error}`)
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName)
}
