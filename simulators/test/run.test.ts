import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { silentLogger } from '@fuelpay/platform'
import { createTestDatabase } from '@fuelpay/platform/test-db'
import t from 'tap'
import { carFactoryFor } from '../src/cars.ts'
import { parseSimConfig } from '../src/config.ts'
import { writeReports } from '../src/report.ts'
import { runSimulation } from '../src/run.ts'

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
  const report = await runSimulation(cfg, {
    log: silentLogger(),
    carFactory: await carFactoryFor('agent'),
    stderr: sink,
    ...(tdb.dataDir ? { cloudDataDir: tdb.dataDir } : {}),
  })
  for (const inv of report.invariants) t.ok(inv.ok, `${inv.name}: ${inv.detail}`)
  t.equal(report.invariants.length, 5, 'all five invariants were checked')
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
