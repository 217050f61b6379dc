import { type Kysely, sql } from 'kysely'
import { type Migration, Migrator } from 'kysely/migration'

/**
 * The controller's durable journal. Times are epoch ms (bigint); JSON bodies
 * are jsonb. Column names are snake_case.
 */
export interface PumpsTable {
  pump: number
  /** The pump's state machine, as JSON (pump.machine.ts PumpState). */
  state: unknown
  updated_at: number
}

export interface SessionsTable {
  session_id: string
  pump: number
  vehicle_id: string
  token_id: string
  request_id: string
  /** authorized | fueling | ... | ended */
  state: string
  data: unknown
  created_at: number
  updated_at: number
}

export interface UsedTokensTable {
  token_id: string
  session_id: string
  vehicle_id: string
  request_id: string
  pump: number
  /** Kept at least until here: token expiry plus clock skew. */
  keep_until: number
  used_at: number
}

/**
 * Sessions the cloud voided before this station saw their token: an
 * authorize naming one is refused (CANCELLED) until `keep_until`, which is
 * past the end of any token that could name it.
 */
export interface RevokedSessionsTable {
  session_id: string
  /** The station-command that voided it (first one wins; duplicates change nothing). */
  command_id: string
  keep_until: number
  revoked_at: number
}

export interface SalesTable {
  /** Station-wide sale sequence: the order sales are delivered in. */
  seq: number
  session_id: string
  sale: unknown
  sale_jws: string
  /** pending | acked | rejected */
  state: string
  attempts: number
  last_error: string | null
  response: unknown
  created_at: number
  acked_at: number | null
}

export interface KvTable {
  key: string
  value: unknown
  updated_at: number
}

export interface JournalTables {
  pc_pumps: PumpsTable
  pc_sessions: SessionsTable
  pc_used_tokens: UsedTokensTable
  pc_revoked_sessions: RevokedSessionsTable
  pc_sales: SalesTable
  pc_kv: KvTable
}

const migrations: Record<string, Migration> = {
  '20250601T000000_journal': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('pc_pumps')
        .addColumn('pump', 'integer', (c) => c.primaryKey())
        .addColumn('state', 'jsonb', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute()
      await db.schema
        .createTable('pc_sessions')
        .addColumn('session_id', 'text', (c) => c.primaryKey())
        .addColumn('pump', 'integer', (c) => c.notNull())
        .addColumn('vehicle_id', 'text', (c) => c.notNull())
        .addColumn('token_id', 'text', (c) => c.notNull())
        .addColumn('request_id', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('data', 'jsonb', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute()
      await db.schema
        .createTable('pc_used_tokens')
        .addColumn('token_id', 'text', (c) => c.primaryKey())
        .addColumn('session_id', 'text', (c) => c.notNull())
        .addColumn('vehicle_id', 'text', (c) => c.notNull())
        .addColumn('request_id', 'text', (c) => c.notNull())
        .addColumn('pump', 'integer', (c) => c.notNull())
        .addColumn('keep_until', 'bigint', (c) => c.notNull())
        .addColumn('used_at', 'bigint', (c) => c.notNull())
        .execute()
      await db.schema
        .createIndex('pc_used_tokens_request')
        .on('pc_used_tokens')
        .columns(['vehicle_id', 'request_id'])
        .execute()
      await db.schema
        .createTable('pc_sales')
        .addColumn('seq', 'bigint', (c) => c.primaryKey())
        .addColumn('session_id', 'text', (c) => c.notNull().unique())
        .addColumn('sale', 'jsonb', (c) => c.notNull())
        .addColumn('sale_jws', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('last_error', 'text')
        .addColumn('response', 'jsonb')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('acked_at', 'bigint')
        .execute()
      await db.schema
        .createIndex('pc_sales_pending')
        .on('pc_sales')
        .column('seq')
        .where(sql.ref('state'), '=', 'pending')
        .execute()
      await db.schema
        .createTable('pc_kv')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('value', 'jsonb', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute()
    },
  },
  // A void-session for a session the station has not seen used to be forgotten,
  // leaving its still-valid token able to arm a pump against a voided hold.
  '20250701T000000_revoked_sessions': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('pc_revoked_sessions')
        .addColumn('session_id', 'text', (c) => c.primaryKey())
        .addColumn('command_id', 'text', (c) => c.notNull())
        .addColumn('keep_until', 'bigint', (c) => c.notNull())
        .addColumn('revoked_at', 'bigint', (c) => c.notNull())
        .execute()
    },
  },
}

/**
 * Brings the journal's schema up to date (idempotent). With `schema`, the
 * journal lives in its own PostgreSQL schema, so that many stations (a
 * simulator's) can share one database; pass the same `db.withSchema(schema)`
 * to createJournal.
 */
export async function migrateJournal(db: Kysely<JournalTables>, schema?: string): Promise<void> {
  if (schema !== undefined) {
    if (!/^[a-z][a-z0-9_]{0,62}$/.test(schema))
      throw new TypeError(`bad journal schema name ${schema}`)
    await sql`create schema if not exists ${sql.id(schema)}`.execute(db)
  }
  const migrator = new Migrator({
    db: schema === undefined ? db : db.withSchema(schema),
    provider: { getMigrations: async () => migrations },
    migrationTableName: 'pc_migrations',
    migrationLockTableName: 'pc_migrations_lock',
    ...(schema !== undefined ? { migrationTableSchema: schema } : {}),
  })
  const { error } = await migrator.migrateToLatest()
  if (error) throw error
}
