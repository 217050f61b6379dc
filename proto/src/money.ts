import { Type } from '@sinclair/typebox'
import { fail, ok, type Result } from './reasons.ts'

/**
 * Money and volume, in integers only.
 *
 * - Amounts are integer minor units of an ISO 4217 currency (`amountMinor`).
 * - Volumes are integer milli-units of the station's volume unit: milli-litres
 *   where it sells by the litre, milli-gallons where by the gallon (`volumeMilli`).
 * - Unit prices are integer thousandths of the currency's major unit per volume
 *   unit (`unitPriceMilli`): 1.799 EUR/L is 1799.
 *
 * The one rounding rule: amount = volume x price rounded half up to the minor
 * unit. Pump and cloud both call `amountForVolume`, so they can never disagree.
 * Arithmetic runs in BigInt; results must fit in a safe integer.
 */

/** ISO 4217 minor-unit exponents of the currencies fuelpay settles in. */
export const CURRENCY_EXPONENTS = {
  EUR: 2,
  USD: 2,
  GBP: 2,
  CHF: 2,
  CAD: 2,
  AUD: 2,
  NZD: 2,
  SEK: 2,
  NOK: 2,
  DKK: 2,
  PLN: 2,
  CZK: 2,
  HUF: 2,
  RON: 2,
  BGN: 2,
  TRY: 2,
  MXN: 2,
  BRL: 2,
  ZAR: 2,
  INR: 2,
  SGD: 2,
  HKD: 2,
  CNY: 2,
  MAD: 2,
  EGP: 2,
  SAR: 2,
  AED: 2,
  QAR: 2,
  ILS: 2,
  JPY: 0,
  KRW: 0,
  ISK: 0,
  CLP: 0,
  KWD: 3,
  BHD: 3,
  OMR: 3,
  JOD: 3,
  TND: 3,
  LYD: 3,
} as const satisfies Record<string, 0 | 2 | 3>

export type Currency = keyof typeof CURRENCY_EXPONENTS
export const CURRENCIES = Object.keys(CURRENCY_EXPONENTS) as Currency[]
export const CurrencyCode = Type.Union(CURRENCIES.map((c) => Type.Literal(c)))

export type VolumeUnit = 'L' | 'gal'
export const VolumeUnitSchema = Type.Union([Type.Literal('L'), Type.Literal('gal')])

/** Upper bounds that keep every product below 2^53 and catch absurd inputs. */
export const MAX_AMOUNT_MINOR = 100_000_000 // 1,000,000.00 in a 2-decimal currency
export const MAX_VOLUME_MILLI = 10_000_000 // 10,000 L: a tanker, not a car
export const MAX_UNIT_PRICE_MILLI = 1_000_000_000 // 1,000,000.000 per unit (IRR-like prices fit)

export const AmountMinor = Type.Integer({ minimum: 0, maximum: MAX_AMOUNT_MINOR })
export const VolumeMilli = Type.Integer({ minimum: 0, maximum: MAX_VOLUME_MILLI })
export const UnitPriceMilli = Type.Integer({ minimum: 1, maximum: MAX_UNIT_PRICE_MILLI })

export function isCurrency(value: unknown): value is Currency {
  return typeof value === 'string' && Object.hasOwn(CURRENCY_EXPONENTS, value)
}

export function currencyExponent(currency: Currency): 0 | 2 | 3 {
  return CURRENCY_EXPONENTS[currency]
}

const MILLION = 1_000_000n

/** Divides non-negative BigInts rounding half up. */
function divHalfUp(n: bigint, d: bigint): bigint {
  return (n * 2n + d) / (d * 2n)
}

function assertNonNegativeInt(name: string, v: number, max: number): void {
  if (!Number.isSafeInteger(v) || v < 0 || v > max) {
    throw new RangeError(`${name} must be an integer in 0..${max}, got ${v}`)
  }
}

/**
 * The one rounding rule: what a volume costs, in minor units, rounded half up.
 *
 * @example amountForVolume(40_000, 1799, 'EUR') // 40 L at 1.799 EUR/L = 7196 (71.96 EUR)
 */
export function amountForVolume(
  volumeMilli: number,
  unitPriceMilli: number,
  currency: Currency,
): number {
  assertNonNegativeInt('volumeMilli', volumeMilli, MAX_VOLUME_MILLI)
  assertNonNegativeInt('unitPriceMilli', unitPriceMilli, MAX_UNIT_PRICE_MILLI)
  const scale = 10n ** BigInt(currencyExponent(currency))
  const amount = divHalfUp(BigInt(volumeMilli) * BigInt(unitPriceMilli) * scale, MILLION)
  return Number(amount)
}

