import type { DatabaseHandle, Logger } from '@fuelpay/platform'
import type { ConsoleAlert, ConsoleServerMessage, ConsoleStation, PumpStateMessage, Reason, VolumeUnit } from '@fuelpay/proto'
import type { Tables } from '../db/database.ts'
import { createOutboxReader, type OutboxReader } from '../outbox/outbox-reader.ts'
import { latestOutboxId, type OutboxEvent } from '../outbox/outbox.repository.ts'
import { type AlertThresholds, computeAlerts, DEFAULT_ALERT_THRESHOLDS, diffAlerts } from './console.alerts.ts'
import {
  alertSessions,
  alertStatuses,
  consoleSessions,
  operatorSession,
  operatorStations,
  pumpStatuses,
  settlementFailures,
  stationPumps,
} from './console.repository.ts'
import type { ConsoleDb } from './console.schema.ts'
import { type PumpMeta, toConsolePump, toConsoleSession } from './console.view.ts'

/**
 * The console's fan-out, one per cloud process. Every replica follows the
 * outbox (LISTEN/NOTIFY wake, polling catch-up: outbox-reader.ts), so an
 * event written through any replica reaches every replica's consoles; it is
 * routed by the event's operator id, so a console only ever receives its own
 * operator's events. Pump ticks arrive the same way: the cloud writes each
 * pump-state message (throttled by the controller to one per
 * progressIntervalMs per pump) to the outbox, and each console coalesces
 * them per pump.
 *
 * The hub also keeps each attached operator's alerts (derived, see
 * console.alerts.ts) and the answers of station commands (outbox
 * `station.command-result`), which may arrive at any replica.
 *
 * @example
 *   const hub = createConsoleHub({ handle, log })
 *   const detach = await hub.attach({ operatorId, send: (frame, key) => out.push(frame, key) })
 */
export interface ConsoleClient {
  operatorId: string
  send(frame: string, key?: string): void
  /** The hub cannot read the database: what the client was sent is no longer kept current. */
  lost?(why: string): void
}

export interface CommandOutcome {
  ok: boolean
  reason?: Reason
}

export interface ConsoleHub {
  attach(client: ConsoleClient): Promise<() => void>
  snapshot(operatorId: string): Promise<Extract<ConsoleServerMessage, { type: 'snapshot' }>>
  /** Resolves with the station's answer to a command, or undefined after `timeoutMs`. */
  commandResult(commandId: string, timeoutMs: number): Promise<CommandOutcome | undefined>
  /** Reads the outbox now (after a write of our own, say). */
  wake(): Promise<void>
  /** `wake`: how new events reach this hub: LISTEN/NOTIFY (with polling as catch-up) or polling alone. */
  stats(): { clients: number; operators: number; readerCursor: number; wake: 'listen' | 'poll' }
  close(): Promise<void>
}

export interface ConsoleHubOptions {
  handle: Pick<DatabaseHandle<Tables>, 'db' | 'kind' | 'pglite' | 'url'>
  log: Logger
  nowMs?: () => number
  pollMs?: number
  alertSweepMs?: number
  thresholds?: AlertThresholds
}

const RESULT_CACHE_MAX = 1000
const ALERT_DEBOUNCE_MS = 150
const META_TTL_MS = 30_000

