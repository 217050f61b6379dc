import { createHistogram, type Histogram, summarize } from './histogram.ts'

/**
 * Everything a run measures, bucketed per second of wall-clock time so the
 * report can draw percentiles and rates over time. Counters are named
 * strings; latencies are named histograms; errors are counted by reason code.
 *
 * @example const s = createRunStats(() => performance.now()); s.count('started'); s.latency('authorize', 12.5)
 */
export interface RunStats {
  count(name: string, n?: number): void
  latency(name: string, ms: number): void
  /** An error by its reason code (proto reason code, or a simulator code like SIM_TIMEOUT). */
  error(reason: string): void
  /** How a session ended, by scenario: outcome counts feed the summary table. */
  outcome(scenario: string, outcome: string): void
  readonly startedAtMs: number
  elapsedMs(): number
  /** Rates over the last `windowS` seconds, for the progress line. */
  live(windowS?: number): LiveRates
  report(): StatsReport
}

export interface LiveRates {
  elapsedS: number
  perS: Record<string, number>
  totals: Record<string, number>
  errors: number
  p99: Record<string, number>
}

export interface StatsReport {
  durationS: number
  totals: Record<string, number>
  errors: Record<string, number>
  outcomes: Record<string, Record<string, number>>
  latencies: Record<string, ReturnType<typeof summarize>>
  /** One entry per second. */
  series: Array<{
    t: number
    counts: Record<string, number>
    errors: number
    latencies: Record<string, { count: number; p50: number; p90: number; p99: number; max: number }>
  }>
}

interface Window {
  counts: Map<string, number>
  errors: number
  latencies: Map<string, Histogram>
}

export function createRunStats(now: () => number = () => performance.now()): RunStats {
  const startedAtMs = now()
  const windows: Window[] = []
  const totals = new Map<string, number>()
  const errors = new Map<string, number>()
  const outcomes = new Map<string, Map<string, number>>()
  const overall = new Map<string, Histogram>()

  const win = (): Window => {
    const i = Math.max(0, Math.floor((now() - startedAtMs) / 1000))
    while (windows.length <= i) windows.push({ counts: new Map(), errors: 0, latencies: new Map() })
    return windows[i] as Window
  }
  const bump = (m: Map<string, number>, k: string, n = 1) => m.set(k, (m.get(k) ?? 0) + n)
  const hist = (m: Map<string, Histogram>, k: string): Histogram => {
    let h = m.get(k)
    if (!h) {
      h = createHistogram()
      m.set(k, h)
    }
    return h
  }

  return {
    startedAtMs,
    elapsedMs: () => now() - startedAtMs,
    count(name, n = 1) {
      bump(totals, name, n)
      bump(win().counts, name, n)
    },
    latency(name, ms) {
      hist(overall, name).record(ms)
      hist(win().latencies, name).record(ms)
    },
    error(reason) {
      bump(errors, reason)
      win().errors++
    },
    outcome(scenario, outcome) {
      let m = outcomes.get(scenario)
      if (!m) {
        m = new Map()
        outcomes.set(scenario, m)
      }
      bump(m, outcome)
    },
    live(windowS = 5) {
      const elapsed = now() - startedAtMs
      const cur = Math.floor(elapsed / 1000)
      // Whole seconds only: the current, partial second would read low.
      const from = Math.max(0, cur - windowS)
      const span = Math.max(1, cur - from)
      const perS: Record<string, number> = {}
      const lat = new Map<string, Histogram>()
      for (let i = from; i < cur; i++) {
        const w = windows[i]
        if (!w) continue
        for (const [k, v] of w.counts) perS[k] = (perS[k] ?? 0) + v / span
        for (const [k, h] of w.latencies) hist(lat, k).merge(h)
      }
      let errorCount = 0
      for (const v of errors.values()) errorCount += v
      return {
        elapsedS: elapsed / 1000,
        perS,
        totals: Object.fromEntries(totals),
        errors: errorCount,
        p99: Object.fromEntries([...lat].map(([k, h]) => [k, h.percentile(99)])),
      }
    },
    report() {
      return {
        durationS: (now() - startedAtMs) / 1000,
        totals: Object.fromEntries(totals),
        errors: Object.fromEntries(errors),
        outcomes: Object.fromEntries([...outcomes].map(([k, m]) => [k, Object.fromEntries(m)])),
        latencies: Object.fromEntries([...overall].map(([k, h]) => [k, summarize(h)])),
        series: windows.map((w, t) => ({
          t,
          counts: Object.fromEntries(w.counts),
          errors: w.errors,
          latencies: Object.fromEntries(
            [...w.latencies].map(([k, h]) => {
              const s = summarize(h)
              return [k, { count: s.count, p50: s.p50, p90: s.p90, p99: s.p99, max: s.max }]
            }),
          ),
        })),
      }
    },
  }
}
