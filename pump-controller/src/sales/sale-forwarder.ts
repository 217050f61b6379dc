import { ErrorBody, REASONS, type ReasonCode, validate } from '@fuelpay/proto'
import type { Logger } from 'pino'
import type { CloudClient } from '../cloud/cloud-client.ts'
import type { Journal, StoredSale } from '../journal/journal.repository.ts'

/**
 * Store-and-forward of signed sales: one at a time, in `seq` order, each
 * retried with exponential backoff and full jitter (bounded) until the cloud
 * acknowledges it. The Idempotency-Key is the session id, so a retry after a
 * lost answer cannot settle a session twice.
 *
 * A sale the cloud refuses for good (FINAL_SALE_REFUSALS: the cloud read it
 * and says the sale itself is bad) is marked rejected, kept in the journal
 * for the operator, and the queue moves on: one bad record must not block a
 * station's day. Any other answer (a proxy's 403 or 404, a misconfigured URL,
 * the cloud's own auth or version trouble) is retried: it says nothing about
 * the sale and would refuse every sale alike. `failing` says the queue is
 * stuck, for health and metrics.
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
  /** The head of the queue while its delivery keeps failing (undefined when it goes through). */
  readonly failing: DeliveryFailure | undefined
}

export interface DeliveryFailure {
  seq: number
  sessionId: string
  /** Failed attempts in a row for this sale. */
  attempts: number
  /** When the first of them failed, epoch ms. */
  sinceMs: number
  lastError: string
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
 * The cloud's answers to POST /v1/sales that say this sale is bad and will be
 * refused alike however often it is sent (cloud settlement.service reportSale).
 * Request-level refusals are not here: SCHEMA_INVALID, BAD_JSON and
 * PAYLOAD_TOO_LARGE come from a proxy or a station and cloud of different
 * versions as well, and would refuse every sale alike; so do UNAUTHENTICATED,
 * FORBIDDEN, NOT_FOUND and UNKNOWN_STATION (provisioning, URLs).
 */
export const FINAL_SALE_REFUSALS = [
  // The JWS does not verify with the station's key, or is not a JWS at all.
  'SALE_SIGNATURE_INVALID',
  'TOKEN_MALFORMED',
  // Its numbers, or its session, do not add up.
  'SALE_ARITHMETIC_INVALID',
  'SALE_MISMATCH',
  'WRONG_STATION',
  'SESSION_NOT_FOUND',
  // The session is settled otherwise, or this key already carried another sale.
  'SESSION_STATE_CONFLICT',
  'IDEMPOTENCY_KEY_REUSED',
] as const satisfies readonly ReasonCode[]

const FINAL = new Set<ReasonCode>(FINAL_SALE_REFUSALS)

/**
 * Whether an answer is the cloud's definitive refusal of the sale: a
 * well-formed fuelpay error body (proto ErrorBody) whose code is one of
 * FINAL_SALE_REFUSALS, with that code's own number and HTTP status. A
 * proxy's page, an empty 403 or a body that merely looks right is not.
 */
export function isFinalRefusal(status: number, body: unknown): boolean {
  const b = validate(ErrorBody, body)
  if (!b.ok) return false
  const { code, number } = b.value.error
  return FINAL.has(code) && REASONS[code].number === number && REASONS[code].httpStatus === status
}

/** Whether a failed delivery is tried again: anything but a final refusal. */
export function isRetryable(status: number, body: unknown): boolean {
  return !isFinalRefusal(status, body)
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
  let failing: DeliveryFailure | undefined

  function noteFailure(sale: StoredSale, error: string) {
    failing =
      failing?.seq === sale.seq
        ? { ...failing, attempts: failing.attempts + 1, lastError: error }
        : {
            seq: sale.seq,
            sessionId: sale.sessionId,
            attempts: 1,
            sinceMs: now(),
            lastError: error,
          }
  }

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
      noteFailure(sale, msg)
      await opts.journal.noteSaleAttempt(sale.seq, msg)
      opts.onAttemptFailed?.(sale, msg)
      return 'retry'
    }
    if (status >= 200 && status < 300) {
      failing = undefined
      await opts.journal.markSaleAcked(sale.seq, body, now())
      opts.onDelivered?.(sale, body)
      return 'acked'
    }
    const msg = `${status} ${JSON.stringify(body ?? null).slice(0, 300)}`
    if (isFinalRefusal(status, body)) {
      failing = undefined
      await opts.journal.markSaleRejected(sale.seq, msg)
      opts.log.error(
        { seq: sale.seq, sessionId: sale.sessionId, status, body },
        'cloud refused sale for good',
      )
      opts.onRejected?.(sale, msg)
      return 'rejected'
    }
    noteFailure(sale, msg)
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
    get failing() {
      return failing
    },
  }
}
