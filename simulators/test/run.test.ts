import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Writable } from 'node:stream'
import { silentLogger } from '@fuelpay/platform'
import { createTestDatabase } from '@fuelpay/platform/test-db'
import t, { type Test } from 'tap'
import { carFactoryFor } from '../src/cars.ts'
import { parseSimConfig } from '../src/config.ts'
import { writeReports } from '../src/report.ts'
import { type CarFactory, type RunDeps, runSimulation } from '../src/run.ts'
import type { SimCar } from '../src/sim-car.ts'
import type { StationSim } from '../src/station-sim.ts'

// A short load run through the real cloud, pump controllers and vehicle
// agents: every scenario in the mix, a few seconds, invariants checked.
t.test('a short simulator run keeps every invariant and says so in its report', async (t) => {
  const tdb = await createTestDatabase()
  const dir = await mkdtemp(join(tmpdir(), 'fuelpay-sim-test-'))
  t.teardown(async () => {
    await tdb.cleanup().catch(() => {})
    await rm(dir, { recursive: true, force: true })
  })
  const cfg = parseSimConfig([
    '--vehicles',
    '16',
    '--stations',
    '2',
    '--pumps',
    '3',
    '--rate',
    '3',
    '--duration',
    '4',
    '--seed',
    '7',
    '--scale',
    '120',
    '--offline',
    '120',
    '--drain',
    '40',
    '--mix',
    'happy=3,cancel=1,declined=1,abandoned=1,disconnect=1,duplicate=1,station-offline=1',
    '--no-progress',
    '--name',
    'test-run',
    '--report-dir',
    dir,
    ...(tdb.url ? ['--database-url', tdb.url] : []),
  ])
  const sink = new Writable({ write: (_c, _e, cb) => cb() })
  // The station-offline scenario really cuts the uplink: its sale's first delivery fails.
  const cut: Array<{ station: StationSim; sales: number }> = []
  const report = await runSimulation(cfg, {
    log: silentLogger(),
    carFactory: await carFactoryFor('agent'),
    stderr: sink,
    ...(tdb.dataDir ? { cloudDataDir: tdb.dataDir } : {}),
    onReady: ({ stations }) => {
      for (const station of stations) {
        const goOffline = station.goOffline
        station.goOffline = (untilMs) => {
          cut.push({ station, sales: station.journal.sales().length })
          goOffline(untilMs)
        }
      }
    },
  })
  t.ok(cut.length > 0, 'a station went offline')
  for (const { station, sales } of cut) {
    // A sale recorded after the cut at that station needed a retry.
    const after = station.journal.sales().slice(sales)
    t.ok(
      after.some((s) => s.attempts > 0),
      `a sale after the cut at ${station.plan.id} was retried`,
    )
  }
  for (const inv of report.invariants) t.ok(inv.ok, `${inv.name}: ${inv.detail}`)
  t.equal(report.invariants.length, 6, 'all six invariants were checked')
  t.ok(report.ok, 'the report says the invariants held')
  t.ok((report.stats.totals.started ?? 0) > 0, 'sessions started')
  t.ok((report.stats.totals.captured ?? 0) > 0, 'sales were captured')
  t.ok(report.stats.latencies.authorize?.count, 'utterance-to-authorized latency was measured')
  t.match(
    report.invariants.find((i) => i.name === 'ledger balanced')?.detail,
    /verifyLedger|SQL/,
    'the ledger check ran',
  )
  const paths = await writeReports(report, dir)
  const json = JSON.parse(await readFile(paths.json, 'utf8')) as {
    ok: boolean
    invariants: { ok: boolean }[]
  }
  t.equal(json.ok, true, 'the JSON report says ok')
  t.ok(json.invariants.every((i) => i.ok))
  const html = await readFile(paths.html, 'utf8')
  t.match(html, /<svg/, 'the HTML report has charts')
  t.match(html, /invariants held/)
})

