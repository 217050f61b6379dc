import t from 'tap'
import { parseSimConfig } from '../src/config.ts'
import { createHistogram } from '../src/histogram.ts'
import { formatProgress } from '../src/progress.ts'
import { barChart, lineChart, renderHtml, type SimReport, summaryTable } from '../src/report.ts'
import { createRunStats } from '../src/run-stats.ts'
import { machineInfo } from '../src/machine.ts'

t.test('histogram percentiles are within 1% and never below the truth', async (t) => {
  const h = createHistogram()
  for (let i = 1; i <= 10_000; i++) h.record(i / 10)
  const p99 = h.percentile(99)
  t.ok(p99 >= 990 && p99 <= 990 * 1.011, `p99 ${p99}`)
  t.equal(h.maxMs, 1000)
  t.equal(h.count, 10_000)
  h.record(Number.NaN)
  h.record(-1)
  t.equal(h.count, 10_000, 'bad values are ignored')
  t.ok(Number.isNaN(createHistogram().percentile(50)))
})

t.test('run stats bucket per second and summarise', async (t) => {
  let now = 0
  const s = createRunStats(() => now)
  s.count('started')
  s.latency('authorize', 5)
  now = 1500
  s.count('started')
  s.error('TIMEOUT')
  s.outcome('happy', 'captured')
  now = 3000
  const live = s.live(5)
  t.equal(live.totals.started, 2)
  t.equal(live.errors, 1)
  const r = s.report()
  t.equal(r.series.length, 2)
  t.same(r.errors, { TIMEOUT: 1 })
  t.equal(r.latencies.authorize?.count, 1)
  t.match(formatProgress({ ...live, active: 3 }, 10), /start .*\/s.*active 3.*err 1/)
})

t.test('charts and the HTML page escape what they show', async (t) => {
  const svg = lineChart({
    title: '<b>x</b>',
    xLabel: 'a',
    yLabel: 'b',
    series: [
      {
        name: 'p99',
        color: '#000',
        points: [
          [0, 1],
          [1, 2],
        ],
      },
    ],
  })
  t.match(svg, /^<svg/)
  t.notMatch(svg, /<b>/)
  t.match(barChart({ title: 't', bars: [['TIMEOUT', 3]] }), /TIMEOUT/)
  const stats = createRunStats()
  stats.error('<script>')
  const r: SimReport = {
    tool: 'fuelpay-simulator',
    name: 'n',
    startedAt: 'now',
    command: 'c',
    config: {},
    machine: machineInfo(),
    stats: stats.report(),
    invariants: [{ name: 'ledger balanced', ok: false, detail: 'x' }],
    ok: false,
    notes: [],
  }
  const html = renderHtml(r)
  t.notMatch(html, /<script>/)
  t.match(html, /INVARIANT BROKEN/)
  t.match(summaryTable(r), /ledger balanced\s+NO/)
})

t.test('configuration: defaults, bounds and refusals', async (t) => {
  const c = parseSimConfig([])
  t.equal(c.vehicles, 50)
  t.ok(Object.isFrozen(c))
  t.equal(parseSimConfig(['--vehicles', '10000']).vehicles, 10_000)
  t.throws(() => parseSimConfig(['--vehicles', '0']))
  t.throws(() => parseSimConfig(['--vehicles', '1e9']))
  t.throws(() => parseSimConfig(['--rate', 'fast']))
  t.throws(() => parseSimConfig(['--pumps', '100']))
  t.throws(() => parseSimConfig(['--bogus']))
  t.throws(() => parseSimConfig(['--cloud-url', 'http://x']), /broker-url/)
  t.throws(() => parseSimConfig(['--name', '../etc']))
})
