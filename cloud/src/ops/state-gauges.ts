import { sql } from 'kysely'
import type pg from 'pg'
import { Gauge } from 'prom-client'
import type { Db } from '../db/database.ts'
import type { CloudMetrics } from './metrics.ts'

/**
 * Gauges read at each scrape, for the engineer on call: money the processor
 * has not confirmed yet, and the database pool. A scrape while the database
 * is away leaves the last values (the request metrics and /readyz say why).
 *
 * - `fuelpay_sessions_unsettled{kind}`: `decided` (a capture or void decided,
 *   not yet confirmed by the processor: the sweeper retries them) and
 *   `unrecorded_hold` (failed or declined, a hold the processor may have
 *   placed not yet released).
 * - `fuelpay_sessions_unsettled_oldest_seconds`: how long the oldest decided
 *   one has waited since its last change.
 * - `fuelpay_db_pool_connections{state}`: `total`, `idle`, `waiting` (queries
 *   queued for a connection) on PostgreSQL.
 *
 * @example watchState(deps.metrics, { db, pool: handle.pool, nowMs: Date.now })
 */
interface UnsettledRow {
  decided: number
  unrecorded: number
  oldest: Date | string | null
}

export function watchState(metrics: CloudMetrics, opts: { db: Db; pool?: pg.Pool | undefined; nowMs: () => number }): void {
  // Both session gauges come from one query per scrape: the registry collects
  // them at once, so the second shares the first's query while it runs.
  let pending: Promise<UnsettledRow | undefined> | undefined
  const read = () =>
    (pending ??= sql<UnsettledRow>`
      SELECT count(*) FILTER (WHERE settle_action IS NOT NULL)::int AS decided,
        count(*) FILTER (WHERE settle_action IS NULL AND state IN ('failed', 'declined'))::int AS unrecorded,
        min(updated_at) FILTER (WHERE settle_action IS NOT NULL) AS oldest
      FROM sessions WHERE settled_at IS NULL`
      .execute(opts.db)
      .then((r) => r.rows[0], () => undefined)
      .finally(() => {
        pending = undefined
      }))
  new Gauge({
    name: 'fuelpay_sessions_unsettled',
    help: 'Unsettled sessions: decided (capture or void not yet confirmed by the processor), unrecorded_hold (failed or declined, a possible hold not yet released)',
    labelNames: ['kind'],
    registers: [metrics.registry],
    async collect() {
      const row = await read()
      if (!row) return
      this.set({ kind: 'decided' }, Number(row.decided))
      this.set({ kind: 'unrecorded_hold' }, Number(row.unrecorded))
    },
  })
  new Gauge({
    name: 'fuelpay_sessions_unsettled_oldest_seconds',
    help: 'Seconds since the oldest decided, unconfirmed settlement last changed (0 when there is none)',
    registers: [metrics.registry],
    async collect() {
      const row = await read()
      if (!row) return
      this.set(row.oldest ? Math.max(0, (opts.nowMs() - new Date(row.oldest).getTime()) / 1000) : 0)
    },
  })
  const pool = opts.pool
  if (pool) {
    new Gauge({
      name: 'fuelpay_db_pool_connections',
      help: 'PostgreSQL pool connections: total, idle, and waiting (queries queued for one)',
      labelNames: ['state'],
      registers: [metrics.registry],
      collect() {
        this.set({ state: 'total' }, pool.totalCount)
        this.set({ state: 'idle' }, pool.idleCount)
        this.set({ state: 'waiting' }, pool.waitingCount)
      },
    })
  }
}
