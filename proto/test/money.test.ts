import fc from 'fast-check'
import t from 'tap'
import {
  amountForVolume,
  CURRENCIES,
  CURRENCY_EXPONENTS,
  type Currency,
  checkedAmountForVolume,
  currencyExponent,
  formatAmount,
  formatUnitPrice,
  formatVolume,
  isCurrency,
  MAX_AMOUNT_MINOR,
  MAX_UNIT_PRICE_MILLI,
  MAX_VOLUME_MILLI,
  maxVolumeForAmount,
  parseAmount,
  type Result,
} from '../src/index.ts'

const codeOf = (r: Result<unknown>) => (r.ok ? 'ok' : r.reason.code)
const currency = fc.constantFrom(...CURRENCIES)
const volume = fc.integer({ min: 0, max: MAX_VOLUME_MILLI })
const price = fc.integer({ min: 1, max: MAX_UNIT_PRICE_MILLI })
/** Realistic pump prices: 0.001 to 9999.999 per unit. */
const pumpPrice = fc.integer({ min: 1, max: 9_999_999 })
const amount = fc.integer({ min: 0, max: MAX_AMOUNT_MINOR })
const RUNS = { numRuns: 500 }

t.test('half-up rounding, worked examples', async (t) => {
  const cases: [number, number, Currency, number, string][] = [
    [40_000, 1799, 'EUR', 7196, '40 L at 1.799 = 71.96 exactly'],
    [27_795, 1799, 'EUR', 5000, '27.795 L at 1.799 = 50.003205 -> 50.00'],
    [27_796, 1799, 'EUR', 5001, '27.796 L at 1.799 = 50.005004 -> 50.01'],
    [1, 5000, 'EUR', 1, '1 ml at 5.000 = 0.005 -> 0.01 (the tie goes up)'],
    [1, 4999, 'EUR', 0, '1 ml at 4.999 = 0.004999 -> 0.00'],
    [3, 1500, 'EUR', 0, '3 ml at 1.500 = 0.0045 -> 0.00'],
    [10_000, 1859, 'EUR', 1859, '10 L at 1.859 = 18.59'],
    [1000, 170_500, 'JPY', 171, '1 L at 170.500 JPY = 170.5 -> 171'],
    [1000, 170_499, 'JPY', 170, '1 L at 170.499 JPY -> 170'],
    [500, 1, 'KWD', 1, '0.5 L at 0.001 KWD = 0.0005 -> 0.001'],
    [499, 1, 'KWD', 0, '0.499 L at 0.001 KWD -> 0.000'],
    [30_000, 85, 'KWD', 2550, '30 L at 0.085 KWD = 2.550'],
    [10_000, 3599, 'USD', 3599, '10 gal at 3.599 USD/gal = 35.99'],
    [0, 1799, 'EUR', 0, 'nothing costs nothing'],
  ]
  for (const [v, p, c, expected, name] of cases) t.equal(amountForVolume(v, p, c), expected, name)
})

t.test('the rounding rule, as a property: nearest minor unit, ties up', async (t) => {
  fc.assert(
    fc.property(volume, price, currency, (v, p, c) => {
      const a = BigInt(amountForVolume(v, p, c))
      // exact amount in millionths of a minor unit
      const exact = BigInt(v) * BigInt(p) * 10n ** BigInt(currencyExponent(c))
      const diff2 = 2n * exact - 2n * a * 1_000_000n // twice the rounding error, in millionths
      return diff2 >= -1_000_000n && diff2 < 1_000_000n
    }),
    RUNS,
  )
  t.pass()
})

t.test('amountForVolume is monotonic in volume and in price', async (t) => {
  fc.assert(
    fc.property(volume, volume, price, currency, (v1, v2, p, c) => {
      const [lo, hi] = v1 <= v2 ? [v1, v2] : [v2, v1]
      return amountForVolume(lo, p, c) <= amountForVolume(hi, p, c)
    }),
    RUNS,
  )
  fc.assert(
    fc.property(volume, price, price, currency, (v, p1, p2, c) => {
      const [lo, hi] = p1 <= p2 ? [p1, p2] : [p2, p1]
      return amountForVolume(v, lo, c) <= amountForVolume(v, hi, c)
    }),
    RUNS,
  )
  t.pass()
})