/**
 * The largest volume whose price (by `amountForVolume`) does not exceed the
 * amount: what a pump presets so that a sale never costs more than its hold.
 *
 * @example maxVolumeForAmount(5000, 1799, 'EUR') // 27_795 ml: 50.003205 rounds to 50.00 EUR, 27_796 would cost 50.01
 */
export function maxVolumeForAmount(
  amountMinor: number,
  unitPriceMilli: number,
  currency: Currency,
): number {
  assertNonNegativeInt('amountMinor', amountMinor, MAX_AMOUNT_MINOR)
  assertNonNegativeInt('unitPriceMilli', unitPriceMilli, MAX_UNIT_PRICE_MILLI)
  if (unitPriceMilli === 0) throw new RangeError('unitPriceMilli must be positive')
  const scale = 10n ** BigInt(currencyExponent(currency))
  const price = BigInt(unitPriceMilli) * scale
  // floor((a + 0.5) * 1e6 / (p * s)) but strictly below the next rounding edge:
  // amount(v) = floor((2 v p s + 1e6) / 2e6) <= a  <=>  2 v p s + 1e6 < (2a + 2) 1e6
  const v = ((2n * BigInt(amountMinor) + 1n) * MILLION - 1n) / (2n * price)
  return Number(v > BigInt(MAX_VOLUME_MILLI) ? BigInt(MAX_VOLUME_MILLI) : v)
}

/** Checked version for untrusted inputs: a Result instead of a RangeError. */
export function checkedAmountForVolume(
  volumeMilli: number,
  unitPriceMilli: number,
  currency: string,
): Result<number> {
  if (!isCurrency(currency))
    return fail('UNKNOWN_CURRENCY', `unknown currency ${String(currency).slice(0, 8)}`)
  try {
    return ok(amountForVolume(volumeMilli, unitPriceMilli, currency))
  } catch (e) {
    return fail('AMOUNT_OUT_OF_RANGE', (e as Error).message)
  }
}

/**
 * Formats minor units for people, e.g. `formatAmount(7196, 'EUR')` -> `71.96 EUR`.
 * Integer string arithmetic only.
 */
export function formatAmount(amountMinor: number, currency: Currency): string {
  const exp = currencyExponent(currency)
  const sign = amountMinor < 0 ? '-' : ''
  const digits = String(Math.abs(amountMinor)).padStart(exp + 1, '0')
  const major = exp === 0 ? digits : `${digits.slice(0, -exp)}.${digits.slice(-exp)}`
  return `${sign}${major} ${currency}`
}

/** Formats a volume, e.g. `formatVolume(27795, 'L')` -> `27.795 L`. */
export function formatVolume(volumeMilli: number, unit: VolumeUnit): string {
  const digits = String(volumeMilli).padStart(4, '0')
  return `${digits.slice(0, -3)}.${digits.slice(-3)} ${unit}`
}

/** Formats a unit price, e.g. `formatUnitPrice(1799, 'EUR', 'L')` -> `1.799 EUR/L`. */
export function formatUnitPrice(
  unitPriceMilli: number,
  currency: Currency,
  unit: VolumeUnit,
): string {
  const digits = String(unitPriceMilli).padStart(4, '0')
  return `${digits.slice(0, -3)}.${digits.slice(-3)} ${currency}/${unit}`
}

/**
 * Parses a decimal major-unit string ("50", "50.5", "50.50") to minor units,
 * refusing more decimals than the currency has. No floats on the way.
 */
export function parseAmount(text: string, currency: Currency): Result<number> {
  const exp = currencyExponent(currency)
  const m = /^(\d{1,9})(?:[.,](\d{1,3}))?$/.exec(text.trim())
  if (!m) return fail('AMOUNT_OUT_OF_RANGE', 'not a decimal amount')
  const frac = m[2] ?? ''
  if (frac.length > exp) return fail('AMOUNT_OUT_OF_RANGE', `${currency} has ${exp} decimals`)
  const minor = Number(m[1]) * 10 ** exp + Number(frac.padEnd(exp, '0') || '0')
  if (!Number.isSafeInteger(minor) || minor > MAX_AMOUNT_MINOR) return fail('AMOUNT_OUT_OF_RANGE')
  return ok(minor)
}
