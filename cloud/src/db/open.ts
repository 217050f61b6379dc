import { join } from 'node:path'
import { type DatabaseHandle, openDatabase } from '@fuelpay/platform'
import type { Tables } from './database.ts'
import { migrateToLatest } from './migrator.ts'

/**
 * Opens the cloud's database (PostgreSQL at `databaseUrl`, else PGlite under
 * `dataDir/pglite`) and migrates it to the latest schema.
 *
 * @example const handle = await openCloudDatabase({ databaseUrl: undefined, dataDir: '.data' })
 */
export async function openCloudDatabase(opts: {
  databaseUrl?: string | undefined
  dataDir?: string | undefined
  migrate?: boolean
  /** PostgreSQL connections (default 20: a request issues some reads together, at several requests in flight). */
  poolSize?: number
  /** Repeated statements run prepared (default true). */
  dbPrepare?: boolean
  /** Told when the server ends a pooled connection (the pool opens a new one). */
  onConnectionLost?: (err: Error) => void
}): Promise<DatabaseHandle<Tables>> {
  const handle = await openDatabase<Tables>({
    url: opts.databaseUrl,
    poolSize: opts.poolSize ?? 20,
    prepare: opts.dbPrepare ?? true,
    // A connection costs a few milliseconds to open: keep them (5 min idle)
    // and open a few at start, so a burst after a quiet spell does not wait.
    idleTimeoutMs: 300_000,
    warmConnections: 4,
    ...(opts.onConnectionLost ? { onConnectionLost: opts.onConnectionLost } : {}),
    dataDir: opts.databaseUrl ? undefined : opts.dataDir ? join(opts.dataDir, 'pglite') : undefined,
  })
  if (opts.migrate ?? true) {
    try {
      await migrateToLatest(handle.db)
    } catch (e) {
      await handle.close()
      throw e
    }
  }
  return handle
}
