/**
 * A token bucket, as a pure function: `burst` tokens at most, refilled at
 * `ratePerS`. Each publish takes one token; an empty bucket means the client
 * is over its rate. Time comes in as an argument so tests (and the broker's
 * injected clock) decide what "now" is.
 *
 * @example
 *   let b = fullBucket({ ratePerS: 10, burst: 20 }, now)
 *   const r = takeToken(b, now, { ratePerS: 10, burst: 20 }) // { ok: true, bucket: { tokens: 19, ... } }
 */
export interface RateLimit {
  /** Sustained rate, tokens per second. */
  ratePerS: number
  /** Largest burst: the bucket's capacity. */
  burst: number
}

export interface TokenBucket {
  tokens: number
  updatedMs: number
}

export function fullBucket(limit: RateLimit, nowMs: number): TokenBucket {
  return { tokens: limit.burst, updatedMs: nowMs }
}

export function takeToken(
  bucket: TokenBucket,
  nowMs: number,
  limit: RateLimit,
): { ok: boolean; bucket: TokenBucket } {
  // A clock that steps backwards refills nothing rather than draining the bucket.
  const elapsedMs = Math.max(0, nowMs - bucket.updatedMs)
  const refilled = Math.min(limit.burst, bucket.tokens + (elapsedMs * limit.ratePerS) / 1000)
  const updatedMs = Math.max(nowMs, bucket.updatedMs)
  if (refilled < 1) return { ok: false, bucket: { tokens: refilled, updatedMs } }
  return { ok: true, bucket: { tokens: refilled - 1, updatedMs } }
}