/** A small run on a fresh database; `args` are added to the base flags. */
async function smallRun(
  t: Test,
  args: string[],
  carFactory?: CarFactory,
  onReady?: RunDeps['onReady'],
) {
  const tdb = await createTestDatabase()
  const dir = await mkdtemp(join(tmpdir(), 'fuelpay-sim-test-'))
  t.teardown(async () => {
    await tdb.cleanup().catch(() => {})
    await rm(dir, { recursive: true, force: true })
  })
  const cfg = parseSimConfig([
    '--vehicles',
    '4',
    '--stations',
    '1',
    '--pumps',
    '2',
    '--scale',
    '120',
    '--drain',
    '10',
    '--no-progress',
    '--report-dir',
    dir,
    ...(tdb.url ? ['--database-url', tdb.url] : []),
    ...args,
  ])
  return runSimulation(cfg, {
    log: silentLogger(),
    carFactory: carFactory ?? (await carFactoryFor('wire')),
    stderr: new Writable({ write: (_c, _e, cb) => cb() }),
    ...(tdb.dataDir ? { cloudDataDir: tdb.dataDir } : {}),
    ...(onReady ? { onReady } : {}),
  })
}

const failed = (r: { invariants: { name: string; ok: boolean }[] }) =>
  r.invariants.filter((i) => !i.ok).map((i) => i.name)

t.test('a run in which no session started is not a success', async (t) => {
  // 0.01 arrivals/s for 0.5 s: almost surely none.
  const report = await smallRun(t, ['--rate', '0.01', '--duration', '0.5', '--seed', '3'])
  t.equal(report.stats.totals.started ?? 0, 0, 'no session started')
  t.notOk(report.ok, 'the run fails')
  t.same(failed(report), ['sessions ran and were all judged'])
})

t.test('a run whose session scripts crash is not a success', async (t) => {
  const crashing: CarFactory = ({ plan }) =>
    ({
      plan,
      connect: async () => {},
      startFueling: async () => {
        throw new Error('the car fell over')
      },
      cancel: async () => ({ ok: false, detail: 'n/a' }),
      waitSale: async () => ({ type: 'session-ended' }),
      drop: () => {},
      close: async () => {},
    }) satisfies SimCar
  const report = await smallRun(t, ['--rate', '4', '--duration', '1', '--seed', '3'], crashing)
  t.ok((report.stats.errors.SIM_CRASH ?? 0) > 0, 'the scripts crashed')
  t.notOk(report.ok, 'the run fails')
  t.same(failed(report), ['sessions ran and were all judged'])
})

t.test('a station that loses a sale fails the run (the short run can fail)', async (t) => {
  let lost: string | undefined
  // Sessions whose script went on past waiting for the cloud's answer to its sale.
  const movedOn = new Set<string>()
  const wire = await carFactoryFor('wire')
  const watched: CarFactory = (ctx) => {
    const car = wire(ctx)
    return {
      ...car,
      plan: car.plan,
      waitSale: (sessionId, ms) => {
        movedOn.add(sessionId)
        return car.waitSale(sessionId, ms)
      },
    }
  }
  const report = await smallRun(
    t,
    ['--rate', '3', '--duration', '1.5', '--seed', '5', '--mix', 'happy=1', '--drain', '4'],
    watched,
    ({ stations }) => {
      // A faulty store-and-forward: the first sale with fuel in it is marked
      // delivered without ever reaching the cloud.
      for (const s of stations) {
        const next = s.journal.nextPendingSale
        s.journal.nextPendingSale = async () => {
          const sale = await next()
          if (!sale || lost !== undefined || sale.sale.volumeMilli === 0) return sale
          lost = sale.sessionId
          await s.journal.markSaleAcked(sale.seq, {}, Date.now())
          return next()
        }
      }
    },
  )
  t.ok(lost, 'a sale was lost')
  t.notOk(report.ok, 'the run fails')
  const names = failed(report)
  t.ok(names.includes('every completed sale captured exactly once'), names.join('; '))
  t.ok(names.includes('sum of pump totalizer deltas = captured volume'), names.join('; '))
  t.match(
    report.invariants.find((i) => i.name === 'every completed sale captured exactly once')?.detail,
    lost ?? 'the lost sale',
  )
  // The run is over: the session left waiting for its sale's answer is let go
  // at once, not kept alive by its timer for the offline time plus 30 s.
  const until = Date.now() + 2000
  while (!movedOn.has(lost ?? '') && Date.now() < until) await sleep(50)
  t.ok(movedOn.has(lost ?? ''), 'the waiting session was released when the run ended')
})
