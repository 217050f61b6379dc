/**
 * A log-bucketed latency histogram (about 1% relative precision from 1 µs to
 * 10 min) kept sparse, so one per second of a run costs only the buckets it
 * touched. Percentiles are read from bucket upper edges: never optimistic.
 *
 * @example const h = createHistogram(); h.record(3.2); h.percentile(99) // ~3.2 (ms)
 */
export interface Histogram {
  record(valueMs: number): void
  /** Adds another histogram's counts into this one. */
  merge(other: Histogram): void
  percentile(p: number): number
  readonly count: number
  readonly maxMs: number
  readonly minMs: number
  readonly meanMs: number
  /** Bucket index -> count, for merging and serialising. */
  readonly buckets: ReadonlyMap<number, number>
}

const MIN_MS = 0.001
const GROWTH = 1.01
const LOG_GROWTH = Math.log(GROWTH)
const MAX_INDEX = Math.ceil(Math.log(600_000 / MIN_MS) / LOG_GROWTH)

function indexOf(valueMs: number): number {
  if (!(valueMs > MIN_MS)) return 0
  return Math.min(MAX_INDEX, Math.ceil(Math.log(valueMs / MIN_MS) / LOG_GROWTH))
}

function upperEdge(index: number): number {
  return MIN_MS * GROWTH ** index
}

export function createHistogram(): Histogram {
  const buckets = new Map<number, number>()
  let count = 0
  let sum = 0
  let max = 0
  let min = Number.POSITIVE_INFINITY
  const h: Histogram = {
    record(valueMs) {
      if (!Number.isFinite(valueMs) || valueMs < 0) return
      const i = indexOf(valueMs)
      buckets.set(i, (buckets.get(i) ?? 0) + 1)
      count++
      sum += valueMs
      if (valueMs > max) max = valueMs
      if (valueMs < min) min = valueMs
    },
    merge(other) {
      for (const [i, c] of other.buckets) buckets.set(i, (buckets.get(i) ?? 0) + c)
      count += other.count
      sum += other.meanMs * other.count
      if (other.count > 0) {
        max = Math.max(max, other.maxMs)
        min = Math.min(min, other.minMs)
      }
    },
    percentile(p) {
      if (count === 0) return Number.NaN
      const rank = Math.max(1, Math.ceil((p / 100) * count))
      const keys = [...buckets.keys()].sort((a, b) => a - b)
      let seen = 0
      for (const k of keys) {
        seen += buckets.get(k) ?? 0
        // The bucket edge can overshoot the largest value seen; the max is exact.
        if (seen >= rank) return Math.min(upperEdge(k), max)
      }
      return max
    },
    get count() {
      return count
    },
    get maxMs() {
      return count ? max : Number.NaN
    },
    get minMs() {
      return count ? min : Number.NaN
    },
    get meanMs() {
      return count ? sum / count : Number.NaN
    },
    buckets,
  }
  return h
}

/** The usual summary of a histogram, in ms, rounded for reading. */
export function summarize(h: Histogram): {
  count: number
  p50: number
  p90: number
  p99: number
  p999: number
  max: number
  mean: number
} {
  const r = (x: number) => (Number.isFinite(x) ? Math.round(x * 1000) / 1000 : Number.NaN)
  return {
    count: h.count,
    p50: r(h.percentile(50)),
    p90: r(h.percentile(90)),
    p99: r(h.percentile(99)),
    p999: r(h.percentile(99.9)),
    max: r(h.maxMs),
    mean: r(h.meanMs),
  }
}
