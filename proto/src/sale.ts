import { validate } from './codec.ts'
import { SaleRecord } from './messages.ts'
import { amountForVolume } from './money.ts'
import { fail, ok, type Result } from './reasons.ts'

/**
 * Checks that a sale record adds up, as the cloud does before it captures
 * (design: Settle, "verifies the station's signature and arithmetic"):
 *
 * - it matches the SaleRecord schema (else SCHEMA_INVALID);
 * - `endedAt >= startedAt` and the totalizer moved by exactly `volumeMilli`;
 * - a cancelled or lapsed session sold nothing (volume 0, amount 0);
 * - fuel sold names its grade and unit price;
 * - `amountMinor === amountForVolume(volumeMilli, unitPriceMilli, currency)`,
 *   the one rounding rule, so pump and cloud cannot disagree by a cent.
 *
 * Every arithmetic failure is SALE_ARITHMETIC_INVALID with the rule broken.
 *
 * @example checkSaleArithmetic({ ...sale, volumeMilli: 40_000, unitPriceMilli: 1799, amountMinor: 7196 }) // ok
 */
export function checkSaleArithmetic(record: unknown): Result<SaleRecord> {
  const v = validate(SaleRecord, record)
  if (!v.ok) return v
  const s = v.value
  if (s.endedAt < s.startedAt) return fail('SALE_ARITHMETIC_INVALID', 'endedAt before startedAt')
  if (s.totalizerEndMilli - s.totalizerStartMilli !== s.volumeMilli)
    return fail('SALE_ARITHMETIC_INVALID', 'totalizer delta differs from volume')
  if ((s.outcome === 'cancelled' || s.outcome === 'lapsed') && s.volumeMilli !== 0)
    return fail('SALE_ARITHMETIC_INVALID', `${s.outcome} sale with volume`)
  if (s.unitPriceMilli === undefined || s.grade === undefined) {
    if (s.volumeMilli !== 0 || s.amountMinor !== 0)
      return fail('SALE_ARITHMETIC_INVALID', 'fuel sold without grade and unit price')
    return ok(s)
  }
  const expected = amountForVolume(s.volumeMilli, s.unitPriceMilli, s.currency)
  if (s.amountMinor !== expected)
    return fail('SALE_ARITHMETIC_INVALID', `amount ${s.amountMinor}, expected ${expected}`)
  return ok(s)
}
