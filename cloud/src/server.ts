/**
 * `tsx cloud/src/server.ts`: the cloud service (HTTP API and embedded MQTT
 * broker) on the environment's configuration. Logs "fuelpay cloud ready" with
 * httpUrl and mqttUrl when it accepts requests; closes cleanly on SIGINT/SIGTERM.
 */
import { createLogger } from '@fuelpay/platform'
import { startCloud } from './cloud.ts'
import { loadConfig } from './config.ts'

const config = loadConfig()
const log = createLogger({ name: 'cloud', level: config.logLevel })
try {
  const cloud = await startCloud(config, { log })
  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    log.info({ signal }, 'fuelpay cloud stopping')
    const force = setTimeout(() => process.exit(1), 10_000)
    force.unref()
    cloud.close().then(
      () => {
        log.flush?.()
        process.exit(0)
      },
      (err) => {
        log.error({ err }, 'close failed')
        process.exit(1)
      },
    )
  }
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGTERM', () => stop('SIGTERM'))
} catch (err) {
  log.fatal({ err }, 'fuelpay cloud failed to start')
  log.flush?.()
  process.exitCode = 1
  setTimeout(() => process.exit(1), 200).unref()
}