export function createConsoleHub(opts: ConsoleHubOptions): ConsoleHub {
  const { log } = opts
  const db = opts.handle.db
  const now = opts.nowMs ?? Date.now
  const thresholds = opts.thresholds ?? DEFAULT_ALERT_THRESHOLDS
  const clients = new Map<string, Set<ConsoleClient>>()
  const alerts = new Map<string, Map<string, ConsoleAlert>>()
  const metaCache = new Map<string, { at: number; pumps: Promise<Map<number, PumpMeta>> }>()
  const lastPumpState = new Map<string, string>()
  const results = new Map<string, CommandOutcome>()
  const waiters = new Map<string, Set<(r: CommandOutcome) => void>>()
  const alertTimers = new Map<string, NodeJS.Timeout>()
  let reader: OutboxReader | undefined
  let starting: Promise<void> | undefined
  let sweepTimer: NodeJS.Timeout | undefined
  let closed = false
  // PGlite notifies only through its own instance; PostgreSQL through a connection of the reader's own.
  const canListen = opts.handle.kind === 'pglite' ? Boolean(opts.handle.pglite) : Boolean(opts.handle.url)

  function broadcast(operatorId: string, frame: ConsoleServerMessage, key?: string) {
    const set = clients.get(operatorId)
    if (!set || set.size === 0) return
    const text = JSON.stringify(frame)
    for (const c of set) c.send(text, key)
  }

  /**
   * A station's pumps, grades and prices, for its pump frames. Cached, but not
   * for long: an admin can change a price or take a pump out of service
   * without any console event, and every pump frame carries both.
   */
  function stationMeta(stationId: string): Promise<Map<number, PumpMeta>> {
    const cached = metaCache.get(stationId)
    if (cached && now() - cached.at < META_TTL_MS) return cached.pumps
    const p = (async () => {
      const station = await db.selectFrom('stations').select(['id', 'currency', 'volume_unit']).where('id', '=', stationId).executeTakeFirst()
      const out = new Map<number, PumpMeta>()
      if (!station) return out
      const pumps = (await stationPumps(db, [stationId])).get(stationId) ?? []
      for (const p of pumps) {
        out.set(p.pump, { stationId, pump: p.pump, inService: p.inService, currency: station.currency, volumeUnit: station.volume_unit as VolumeUnit, grades: p.grades })
      }
      return out
    })()
    const entry = { at: now(), pumps: p }
    p.catch(() => {
      if (metaCache.get(stationId) === entry) metaCache.delete(stationId)
    })
    metaCache.set(stationId, entry)
    return p
  }

  // Alerts ------------------------------------------------------------------

  async function refreshAlerts(operatorIds: string[]): Promise<void> {
    if (operatorIds.length === 0) return
    const nowMs = now()
    const { stations, pumps } = await alertStatuses(db, operatorIds)
    const sessions = await alertSessions(db, operatorIds, new Date(nowMs - thresholds.stuckAuthorizationMs), new Date(nowMs - thresholds.settlementStuckMs))
    const failures = await settlementFailures(db as unknown as ConsoleDb, operatorIds)
    for (const op of operatorIds) {
      const next = computeAlerts(
        {
          stations: stations.filter((s) => s.operator_id === op).map((s) => ({ ...s, backlog: Number(s.backlog) })),
          pumps: pumps.filter((p) => p.operator_id === op),
          sessions: sessions.filter((s) => s.operator_id === op),
          settlementFailures: failures.filter((f) => f.operatorId === op),
        },
        nowMs,
        thresholds,
      )
      const prev = alerts.get(op) ?? new Map()
      alerts.set(op, next)
      for (const a of diffAlerts(prev, next)) broadcast(op, { type: 'alert', alert: a }, `alert:${a.id}`)
    }
  }

  function scheduleAlerts(operatorId: string) {
    if (closed || alertTimers.has(operatorId) || !clients.has(operatorId)) return
    const t = setTimeout(() => {
      alertTimers.delete(operatorId)
      refreshAlerts([operatorId]).catch((err) => log.warn({ err }, 'console alert refresh failed'))
    }, ALERT_DEBOUNCE_MS)
    t.unref()
    alertTimers.set(operatorId, t)
  }

  // Outbox events -------------------------------------------------------------

  function commandAnswered(commandId: string, outcome: CommandOutcome) {
    results.set(commandId, outcome)
    if (results.size > RESULT_CACHE_MAX) {
      const oldest = results.keys().next().value
      if (oldest !== undefined) results.delete(oldest)
    }
    const ws = waiters.get(commandId)
    if (ws) {
      waiters.delete(commandId)
      for (const w of ws) w(outcome)
    }
  }

  async function onEvent(e: OutboxEvent): Promise<void> {
    if (e.kind === 'station.command-result') {
      const p = e.payload as { ok?: unknown; reason?: Reason }
      commandAnswered(e.aggregateId, { ok: p.ok === true, ...(p.reason ? { reason: p.reason } : {}) })
      return
    }
    const op = e.operatorId
    if (!op || !clients.has(op)) return
    if (e.kind === 'pump.state') {
      const msg = e.payload as unknown as PumpStateMessage
      const k = `${msg.stationId}/${msg.pump}`
      const phase = `${msg.state}/${msg.sessionId ?? ''}`
      const changed = lastPumpState.get(k) !== phase
      // A new session or state is when a changed price or service flag matters: read them afresh.
      if (changed) metaCache.delete(msg.stationId)
      const meta = (await stationMeta(msg.stationId)).get(msg.pump)
      if (!meta) return
      broadcast(op, { type: 'pump', pump: toConsolePump(meta, msg, e.createdAt) }, `pump:${msg.stationId}/${msg.pump}`)
      if (changed) {
        lastPumpState.set(k, phase)
        scheduleAlerts(op)
        // The cloud moves a session along on pump telemetry (held -> pump_authorized -> fueling)
        // without a session event of its own: show the session's new state with the pump's.
        if (msg.sessionId) await broadcastSession(op, msg.sessionId, 'pump.state')
      }
      return
    }
    if (e.kind === 'station.status') {
      const p = e.payload as { stationId: string; online: boolean; backlog: number }
      broadcast(op, { type: 'station', stationId: p.stationId, online: p.online, backlog: p.backlog, statusAt: e.createdAt }, `station:${p.stationId}`)
      scheduleAlerts(op)
      return
    }
    if (e.kind === 'console.prices' && e.stationId) {
      metaCache.delete(e.stationId)
      const meta = await stationMeta(e.stationId)
      const pumps = [...meta.values()].map((m) => ({ pump: m.pump, grades: toConsolePump(m, undefined).grades }))
      broadcast(op, { type: 'prices', stationId: e.stationId, pumps }, `prices:${e.stationId}`)
      return
    }
    if (e.kind === 'console.alert-acknowledged') {
      scheduleAlerts(op)
      return
    }
    if (e.kind.startsWith('session.')) {
      await broadcastSession(op, e.aggregateId, e.kind)
      scheduleAlerts(op)
    }
  }

  async function broadcastSession(op: string, sessionId: string, event: string) {
    const row = await operatorSession(db, op, sessionId)
    if (!row) return
    broadcast(op, { type: 'session', event: event.slice(0, 64), session: toConsoleSession(row) }, `session:${row.id}`)
  }

  async function ensureStarted(): Promise<void> {
    if (reader) return
    starting ??= (async () => {
      const afterId = await latestOutboxId(db)
      const r = createOutboxReader({
        handle: opts.handle,
        log: log.child({ component: 'console-hub' }),
        afterId,
        pollMs: opts.pollMs ?? (canListen ? 1000 : 250),
        onEvent,
        nowMs: now,
      })
      await r.start()
      reader = r
      sweepTimer = setInterval(() => {
        refreshAlerts([...clients.keys()]).catch((err) => {
          // The outbox reader reads the same database: a console left open now would show
          // its last numbers as live. Closed, it shows itself stale and reconnects for a fresh snapshot.
          log.warn({ err }, 'console alert sweep failed; disconnecting consoles')
          for (const set of clients.values()) for (const c of [...set]) c.lost?.('live updates interrupted: the database is unavailable')
        })
      }, opts.alertSweepMs ?? 5000)
      sweepTimer.unref()
    })()
    try {
      await starting
    } finally {
      starting = undefined
    }
  }

  return {
    async attach(client) {
      if (closed) throw new Error('console hub is closed')
      await ensureStarted()
      let set = clients.get(client.operatorId)
      if (!set) {
        set = new Set()
        clients.set(client.operatorId, set)
      }
      set.add(client)
      return () => {
        const s = clients.get(client.operatorId)
        if (!s) return
        s.delete(client)
        if (s.size === 0) {
          clients.delete(client.operatorId)
          alerts.delete(client.operatorId)
        }
      }
    },

    async snapshot(operatorId) {
      const rows = await operatorStations(db, operatorId)
      const ids = rows.map((r) => r.id)
      const pumpsBy = await stationPumps(db, ids)
      const statuses = await pumpStatuses(db, ids)
      const statusBy = new Map(statuses.map((s) => [`${s.station_id}/${s.pump}`, s]))
      const stations: ConsoleStation[] = rows.map((r) => ({
        id: r.id,
        name: r.name.slice(0, 128),
        currency: r.currency as ConsoleStation['currency'],
        volumeUnit: r.volume_unit,
        online: r.online,
        backlog: Number(r.backlog ?? 0),
        ...(r.status_at ? { statusAt: new Date(r.status_at).toISOString() } : {}),
        pumps: (pumpsBy.get(r.id) ?? []).map((p) => {
          const st = statusBy.get(`${r.id}/${p.pump}`)
          const meta: PumpMeta = { stationId: r.id, pump: p.pump, inService: p.inService, currency: r.currency, volumeUnit: r.volume_unit, grades: p.grades }
          return toConsolePump(meta, st?.payload as unknown as PumpStateMessage | undefined, st?.updated_at)
        }),
      }))
      const sessions = (await consoleSessions(db, operatorId)).map(toConsoleSession)
      await refreshAlerts([operatorId])
      return {
        type: 'snapshot',
        stations,
        sessions,
        alerts: [...(alerts.get(operatorId)?.values() ?? [])],
        serverTime: new Date(now()).toISOString(),
      }
    },

    commandResult(commandId, timeoutMs) {
      const known = results.get(commandId)
      if (known) return Promise.resolve(known)
      return new Promise((resolve) => {
        let set = waiters.get(commandId)
        if (!set) {
          set = new Set()
          waiters.set(commandId, set)
        }
        const done = (r: CommandOutcome | undefined) => {
          clearTimeout(timer)
          waiters.get(commandId)?.delete(done)
          if (waiters.get(commandId)?.size === 0) waiters.delete(commandId)
          resolve(r)
        }
        const timer = setTimeout(() => done(undefined), timeoutMs)
        timer.unref()
        set.add(done)
      })
    },

    async wake() {
      await reader?.poll()
    },

    stats() {
      let n = 0
      for (const s of clients.values()) n += s.size
      return { clients: n, operators: clients.size, readerCursor: reader?.cursor() ?? 0, wake: canListen ? 'listen' : 'poll' }
    },

    async close() {
      closed = true
      if (sweepTimer) clearInterval(sweepTimer)
      for (const t of alertTimers.values()) clearTimeout(t)
      alertTimers.clear()
      await starting?.catch(() => {})
      await reader?.stop()
      reader = undefined
      for (const ws of waiters.values()) for (const w of ws) w({ ok: false, reason: { code: 'UNAVAILABLE', number: 902, message: 'console shutting down' } })
      waiters.clear()
      clients.clear()
    },
  }
}
