/**
 * `tsx cloud/src/migrate.ts`: migrates the configured database to the latest
 * schema and exits. The server also migrates on start.
 */
import { createLogger } from '@fuelpay/platform'
import { loadConfig } from './config.ts'
import { openCloudDatabase } from './db/open.ts'
import { migrateToLatest } from './db/migrator.ts'

const config = loadConfig()
const log = createLogger({ name: 'cloud-migrate', level: config.logLevel })
const handle = await openCloudDatabase({ ...config, migrate: false })
try {
  const applied = await migrateToLatest(handle.db)
  log.info({ applied, kind: handle.kind }, 'migrations applied')
} catch (e) {
  log.error({ err: e }, 'migration failed')
  process.exitCode = 1
} finally {
  await handle.close()
}
