import type { DatabaseHandle, Logger } from '@fuelpay/platform'
import type { Db, Tables } from '../db/database.ts'
import { OUTBOX_CHANNEL, type OutboxEvent, readOutbox } from './outbox.repository.ts'

/**
 * Follows the outbox: LISTEN/NOTIFY wakes the reader, a poll every
 * `pollMs` catches whatever a dropped listener missed. Each event is handed
 * to `onEvent` once, in id order as far as commits allow.
 *
 * Ids are assigned before commit, so id 7 can become visible after id 8. The
 * reader therefore keeps a cursor below the lowest id it has not seen, and
 * treats a gap as permanent (a rolled-back transaction) after `gapTimeoutMs`.
 *
 * @example
 *   const reader = createOutboxReader({ handle, log, onEvent: (e) => console.log(e.kind) })
 *   await reader.start(); ...; await reader.stop()
 */
export interface OutboxReader {
  start(): Promise<void>
  stop(): Promise<void>
  /** Reads now (what a notification does); resolves when delivered. */
  poll(): Promise<void>
  /** Everything at or below this id has been delivered or given up as a gap. */
  cursor(): number
}

export interface OutboxReaderOptions {
  handle: Pick<DatabaseHandle<Tables>, 'db' | 'kind' | 'pglite' | 'url'>
  log: Logger
  onEvent: (event: OutboxEvent) => void | Promise<void>
  /** Start after this id (0 replays everything; use latestOutboxId for "from now"). */
  afterId?: number
  operatorId?: string
  pollMs?: number
  /** First wait before listening again after the LISTEN connection is lost (doubles to 30 s). */
  relistenMs?: number
  gapTimeoutMs?: number
  batch?: number
  nowMs?: () => number
}

export function createOutboxReader(opts: OutboxReaderOptions): OutboxReader {
  const db: Db = opts.handle.db
  const now = opts.nowMs ?? Date.now
  const pollMs = opts.pollMs ?? 1000
  const relistenMs = opts.relistenMs ?? 1000
  let relistenTimer: NodeJS.Timeout | undefined
  let relistenAttempt = 0
  let relistening: Promise<void> | undefined
  const gapTimeoutMs = opts.gapTimeoutMs ?? 10_000
  const batch = opts.batch ?? 200
  let cursor = opts.afterId ?? 0
  const seen = new Set<number>()
  const gapSince = new Map<number, number>()
  let timer: NodeJS.Timeout | undefined
  let unlisten: (() => Promise<void>) | undefined
  let running = false
  let inFlight: Promise<void> | undefined
  let again = false

  async function readOnce(): Promise<void> {
    for (let round = 0; round < 50; round++) {
      const events = await readOutbox(db, { afterId: cursor, limit: batch, operatorId: opts.operatorId })
      for (const e of events) {
        if (seen.has(e.id)) continue
        seen.add(e.id)
        try {
          await opts.onEvent(e)
        } catch (err) {
          opts.log.error({ err, id: e.id }, 'outbox event handler failed')
        }
      }
      advance(events)
      if (events.length < batch) return
    }
  }

  function advance(events: OutboxEvent[]): void {
    const max = events.reduce((m, e) => Math.max(m, e.id), cursor)
    // Filtered readers (one operator) see gaps that are other operators' rows: they are not gaps.
    if (opts.operatorId) {
      cursor = max
      seen.clear()
      return
    }
    while (cursor < max) {
      const next = cursor + 1
      if (seen.has(next)) {
        seen.delete(next)
        gapSince.delete(next)
        cursor = next
        continue
      }
      const since = gapSince.get(next)
      if (since === undefined) {
        gapSince.set(next, now())
        break
      }
      if (now() - since < gapTimeoutMs) break
      gapSince.delete(next)
      // The whole run of missing ids below the next seen one is given up at
      // once: each was taken before that seen id was, so each has been
      // missing at least as long as `next`. One wait per id would leave a
      // reader behind a purged stretch (purgeOutbox) stuck for days.
      let run = max
      for (const id of seen) if (id > next && id < run) run = id
      cursor = run - 1
    }
  }

  function poll(): Promise<void> {
    if (inFlight) {
      again = true
      return inFlight
    }
    inFlight = (async () => {
      try {
        do {
          again = false
          await readOnce()
        } while (again && running)
      } catch (err) {
        opts.log.warn({ err }, 'outbox read failed; will retry on the next poll')
      } finally {
        inFlight = undefined
      }
    })()
    return inFlight
  }

  async function listen(): Promise<void> {
    const wake = () => void poll()
    if (opts.handle.kind === 'pglite' && opts.handle.pglite) {
      unlisten = await opts.handle.pglite.listen(OUTBOX_CHANNEL, wake)
      return
    }
    if (opts.handle.url) {
      const pg = (await import('pg')).default
      const client = new pg.Client({ connectionString: opts.handle.url, connectionTimeoutMillis: 5000 })
      let lost = false
      const onLost = (err?: Error) => {
        if (lost) return
        lost = true
        if (!running) return
        opts.log.warn({ err }, 'outbox listener connection lost; polling until it is back')
        relisten()
      }
      client.on('error', onLost)
      client.on('end', () => onLost())
      client.on('notification', wake)
      try {
        await client.connect()
        await client.query(`LISTEN ${OUTBOX_CHANNEL}`)
      } catch (err) {
        lost = true
        await client.end().catch(() => {})
        throw err
      }
      unlisten = async () => {
        lost = true
        await client.end().catch(() => {})
      }
    }
  }

  /** Listens again after a lost connection, backing off to 30 s; reads what came meanwhile. */
  function relisten(): void {
    const delay = Math.min(30_000, relistenMs * 2 ** Math.min(relistenAttempt++, 15))
    relistenTimer = setTimeout(() => {
      relistenTimer = undefined
      relistening = listenAgain().finally(() => {
        relistening = undefined
      })
    }, delay)
    relistenTimer.unref?.()
  }

  async function listenAgain(): Promise<void> {
    if (!running) return
    try {
      await listen()
      if (!running) {
        await unlisten?.().catch(() => {})
        return
      }
      relistenAttempt = 0
      opts.log.info('outbox listener back')
      void poll()
    } catch (err) {
      if (!running) return
      opts.log.warn({ err }, 'outbox LISTEN failed; will try again')
      relisten()
    }
  }

  return {
    async start() {
      if (running) return
      running = true
      try {
        await listen()
      } catch (err) {
        opts.log.warn({ err }, 'outbox LISTEN failed; polling until it works')
        relisten()
      }
      const tick = () => {
        timer = setTimeout(async () => {
          await poll()
          if (running) tick()
        }, pollMs)
        timer.unref?.()
      }
      tick()
      await poll()
    },
    async stop() {
      running = false
      if (timer) clearTimeout(timer)
      if (relistenTimer) clearTimeout(relistenTimer)
      // A listener being made again when stop came: closed before stop returns.
      await relistening
      await inFlight
      await unlisten?.().catch(() => {})
      unlisten = undefined
    },
    poll,
    cursor: () => cursor,
  }
}
