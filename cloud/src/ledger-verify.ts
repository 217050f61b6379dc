/**
 * `tsx cloud/src/ledger-verify.ts`: checks that every journal entry balances
 * and every session agrees with its ledger entries; exits 1 when not.
 */
import { loadConfig } from './config.ts'
import { openCloudDatabase } from './db/open.ts'
import { verifyLedger } from './ledger/ledger.repository.ts'

const handle = await openCloudDatabase(loadConfig())
try {
  const report = await verifyLedger(handle.db)
  process.stdout.write(`${JSON.stringify(report)}\n`)
  process.exitCode = report.ok ? 0 : 1
} finally {
  await handle.close()
}
