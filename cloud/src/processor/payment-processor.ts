import { fail, type ReasonCode, type Result } from '@fuelpay/proto'

/**
 * The payment processor adapter: authorize (partial approval allowed),
 * capture and void, each carrying an idempotency key so that a retry after a
 * timeout can never hold, capture or void twice. Declines come back as
 * reason codes (INSUFFICIENT_FUNDS, CARD_EXPIRED, SUSPECTED_FRAUD,
 * ISSUER_UNAVAILABLE, DECLINED); a call that does not answer in time is
 * PROCESSOR_TIMEOUT and may be retried with the same key.
 *
 * @example
 *   const r = await processor.authorize({ cardToken, amountMinor: 5000, currency: 'EUR', idempotencyKey: 'auth:s1', allowPartial: true })
 *   if (r.ok) r.value.approvedMinor // <= 5000
 */
export interface PaymentProcessor {
  authorize(input: AuthorizeInput): Promise<Result<{ authId: string; approvedMinor: number }>>
  capture(input: CaptureInput): Promise<Result<{ capturedMinor: number }>>
  void(input: VoidInput): Promise<Result<{ voided: true }>>
}

export interface AuthorizeInput {
  cardToken: string
  amountMinor: number
  currency: string
  idempotencyKey: string
  allowPartial: boolean
}
export interface CaptureInput {
  authId: string
  /** Capturing less than the hold releases the rest (a partial capture). */
  amountMinor: number
  idempotencyKey: string
}
export interface VoidInput {
  authId: string
  idempotencyKey: string
}

export const DECLINE_CODES = [
  'INSUFFICIENT_FUNDS',
  'CARD_EXPIRED',
  'SUSPECTED_FRAUD',
  'ISSUER_UNAVAILABLE',
  'DECLINED',
] as const satisfies readonly ReasonCode[]

/** Bounds every call: no answer within `timeoutMs` is PROCESSOR_TIMEOUT (retry with the same key). */
export function withTimeout(processor: PaymentProcessor, timeoutMs: number): PaymentProcessor {
  const bound =
    <I, O>(fn: (input: I) => Promise<Result<O>>) =>
    (input: I): Promise<Result<O>> => {
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<Result<O>>((resolve) => {
        timer = setTimeout(() => resolve(fail('PROCESSOR_TIMEOUT')), timeoutMs)
      })
      const call = fn(input).catch((): Result<O> => fail('ISSUER_UNAVAILABLE', 'processor error'))
      return Promise.race([call, timeout]).finally(() => clearTimeout(timer))
    }
  return {
    authorize: bound((i) => processor.authorize(i)),
    capture: bound((i) => processor.capture(i)),
    void: bound((i) => processor.void(i)),
  }
}

/**
 * Processor answers that may go away by themselves, after which the processor
 * may or may not have done what was asked: retried, never taken as a decline.
 */
export const PROCESSOR_TRANSIENT: readonly ReasonCode[] = ['PROCESSOR_TIMEOUT', 'ISSUER_UNAVAILABLE', 'UNAVAILABLE']
