import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { InvariantResult } from './invariants.ts'
import type { MachineInfo } from './machine.ts'
import type { StatsReport } from './run-stats.ts'

/**
 * A run's report: what was asked, on what machine, what happened, and
 * whether the invariants held. Written as JSON (for tools and tests) and as
 * one self-contained HTML page with inline SVG charts (no scripts, no CDN).
 *
 * @example const paths = await writeReports(report, 'reports', 'sim-1'); console.log(summaryTable(report))
 */
export interface SimReport {
  tool: 'fuelpay-simulator' | 'fuelpay-bench'
  name: string
  startedAt: string
  command: string
  config: Record<string, unknown>
  machine: MachineInfo
  stats: StatsReport
  invariants: InvariantResult[]
  /** True when every invariant held. */
  ok: boolean
  notes: string[]
  extra?: Record<string, unknown>
}

const esc = (s: unknown): string => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
const n = (x: number | undefined, d = 1): string =>
  x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(d)

/** Plain-text tables for the terminal. */
export function summaryTable(r: SimReport): string {
  const rows: string[][] = []
  const s = r.stats
  const finished = s.totals.finished ?? 0
  rows.push(['duration', `${n(s.durationS)} s`])
  for (const [k, v] of Object.entries(s.totals).sort()) rows.push([k, String(v)])
  rows.push(['finished/s (whole run)', n(finished / Math.max(0.001, s.durationS), 2)])
  const out = [table(['metric', 'value'], rows)]
  const lat = Object.entries(s.latencies)
  if (lat.length)
    out.push(
      table(
        ['latency (ms)', 'count', 'p50', 'p90', 'p99', 'p99.9', 'max'],
        lat.map(([k, v]) => [
          k,
          String(v.count),
          n(v.p50),
          n(v.p90),
          n(v.p99),
          n(v.p999),
          n(v.max),
        ]),
      ),
    )
  const outcomes = Object.entries(s.outcomes)
  if (outcomes.length)
    out.push(
      table(
        ['scenario', 'outcomes'],
        outcomes.map(([k, m]) => [
          k,
          Object.entries(m)
            .map(([o, c]) => `${o}=${c}`)
            .join(' '),
        ]),
      ),
    )
  const errs = Object.entries(s.errors)
  if (errs.length)
    out.push(
      table(
        ['error', 'count'],
        errs.sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, String(v)]),
      ),
    )
  out.push(
    table(
      ['invariant', 'held', 'detail'],
      r.invariants.map((i) => [i.name, i.ok ? 'yes' : 'NO', i.detail]),
    ),
  )
  return out.join('\n')
}

export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd()
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

// SVG charts ----------------------------------------------------------------

interface Series {
  name: string
  color: string
  points: Array<[number, number]>
}

const PALETTE = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#ff7f0e',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf',
]

function niceMax(v: number): number {
  if (!(v > 0)) return 1
  const p = 10 ** Math.floor(Math.log10(v))
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p
  return 10 * p
}

