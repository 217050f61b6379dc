import type { ReasonCode } from '@fuelpay/proto'
import type { Logger } from 'pino'
import type { CloudClient } from '../cloud/cloud-client.ts'
import type { Journal, StoredSale } from '../journal/journal.repository.ts'

/**
 * Store-and-forward of signed sales: one at a time, in `seq` order, each
 * retried with exponential backoff and full jitter (bounded) until the cloud
 * acknowledges it. The Idempotency-Key is the session id, so a retry after a
 * lost answer cannot settle a session twice.
 *
 * A sale the cloud refuses for good (4xx other than auth, rate limit, or
 * "in progress") is marked rejected, kept in the journal for the operator,
 * and the queue moves on: one bad record must not block a station's day.
 *
 * @example
 *   const fwd = createSaleForwarder({ journal, cloud, log })
 *   fwd.start(); fwd.wake() // after a sale is journaled
 */
export interface SaleForwarder {
  start(): void
  /** A new sale was journaled, or the network is back: try now. */
  wake(): void
  stop(): Promise<void>
  /** Resolves when nothing is pending (or after timeoutMs, with false). */
  drained(timeoutMs: number): Promise<boolean>
  readonly backlog: number
}

export interface SaleForwarderOptions {
  journal: Journal
  cloud: Pick<CloudClient, 'postSale'>
  log: Logger
  clock?: { now(): number }
  baseDelayMs?: number
  maxDelayMs?: number
  random?: () => number
  onDelivered?: (sale: StoredSale, response: unknown) => void
  onRejected?: (sale: StoredSale, error: string) => void
  onBacklog?: (backlog: number) => void
  onAttemptFailed?: (sale: StoredSale, error: string) => void
}

/**
 * Whether a refusal may go away by itself. A 409 is retried only while the
 * cloud is still working on the same key (a session-state conflict never
 * heals); a 401 only when the assertion itself was refused (clock skew, key
 * not yet registered), not when the sale's signature is bad.
 */
export function isRetryable(status: number, body: unknown): boolean {
  if (status >= 500 || status === 408 || status === 425 || status === 429) return true
  const code = (body as { error?: { code?: unknown } } | undefined)?.error?.code
  // Typed as proto's reason codes, so a renamed code fails the typecheck here.
  if (status === 409) return code === ('IDEMPOTENCY_IN_PROGRESS' satisfies ReasonCode)
  if (status === 401) return code === undefined || code === ('UNAUTHENTICATED' satisfies ReasonCode)
  return status < 400
}

/** Full-jitter exponential backoff: uniform in [base, min(max, base * 2^attempt)]. */
export function backoffDelayMs(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number,
): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30))
  return Math.round(baseMs + random() * Math.max(0, ceiling - baseMs))
}

export function createSaleForwarder(opts: SaleForwarderOptions): SaleForwarder {
  const base = opts.baseDelayMs ?? 500
  const max = opts.maxDelayMs ?? 60_000
  const random = opts.random ?? Math.random
  const now = () => opts.clock?.now() ?? Date.now()
  let running = false
  let loop: Promise<void> | undefined
  let wakeUp: (() => void) | undefined
  let timer: NodeJS.Timeout | undefined
  let backlog = 0
  let attempt = 0
  let woken = false

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      if (woken) {
        woken = false
        resolve()
        return
      }
      wakeUp = () => {
        if (timer) clearTimeout(timer)
        wakeUp = undefined
        resolve()
      }
      timer = setTimeout(() => wakeUp?.(), ms)
    })

  async function refreshBacklog() {
    backlog = await opts.journal.backlog()
    opts.onBacklog?.(backlog)
  }

  async function deliverOne(sale: StoredSale): Promise<'acked' | 'rejected' | 'retry'> {
    let status: number
    let body: unknown
    try {
      ;({ status, body } = await opts.cloud.postSale(sale.saleJws, sale.sessionId))
    } catch (err) {
      const msg = `network: ${(err as Error).message}`
      await opts.journal.noteSaleAttempt(sale.seq, msg)
      opts.onAttemptFailed?.(sale, msg)
      return 'retry'
    }
    if (status >= 200 && status < 300) {
      await opts.journal.markSaleAcked(sale.seq, body, now())
      opts.onDelivered?.(sale, body)
      return 'acked'
    }
    const msg = `${status} ${JSON.stringify(body).slice(0, 300)}`
    if (!isRetryable(status, body)) {
      await opts.journal.markSaleRejected(sale.seq, msg)
      opts.log.error(
        { seq: sale.seq, sessionId: sale.sessionId, status, body },
        'cloud refused sale for good',
      )
      opts.onRejected?.(sale, msg)
      return 'rejected'
    }
    await opts.journal.noteSaleAttempt(sale.seq, msg)
    opts.onAttemptFailed?.(sale, msg)
    return 'retry'
  }

  async function run() {
    while (running) {
      let sale: StoredSale | undefined
      try {
        await refreshBacklog()
        sale = await opts.journal.nextPendingSale()
      } catch (err) {
        opts.log.error({ err }, 'journal read failed')
        await sleep(backoffDelayMs(attempt++, base, max, random))
        continue
      }
      if (!running) break
      if (!sale) {
        attempt = 0
        await sleep(60_000)
        continue
      }
      const r = await deliverOne(sale).catch((err: unknown) => {
        opts.log.error({ err }, 'sale delivery failed')
        return 'retry' as const
      })
      if (r === 'retry') {
        const delay = backoffDelayMs(attempt++, base, max, random)
        opts.log.warn(
          { seq: sale.seq, sessionId: sale.sessionId, attempt, delayMs: delay },
          'sale not delivered yet; will retry',
        )
        await sleep(delay)
      } else {
        attempt = 0
        if (r === 'acked')
          opts.log.info({ seq: sale.seq, sessionId: sale.sessionId }, 'sale delivered')
      }
    }
  }

  return {
    start() {
      if (running) return
      running = true
      loop = run()
    },
    wake() {
      attempt = 0
      if (wakeUp) wakeUp()
      else woken = true
    },
    async stop() {
      running = false
      wakeUp?.()
      await loop
    },
    async drained(timeoutMs) {
      const until = Date.now() + timeoutMs
      while (Date.now() < until) {
        if ((await opts.journal.backlog()) === 0) return true
        await new Promise((r) => setTimeout(r, 50))
      }
      return false
    },
    get backlog() {
      return backlog
    },
  }
}
