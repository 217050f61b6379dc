/**
 * The cloud in its own process for simulator and benchmark runs: what
 * `cloud/src/server.ts` does, except that its log level (warn by default,
 * so request logs do not cost the run) does not hide the ready line, which
 * this launcher prints itself.
 *
 *   FUELPAY_HTTP_PORT=0 FUELPAY_MQTT_PORT=0 DATABASE_URL=... tsx simulators/src/cloud-process.ts
 */
import { createLogger } from '@fuelpay/platform'
import { loadConfig, startCloud } from '@fuelpay/cloud'

const config = loadConfig(process.env)
const log = createLogger({ name: 'cloud', level: config.logLevel })
try {
  const cloud = await startCloud(config, { log })
  process.stdout.write(
    `${JSON.stringify({ msg: 'fuelpay cloud ready', httpUrl: cloud.httpUrl, mqttUrl: cloud.mqttUrl, pid: process.pid })}\n`,
  )
  const stop = () => {
    const force = setTimeout(() => process.exit(1), 10_000)
    force.unref()
    cloud.close().then(
      () => process.exit(0),
      () => process.exit(1),
    )
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
} catch (err) {
  process.stderr.write(`cloud failed to start: ${(err as Error).stack ?? String(err)}\n`)
  process.exit(1)
}
