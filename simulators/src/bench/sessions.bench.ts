import { Writable } from 'node:stream'
import { carFactoryFor } from '../cars.ts'
import { parseSimConfig } from '../config.ts'
import { writeReports } from '../report.ts'
import { runSimulation } from '../run.ts'
import { benchEnv, benchLog, envNumber, fmt, header, saveResult } from './bench-common.ts'
import { dbInsertFloor, scratchDatabase } from './floors.ts'

/**
 * Full sessions per second, sustained, through the real cloud (its own
 * process, on real PostgreSQL), real pump controllers and real vehicle
 * agents: happy-path sessions arriving at BENCH_RATE per second for
 * BENCH_DURATION seconds. Prints sessions/s completed, utterance -> pump
 * authorized and hang-up -> captured percentiles, and the database's insert
 * floor from the same run.
 *
 *   BENCH_RATE=500 BENCH_DURATION=60 BENCH_VEHICLES=3000 BENCH_STATIONS=200 npx tsx simulators/src/bench/sessions.bench.ts
 */
const env = benchEnv()
const rate = envNumber('BENCH_RATE', 10)
const vehicles = envNumber('BENCH_VEHICLES', Math.max(50, Math.ceil(rate * 6)))
const stations = envNumber('BENCH_STATIONS', Math.max(5, Math.ceil(rate * 1.5)))
const machine = header(
  `sessions: full fueling sessions per second (real agents, controllers, cloud on PostgreSQL), offered ${rate}/s`,
)
const db = await scratchDatabase(env.pgUrl)
try {
  const cfg = parseSimConfig([
    '--vehicles',
    String(vehicles),
    '--stations',
    String(stations),
    '--pumps',
    '4',
    '--rate',
    String(rate),
    '--duration',
    String(env.durationS),
    '--scale',
    String(envNumber('BENCH_SCALE', 120)),
    '--mix',
    'happy=1',
    '--drain',
    '60',
    '--spawn-cloud',
    // Connected cars are online before the driver speaks: the MQTT link (and
    // its credentials) is made at start, not inside the measured latency.
    '--connect-all',
    '--database-url',
    db.url,
    '--name',
    'bench-sessions-run',
    '--report-dir',
    process.env.BENCH_REPORT_DIR ?? 'reports',
    ...(process.stderr.isTTY ? [] : ['--no-progress']),
  ])
  const report = await runSimulation(cfg, {
    log: benchLog,
    carFactory: await carFactoryFor('agent'),
    stderr: process.stderr.isTTY ? process.stderr : new Writable({ write: (_c, _e, cb) => cb() }),
    command: 'npx tsx simulators/src/bench/sessions.bench.ts',
  })
  await writeReports(report, cfg.reportDir)
  const floor = await dbInsertFloor({
    url: env.pgUrl,
    clients: env.concurrency,
    durationS: Math.min(env.durationS, 5),
  })
  const s = report.stats
  // Sustained: captured sessions over the span from the first start to the last capture
  // (so a backlog that drains late lowers the figure instead of hiding).
  const firstStart = s.series.findIndex((w) => (w.counts.started ?? 0) > 0)
  const lastCapture = s.series.reduce((last, w) => ((w.counts.captured ?? 0) > 0 ? w.t : last), -1)
  const sustained =
    lastCapture >= firstStart && firstStart >= 0
      ? (s.totals.captured ?? 0) / (lastCapture - firstStart + 1)
      : Number.NaN
  const a = s.latencies.authorize
  const c = s.latencies.capture
  const as = s.latencies['authorize.steady']
  const cs = s.latencies['capture.steady']
  process.stdout.write(
    [
      `offered ${rate}/s for ${env.durationS} s to ${vehicles} vehicles at ${stations} stations x 4 pumps: started ${s.totals.started ?? 0}, captured ${s.totals.captured ?? 0}, skipped (no free pump/car) ${s.totals.skipped ?? 0}, errors ${Object.values(s.errors).reduce((x, y) => x + y, 0)}`,
      `sustained captured sessions/s (first start to last capture): ${fmt(sustained, 1)}`,
      `utterance -> pump authorized: p50 ${fmt(a?.p50 ?? Number.NaN)} ms, p99 ${fmt(a?.p99 ?? Number.NaN)} ms, max ${fmt(a?.max ?? Number.NaN)} ms (target p99 < 50 ms)`,
      `hang-up -> captured:          p50 ${fmt(c?.p50 ?? Number.NaN)} ms, p99 ${fmt(c?.p99 ?? Number.NaN)} ms, max ${fmt(c?.max ?? Number.NaN)} ms`,
      `after the first 2 s (warm-up): utterance -> authorized p50 ${fmt(as?.p50 ?? Number.NaN)} / p99 ${fmt(as?.p99 ?? Number.NaN)} ms (${as?.count ?? 0} sessions), hang-up -> captured p50 ${fmt(cs?.p50 ?? Number.NaN)} / p99 ${fmt(cs?.p99 ?? Number.NaN)} ms`,
      `floor (${floor.method}, single-row insert tx, ${floor.clients} clients): ${fmt(floor.txPerS)}/s`,
      `invariants: ${
        report.ok
          ? 'all held'
          : `BROKEN: ${report.invariants
              .filter((i) => !i.ok)
              .map((i) => i.name)
              .join('; ')}`
      }`,
      '',
    ].join('\n'),
  )
  await saveResult('sessions', {
    machine,
    rate,
    durationS: env.durationS,
    vehicles,
    stations,
    sustainedPerS: sustained,
    totals: s.totals,
    errors: s.errors,
    latencies: s.latencies,
    floor,
    invariantsOk: report.ok,
  })
  if (!report.ok) process.exitCode = 1
} finally {
  await db.drop()
}

// Figures are printed and saved: do not wait on a socket some component forgot to close.
setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref()
