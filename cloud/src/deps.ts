import type { Logger } from '@fuelpay/platform'
import type { StationCommand } from '@fuelpay/proto'
import type { CloudConfig } from './config.ts'
import type { Db } from './db/database.ts'
import type { KeyRing } from './keys/key-ring.ts'
import type { CloudMetrics } from './ops/metrics.ts'
import type { PaymentProcessor } from './processor/payment-processor.ts'

/**
 * What domain functions get: plain values and adapters, no fastify. Every
 * service is `fn(deps, input)`.
 */
export interface CloudDeps {
  db: Db
  log: Logger
  config: CloudConfig
  keys: KeyRing
  processor: PaymentProcessor
  nowMs: () => number
  metrics: CloudMetrics
  /** Publishes a station command over MQTT and returns its command id; absent when no broker link is up. */
  sendStationCommand?: (stationId: string, command: StationCommand) => Promise<string>
}
