/**
 * @fuelpay/cloud: what other packages (simulators, the demo, end-to-end
 * tests, the console) use to run and read the cloud in-process.
 *
 * @example
 *   import { loadConfig, startCloud, createOutboxReader } from '@fuelpay/cloud'
 *   const cloud = await startCloud(loadConfig({ FUELPAY_HTTP_PORT: '0', FUELPAY_MQTT_PORT: '0', FUELPAY_DATA_DIR: dir }))
 *   const reader = createOutboxReader({ handle: cloud.database, log, onEvent: (e) => ... })
 */
export { build, type BuildOptions } from './app.ts'
export { type MosquittoConfigFiles, type MosquittoConfigOptions, writeMosquittoConfig } from './broker/mosquitto-config.ts'
export { type RunningCloud, type StartCloudOptions, startCloud } from './cloud.ts'
export { type CloudConfig, type Env, loadConfig } from './config.ts'
export type { Tables } from './db/database.ts'
export { openCloudDatabase } from './db/open.ts'
export type { CloudDeps } from './deps.ts'
export { verifyLedger, type LedgerReport } from './ledger/ledger.repository.ts'
export { createOutboxReader, type OutboxReader, type OutboxReaderOptions } from './outbox/outbox-reader.ts'
export { latestOutboxId, OUTBOX_CHANNEL, type OutboxEvent, readOutbox } from './outbox/outbox.repository.ts'
export type { PaymentProcessor } from './processor/payment-processor.ts'
export type { SimFaults } from './processor/sim-processor.ts'
