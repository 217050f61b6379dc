/**
 * Statement counts and round-trip times of a process, by SQL text: load it
 * into the cloud a benchmark spawns, and it writes a table when that process
 * exits (most time first). For measuring, never for production.
 *
 *   BENCH_CLOUD_NODE_ARGS="--import ./simulators/src/bench/statement-stats.ts" \
 *   BENCH_STATEMENT_STATS=/tmp/statements.txt BENCH_OPS=500 BENCH_CONCURRENCY=1 \
 *   node --expose-gc --import tsx simulators/src/bench/cloud.bench.ts
 *
 * Columns: executions, mean ms from the query call to its answer (pool wait
 * included), the first 100 characters of the text.
 */
import { writeFileSync } from 'node:fs'
import pg from 'pg'

const out = process.env.BENCH_STATEMENT_STATS ?? '/tmp/fuelpay-statements.txt'
const stats = new Map<string, { n: number; ms: number }>()
const query = pg.Client.prototype.query as (this: pg.Client, ...args: unknown[]) => unknown

pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  const config = args[0] as string | { text?: string } | undefined
  const text = typeof config === 'string' ? config : config?.text
  const started = performance.now()
  const result = query.apply(this, args)
  if (text && result instanceof Promise) {
    const key = text.replace(/\s+/g, ' ').trim().slice(0, 100)
    result.then(
      () => {
        const s = stats.get(key) ?? { n: 0, ms: 0 }
        s.n++
        s.ms += performance.now() - started
        stats.set(key, s)
      },
      () => {},
    )
  }
  return result
} as typeof pg.Client.prototype.query

process.on('exit', () => {
  const rows = [...stats].sort((a, b) => b[1].ms - a[1].ms)
  writeFileSync(out, `${rows.map(([k, s]) => `${String(s.n).padStart(7)} ${(s.ms / s.n).toFixed(2).padStart(8)} ms  ${k}`).join('\n')}\n`)
})