t.test('maxVolumeForAmount: the largest volume that costs at most the amount', async (t) => {
  fc.assert(
    fc.property(amount, pumpPrice, currency, (a, p, c) => {
      const v = maxVolumeForAmount(a, p, c)
      if (!Number.isSafeInteger(v) || v < 0 || v > MAX_VOLUME_MILLI) return false
      if (amountForVolume(v, p, c) > a) return false
      return v === MAX_VOLUME_MILLI || amountForVolume(v + 1, p, c) > a
    }),
    { numRuns: 1000 },
  )
  fc.assert(
    fc.property(amount, price, currency, (a, p, c) => {
      const v = maxVolumeForAmount(a, p, c)
      return (
        amountForVolume(v, p, c) <= a &&
        (v === MAX_VOLUME_MILLI || amountForVolume(v + 1, p, c) > a)
      )
    }),
    RUNS,
  )
  t.equal(maxVolumeForAmount(5000, 1799, 'EUR'), 27_795, '50.00 EUR at 1.799/L')
  t.equal(
    maxVolumeForAmount(10_000, 1799, 'EUR'),
    55_589,
    '100.00 EUR at 1.799/L: 10000.46 -> 10000',
  )
  t.equal(maxVolumeForAmount(0, 1799, 'EUR'), 2, 'two ml still round to zero cents')
  t.equal(
    maxVolumeForAmount(1000, 170_500, 'JPY'),
    5_868,
    '1000 JPY at 170.500/L: 1000.494 -> 1000',
  )
  t.equal(
    maxVolumeForAmount(MAX_AMOUNT_MINOR, 1, 'JPY'),
    MAX_VOLUME_MILLI,
    'capped at the maximum volume',
  )
  t.throws(() => maxVolumeForAmount(100, 0, 'EUR'), RangeError, 'a zero price')
})

t.test('exponents 0, 2 and 3 scale the same volume and price', async (t) => {
  t.equal(amountForVolume(10_000, 1234, 'JPY'), 12, '12.34 -> 12 yen')
  t.equal(amountForVolume(10_000, 1234, 'EUR'), 1234, '12.34 EUR')
  t.equal(amountForVolume(10_000, 1234, 'KWD'), 12_340, '12.340 KWD')
  for (const c of CURRENCIES) t.ok([0, 2, 3].includes(currencyExponent(c)), c)
  t.equal(CURRENCY_EXPONENTS.JPY, 0)
  t.equal(CURRENCY_EXPONENTS.BHD, 3)
  t.ok(isCurrency('EUR'))
  for (const bad of ['eur', 'XXX', '', 'toString', '__proto__', 42, null])
    t.notOk(isCurrency(bad), String(bad))
})

t.test('no Number overflow at the maxima', async (t) => {
  for (const c of ['JPY', 'EUR', 'KWD'] as const) {
    const a = amountForVolume(MAX_VOLUME_MILLI, MAX_UNIT_PRICE_MILLI, c)
    const exact =
      (BigInt(MAX_VOLUME_MILLI) *
        BigInt(MAX_UNIT_PRICE_MILLI) *
        10n ** BigInt(currencyExponent(c)) *
        2n +
        1_000_000n) /
      2_000_000n
    t.ok(Number.isSafeInteger(a), `${c}: ${a} is a safe integer`)
    t.equal(BigInt(a), exact, `${c}: exact`)
    const v = maxVolumeForAmount(MAX_AMOUNT_MINOR, MAX_UNIT_PRICE_MILLI, c)
    t.ok(
      Number.isSafeInteger(v) && amountForVolume(v, MAX_UNIT_PRICE_MILLI, c) <= MAX_AMOUNT_MINOR,
      `${c}: preset at the maxima`,
    )
  }
})