/** A line chart as an SVG string: axes with ticks, one polyline per series, a legend. */
export function lineChart(opts: {
  title: string
  xLabel: string
  yLabel: string
  series: Series[]
  width?: number
  height?: number
  logY?: boolean
}): string {
  const W = opts.width ?? 720
  const H = opts.height ?? 260
  const L = 60
  const R = 150
  const T = 28
  const B = 40
  const pw = W - L - R
  const ph = H - T - B
  const all = opts.series.flatMap((s) => s.points).filter(([, y]) => Number.isFinite(y))
  const xMax = Math.max(1, ...all.map(([x]) => x))
  const yMaxRaw = Math.max(0, ...all.map(([, y]) => y))
  const logY = opts.logY === true && all.some(([, y]) => y > 0)
  const yMin = logY
    ? 10 **
      Math.floor(
        Math.log10(Math.max(0.01, Math.min(...all.filter(([, y]) => y > 0).map(([, y]) => y)))),
      )
    : 0
  const yMax = logY ? 10 ** Math.ceil(Math.log10(Math.max(yMin * 10, yMaxRaw))) : niceMax(yMaxRaw)
  const sx = (x: number) => L + (x / xMax) * pw
  const sy = (y: number) =>
    logY
      ? T +
        ph -
        ((Math.log10(Math.max(y, yMin)) - Math.log10(yMin)) /
          (Math.log10(yMax) - Math.log10(yMin))) *
          ph
      : T + ph - (y / yMax) * ph
  const parts: string[] = []
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(opts.title)}">`,
  )
  parts.push(`<text x="${L}" y="18" font-size="14" font-weight="bold">${esc(opts.title)}</text>`)
  const yTicks = logY
    ? Array.from({ length: Math.round(Math.log10(yMax / yMin)) + 1 }, (_, i) => yMin * 10 ** i)
    : [0, 0.25, 0.5, 0.75, 1].map((f) => f * yMax)
  for (const y of yTicks) {
    const py = sy(y)
    parts.push(`<line x1="${L}" x2="${L + pw}" y1="${py}" y2="${py}" stroke="#ddd"/>`)
    parts.push(
      `<text x="${L - 6}" y="${py + 4}" font-size="11" text-anchor="end">${esc(+y.toPrecision(3))}</text>`,
    )
  }
  const xStep = Math.max(1, niceMax(xMax / 6))
  for (let x = 0; x <= xMax + 1e-9; x += xStep) {
    parts.push(
      `<text x="${sx(x)}" y="${T + ph + 16}" font-size="11" text-anchor="middle">${esc(+x.toPrecision(4))}</text>`,
    )
  }
  parts.push(
    `<line x1="${L}" x2="${L}" y1="${T}" y2="${T + ph}" stroke="#333"/><line x1="${L}" x2="${L + pw}" y1="${T + ph}" y2="${T + ph}" stroke="#333"/>`,
  )
  parts.push(
    `<text x="${L + pw / 2}" y="${H - 6}" font-size="12" text-anchor="middle">${esc(opts.xLabel)}</text>`,
  )
  parts.push(
    `<text x="14" y="${T + ph / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 14 ${T + ph / 2})">${esc(opts.yLabel)}</text>`,
  )
  opts.series.forEach((s, i) => {
    const pts = s.points.filter(([, y]) => Number.isFinite(y))
    if (pts.length === 1) {
      const [x, y] = pts[0] as [number, number]
      parts.push(`<circle cx="${sx(x)}" cy="${sy(y)}" r="3" fill="${s.color}"/>`)
    } else if (pts.length > 1) {
      parts.push(
        `<polyline fill="none" stroke="${s.color}" stroke-width="1.6" points="${pts.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ')}"/>`,
      )
    }
    const ly = T + 10 + i * 18
    parts.push(
      `<rect x="${L + pw + 12}" y="${ly - 8}" width="12" height="3" fill="${s.color}"/><text x="${L + pw + 30}" y="${ly}" font-size="12">${esc(s.name)}</text>`,
    )
  })
  parts.push('</svg>')
  return parts.join('')
}

/** A horizontal bar chart as an SVG string. */
export function barChart(opts: {
  title: string
  bars: Array<[string, number]>
  width?: number
}): string {
  const W = opts.width ?? 720
  const rowH = 22
  const L = 220
  const T = 28
  const H = T + Math.max(1, opts.bars.length) * rowH + 10
  const max = Math.max(1, ...opts.bars.map(([, v]) => v))
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(opts.title)}">`,
  ]
  parts.push(`<text x="10" y="18" font-size="14" font-weight="bold">${esc(opts.title)}</text>`)
  if (opts.bars.length === 0) parts.push(`<text x="10" y="${T + 14}" font-size="12">none</text>`)
  opts.bars.forEach(([label, v], i) => {
    const y = T + i * rowH
    const w = ((W - L - 80) * v) / max
    parts.push(
      `<text x="${L - 8}" y="${y + 14}" font-size="12" text-anchor="end">${esc(label)}</text>`,
    )
    parts.push(
      `<rect x="${L}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="#d62728"/>`,
    )
    parts.push(`<text x="${L + w + 6}" y="${y + 14}" font-size="12">${esc(v)}</text>`)
  })
  parts.push('</svg>')
  return parts.join('')
}

