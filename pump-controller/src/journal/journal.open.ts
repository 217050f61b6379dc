import { openDatabase } from '@fuelpay/platform'
import { createJournal, type Journal } from './journal.repository.ts'
import { type JournalTables, migrateJournal } from './journal.schema.ts'

/**
 * Opens the journal: PostgreSQL when `url` is given, else PGlite on
 * `dataDir` (in memory when neither), migrated to the latest schema.
 *
 * @example const { journal, close } = await openJournal({ dataDir: '.data/pc-st1/journal' })
 */
export async function openJournal(opts: {
  url?: string | undefined
  dataDir?: string | undefined
  /** A PostgreSQL schema of its own (many stations in one database). */
  schema?: string | undefined
  poolSize?: number
  /** Told when the server ends a pooled connection (the pool opens a new one). */
  onConnectionLost?: (err: Error) => void
}): Promise<{ journal: Journal; close(): Promise<void> }> {
  const handle = await openDatabase<JournalTables>({
    url: opts.url,
    dataDir: opts.dataDir,
    poolSize: opts.poolSize ?? 4,
    ...(opts.onConnectionLost ? { onConnectionLost: opts.onConnectionLost } : {}),
  })
  try {
    await migrateJournal(handle.db, opts.schema)
  } catch (err) {
    await handle.close()
    throw err
  }
  const db = opts.schema === undefined ? handle.db : handle.db.withSchema(opts.schema)
  return { journal: createJournal(db), close: () => handle.close() }
}
