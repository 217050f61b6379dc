import { mkdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { createLogger } from '@fuelpay/platform'
import { type Grade, importSigningKey } from '@fuelpay/proto'
import { createCloudClient } from './cloud/cloud-client.ts'
import { readMainConfig } from './config.ts'
import { createPumpController } from './controller.ts'
import { buildHealthServer } from './http/health.server.ts'
import { openJournal } from './journal/journal.open.ts'
import { createControllerMetrics } from './metrics.ts'
import { connectStationLink } from './mqtt/mqtt-link.ts'
import { createSimulatedDispenser } from './pump/simulated-dispenser.ts'

/**
 * Runs one station:
 *   tsx pump-controller/src/main.ts --station-id ID --cloud-url URL --broker-url URL \
 *     --key-file station.jwk --pumps '1:diesel=1799,unleaded95=1859;2:diesel=1799' [--data-dir D]
 * Pumps are simulated dispensers (demo mode: the nozzle is lifted 1 s after
 * authorization; --sim-auto-lift-ms off waits forever).
 */
async function main() {
  let config: ReturnType<typeof readMainConfig>
  try {
    config = readMainConfig(process.argv.slice(2))
  } catch (err) {
    process.stderr.write(`pump-controller: ${(err as Error).message}\n`)
    process.exit(2)
  }
  const log = createLogger({ name: 'pump-controller', level: config.logLevel })
  const stationKey = await importSigningKey(JSON.parse(readFileSync(config.keyFile, 'utf8')))
  const dataDir = resolve(config.dataDir)
  mkdirSync(dataDir, { recursive: true })
  const { journal, close: closeJournal } = await openJournal({
    url: config.databaseUrl,
    dataDir: config.databaseUrl ? undefined : join(dataDir, 'journal'),
    schema: config.journalSchema,
    onConnectionLost: (err) => log.warn({ err }, 'journal database connection lost; the next query opens a new one'),
  })
  const cloud = createCloudClient({
    baseUrl: config.cloudUrl,
    stationId: config.stationId,
    key: stationKey,
  })

  const credentials = config.mqttPasswordFile
    ? {
        username: `station-${config.stationId}`,
        password: readFileSync(config.mqttPasswordFile, 'utf8').trim(),
      }
    : undefined
  let link: Awaited<ReturnType<typeof connectStationLink>> | undefined
  const deadline = Date.now() + 10 * 60_000
  for (let attempt = 0; !link; attempt++) {
    try {
      link = await connectStationLink({
        cloud,
        stationId: config.stationId,
        pumps: config.pumps.length,
        log,
        ...(config.brokerUrl ? { brokerUrl: config.brokerUrl } : {}),
        ...(credentials ? { credentials } : {}),
      })
    } catch (err) {
      if (Date.now() > deadline) {
        log.fatal({ err: (err as Error).message }, 'could not reach the broker; giving up')
        process.exit(1)
      }
      const delay = Math.min(10_000, 250 * 2 ** attempt)
      log.warn(
        { err: (err as Error).message, delayMs: delay },
        'broker connection failed; retrying',
      )
      await new Promise((r) => setTimeout(r, delay))
    }
  }

  const drivers = config.pumps.map((p) =>
    createSimulatedDispenser({
      pump: p.pump,
      grades: Object.keys(p.prices) as Grade[],
      flowRateMilliPerS: config.sim.flowRateMilliPerS,
      stateFile: join(dataDir, `pump-${p.pump}.sim.json`),
      ...(config.sim.autoLiftAfterMs !== undefined
        ? { autoLiftAfterMs: config.sim.autoLiftAfterMs }
        : {}),
      ...(config.sim.autoFillMilli !== undefined
        ? { autoFillMilli: config.sim.autoFillMilli }
        : {}),
    }),
  )
  const controller = createPumpController({
    log,
    config,
    link,
    drivers,
    journal,
    cloud,
    stationKey,
    metrics: createControllerMetrics({ stationId: config.stationId, defaultMetrics: true }),
  })
  await controller.start()
  const app = buildHealthServer({ controller })
  await app.listen({ host: config.httpHost, port: config.httpPort })
  const addr = app.server.address()
  const port = typeof addr === 'object' && addr ? addr.port : config.httpPort
  log.info(
    {
      stationId: config.stationId,
      healthUrl: `http://${config.httpHost}:${port}/healthz`,
      pumps: config.pumps.map((p) => p.pump),
    },
    'pump controller ready',
  )

  let stopping = false
  const shutdown = async (signal: string) => {
    if (stopping) return
    stopping = true
    log.info({ signal }, 'pump controller stopping')
    const force = setTimeout(() => process.exit(1), 10_000)
    force.unref()
    await controller.stop()
    await app.close()
    await link?.end()
    for (const d of drivers) await d.close()
    await closeJournal()
    log.flush()
    process.exit(0)
  }
  process.on('SIGTERM', () => void shutdown('SIGTERM'))
  process.on('SIGINT', () => void shutdown('SIGINT'))
}

main().catch((err) => {
  process.stderr.write(`pump-controller failed: ${(err as Error).stack ?? err}\n`)
  process.exit(1)
})