function htmlTable(head: string[], rows: string[][]): string {
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`
}

/** The whole report as one HTML page with inline SVG. */
export function renderHtml(r: SimReport): string {
  const s = r.stats
  const charts: string[] = []
  const latencyNames = Object.keys(s.latencies).filter((n) => !n.endsWith('.steady'))
  for (const name of latencyNames) {
    const pts = (q: 'p50' | 'p90' | 'p99' | 'max') =>
      s.series
        .filter((w) => w.latencies[name])
        .map((w) => [w.t, w.latencies[name]?.[q] ?? Number.NaN] as [number, number])
    charts.push(
      lineChart({
        title: `${name} latency per second (ms, log scale)`,
        xLabel: 'seconds into the run',
        yLabel: 'ms',
        logY: true,
        series: [
          { name: 'p50', color: PALETTE[0] as string, points: pts('p50') },
          { name: 'p90', color: PALETTE[2] as string, points: pts('p90') },
          { name: 'p99', color: PALETTE[1] as string, points: pts('p99') },
          { name: 'max', color: '#999', points: pts('max') },
        ],
      }),
    )
  }
  const counterNames = ['started', 'finished', 'authorized', 'captured'].filter(
    (k) => k in s.totals,
  )
  charts.push(
    lineChart({
      title: 'sessions per second',
      xLabel: 'seconds into the run',
      yLabel: 'per second',
      series: counterNames.map((k, i) => ({
        name: k,
        color: PALETTE[i % PALETTE.length] as string,
        points: s.series.map((w) => [w.t, w.counts[k] ?? 0] as [number, number]),
      })),
    }),
  )
  charts.push(
    lineChart({
      title: 'errors per second',
      xLabel: 'seconds into the run',
      yLabel: 'per second',
      series: [
        {
          name: 'errors',
          color: '#d62728',
          points: s.series.map((w) => [w.t, w.errors] as [number, number]),
        },
      ],
    }),
  )
  charts.push(
    barChart({
      title: 'errors by reason',
      bars: Object.entries(s.errors).sort((a, b) => b[1] - a[1]),
    }),
  )
  const latRows = Object.entries(s.latencies).map(([k, v]) => [
    k,
    String(v.count),
    n(v.p50),
    n(v.p90),
    n(v.p99),
    n(v.p999),
    n(v.max),
  ])
  const outcomeRows = Object.entries(s.outcomes).map(([k, m]) => [
    k,
    Object.entries(m)
      .map(([o, c]) => `${o}=${c}`)
      .join(' '),
  ])
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(r.name)} - fuelpay ${r.tool === 'fuelpay-bench' ? 'benchmark' : 'simulator'} report</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px;max-width:1100px;color:#222}
h1{font-size:20px} h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0} th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;font-variant-numeric:tabular-nums}
th{background:#f3f3f3} .ok{color:#1a7f37;font-weight:bold} .bad{color:#c00;font-weight:bold}
svg{display:block;margin:12px 0;background:#fff} code{background:#f6f6f6;padding:1px 4px}
</style></head><body>
<h1>fuelpay ${r.tool === 'fuelpay-bench' ? 'benchmark' : 'simulator'} run ${esc(r.name)}: <span class="${r.ok ? 'ok' : 'bad'}">${r.ok ? 'invariants held' : 'INVARIANT BROKEN'}</span></h1>
<p>Started ${esc(r.startedAt)}, ${n(s.durationS)} s. Command: <code>${esc(r.command)}</code></p>
<p>Machine: ${esc(`${r.machine.cpuModel}, ${r.machine.cores} cores, ${r.machine.memoryMb} MB, node ${r.machine.node}, load ${r.machine.loadavg.join(' ')}`)}</p>
<h2>Invariants</h2>
${htmlTable(
  ['invariant', 'held', 'detail'],
  r.invariants.map((i) => [i.name, i.ok ? 'yes' : 'NO', i.detail]),
)}
<h2>Totals</h2>
${htmlTable(
  ['metric', 'value'],
  Object.entries(s.totals)
    .sort()
    .map(([k, v]) => [k, String(v)]),
)}
<h2>Latency (ms)</h2>
${htmlTable(['latency', 'count', 'p50', 'p90', 'p99', 'p99.9', 'max'], latRows)}
<h2>Outcomes by scenario</h2>
${htmlTable(['scenario', 'outcomes'], outcomeRows)}
<h2>Charts</h2>
${charts.join('\n')}
<h2>Configuration</h2>
${htmlTable(
  ['option', 'value'],
  Object.entries(r.config).map(([k, v]) => [
    k,
    typeof v === 'object' ? JSON.stringify(v) : String(v),
  ]),
)}
${r.notes.length ? `<h2>Notes</h2><ul>${r.notes.map((x) => `<li>${esc(x)}</li>`).join('')}</ul>` : ''}
</body></html>
`
}

/** Writes `<dir>/<name>.json` and `<dir>/<name>.html`; returns their paths. */
export async function writeReports(
  r: SimReport,
  dir: string,
): Promise<{ json: string; html: string }> {
  await mkdir(dir, { recursive: true })
  const json = join(dir, `${r.name}.json`)
  const html = join(dir, `${r.name}.html`)
  await writeFile(
    json,
    `${JSON.stringify(r, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`,
  )
  await writeFile(html, renderHtml(r))
  return { json, html }
}