t.test('refuses floats, negatives, NaN, unsafe and out-of-range inputs', async (t) => {
  const bad = [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, Number.MAX_SAFE_INTEGER]
  for (const b of bad) {
    t.throws(() => amountForVolume(b, 1799, 'EUR'), RangeError, `volume ${b}`)
    t.throws(() => amountForVolume(1000, b, 'EUR'), RangeError, `price ${b}`)
    t.throws(() => maxVolumeForAmount(b, 1799, 'EUR'), RangeError, `amount ${b}`)
    t.throws(() => maxVolumeForAmount(1000, b, 'EUR'), RangeError, `price ${b}`)
    t.equal(
      codeOf(checkedAmountForVolume(b, 1799, 'EUR')),
      'AMOUNT_OUT_OF_RANGE',
      `checked volume ${b}`,
    )
  }
  t.throws(() => amountForVolume(MAX_VOLUME_MILLI + 1, 1, 'EUR'), RangeError)
  t.throws(() => amountForVolume(1, MAX_UNIT_PRICE_MILLI + 1, 'EUR'), RangeError)
  t.throws(() => maxVolumeForAmount(MAX_AMOUNT_MINOR + 1, 1, 'EUR'), RangeError)
  t.throws(() => amountForVolume('1000' as unknown as number, 1799, 'EUR'), RangeError, 'a string')
  t.equal(codeOf(checkedAmountForVolume(1000, 1799, 'XXX')), 'UNKNOWN_CURRENCY')
  t.equal(codeOf(checkedAmountForVolume(1000, 1799, '__proto__')), 'UNKNOWN_CURRENCY')
  const ok = checkedAmountForVolume(40_000, 1799, 'EUR')
  t.same(ok, { ok: true, value: 7196 })
})

t.test('formatting', async (t) => {
  t.equal(formatAmount(7196, 'EUR'), '71.96 EUR')
  t.equal(formatAmount(5, 'EUR'), '0.05 EUR')
  t.equal(formatAmount(0, 'EUR'), '0.00 EUR')
  t.equal(formatAmount(-5, 'EUR'), '-0.05 EUR')
  t.equal(formatAmount(171, 'JPY'), '171 JPY')
  t.equal(formatAmount(2550, 'KWD'), '2.550 KWD')
  t.equal(formatAmount(7, 'KWD'), '0.007 KWD')
  t.equal(formatVolume(27_795, 'L'), '27.795 L')
  t.equal(formatVolume(5, 'gal'), '0.005 gal')
  t.equal(formatVolume(0, 'L'), '0.000 L')
  t.equal(formatUnitPrice(1799, 'EUR', 'L'), '1.799 EUR/L')
  t.equal(formatUnitPrice(3599, 'USD', 'gal'), '3.599 USD/gal')
  t.equal(formatUnitPrice(1, 'KWD', 'L'), '0.001 KWD/L')
})

t.test('parseAmount', async (t) => {
  const good: [string, Currency, number][] = [
    ['50', 'EUR', 5000],
    ['50.5', 'EUR', 5050],
    ['50.50', 'EUR', 5050],
    ['50,50', 'EUR', 5050],
    [' 0.01 ', 'EUR', 1],
    ['0', 'EUR', 0],
    ['007', 'EUR', 700],
    ['1000', 'JPY', 1000],
    ['2.5', 'KWD', 2500],
    ['2.555', 'KWD', 2555],
    ['1000000', 'EUR', MAX_AMOUNT_MINOR],
  ]
  for (const [text, c, minor] of good)
    t.same(parseAmount(text, c), { ok: true, value: minor }, `${text} ${c}`)
  const bad: [string, Currency][] = [
    ['-1', 'EUR'],
    ['1.234', 'EUR'],
    ['1.5', 'JPY'],
    ['1.2345', 'KWD'],
    ['1e3', 'EUR'],
    ['0x10', 'EUR'],
    ['Infinity', 'EUR'],
    ['NaN', 'EUR'],
    ['', 'EUR'],
    [' ', 'EUR'],
    ['1.', 'EUR'],
    ['.5', 'EUR'],
    ['1,000.00', 'EUR'],
    ['1 000', 'EUR'],
    ['+5', 'EUR'],
    ['1000000.01', 'EUR'],
    ['1234567890', 'JPY'],
    ['٥٠', 'EUR'],
  ]
  for (const [text, c] of bad)
    t.equal(codeOf(parseAmount(text, c)), 'AMOUNT_OUT_OF_RANGE', `${JSON.stringify(text)} ${c}`)
})

t.test('parseAmount and formatAmount round trip', async (t) => {
  fc.assert(
    fc.property(amount, currency, (a, c) => {
      const text = formatAmount(a, c)
      const [number, code] = text.split(' ')
      const back = parseAmount(number as string, c)
      return code === c && back.ok && back.value === a
    }),
    RUNS,
  )
  t.pass()
})
