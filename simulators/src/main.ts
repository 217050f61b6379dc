import { createLogger } from '@fuelpay/platform'
import { HelpRequested, parseSimConfig, USAGE } from './config.ts'
import { formatMachine, machineInfo } from './machine.ts'
import { summaryTable, writeReports } from './report.ts'
import { carFactoryFor } from './cars.ts'
import { runSimulation } from './run.ts'

/**
 * The simulator program:
 *   tsx simulators/src/main.ts --vehicles 200 --stations 10 --pumps 4 --rate 20 --duration 60 --seed 7
 * Prints progress on stderr, the summary table on stdout, writes
 * reports/<name>.json and .html, and exits 1 if an invariant broke.
 */
async function main(): Promise<number> {
  let cfg: ReturnType<typeof parseSimConfig>
  try {
    cfg = parseSimConfig(process.argv.slice(2), process.env)
  } catch (err) {
    if (err instanceof HelpRequested) {
      process.stdout.write(`${USAGE}\n`)
      return 0
    }
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`)
    return 2
  }
  const log = createLogger({ name: 'simulator', level: cfg.logLevel, destination: 2 })
  process.stderr.write(`${formatMachine(machineInfo())}\n`)
  const carKind = cfg.car
  const report = await runSimulation(cfg, {
    log,
    carFactory: await carFactoryFor(carKind),
    stderr: process.stderr,
    command: `tsx simulators/src/main.ts ${process.argv.slice(2).join(' ')}`,
  })
  report.notes.push(
    `cars: ${carKind === 'agent' ? 'the real vehicle agent with transcripts for voice' : 'protocol-level cars (wire-vehicle.ts)'}`,
  )
  const paths = await writeReports(report, cfg.reportDir)
  process.stdout.write(`${summaryTable(report)}\n\nreport: ${paths.html}\n        ${paths.json}\n`)
  for (const n of report.notes) process.stdout.write(`note: ${n}\n`)
  return report.ok ? 0 : 1
}

main().then(
  (code) => {
    process.exitCode = code
    // Reports are written; do not wait on sockets a component forgot to unref.
    setTimeout(() => process.exit(code), 2000).unref()
  },
  (err: unknown) => {
    process.stderr.write(`simulator failed: ${(err as Error).stack ?? String(err)}\n`)
    process.exit(2)
  },
)
