import fc from 'fast-check'
import t from 'tap'
import { amountForVolume, checkSaleArithmetic, type Result, type SaleRecord } from '../src/index.ts'
import { sale } from './fixtures.ts'

const codeOf = (r: Result<unknown>) => (r.ok ? 'ok' : r.reason.code)
const zero: SaleRecord = {
  ...sale,
  outcome: 'cancelled',
  grade: undefined,
  unitPriceMilli: undefined,
  volumeMilli: 0,
  amountMinor: 0,
  totalizerEndMilli: sale.totalizerStartMilli,
}
delete zero.grade
delete zero.unitPriceMilli

t.test('sales that add up', async (t) => {
  t.same(checkSaleArithmetic(sale), { ok: true, value: sale }, 'completed, 40 L at 1.799 = 71.96')
  t.ok(checkSaleArithmetic(zero).ok, 'cancelled, nothing sold, no grade')
  t.ok(checkSaleArithmetic({ ...zero, outcome: 'lapsed' }).ok, 'lapsed')
  t.ok(
    checkSaleArithmetic({
      ...sale,
      volumeMilli: 0,
      amountMinor: 0,
      totalizerEndMilli: sale.totalizerStartMilli,
    }).ok,
    'nozzle lifted, nothing pumped',
  )
  t.ok(
    checkSaleArithmetic({
      ...sale,
      outcome: 'emergency-stop',
      volumeMilli: 1,
      amountMinor: 0,
      totalizerEndMilli: sale.totalizerStartMilli + 1,
    }).ok,
    '1 ml rounds to 0',
  )
  t.ok(checkSaleArithmetic({ ...sale, endedAt: sale.startedAt }).ok, 'instant sale')
})

t.test('sales that do not add up', async (t) => {
  const cases: [string, unknown, string][] = [
    ['amount one cent high', { ...sale, amountMinor: 7197 }, 'SALE_ARITHMETIC_INVALID'],
    ['amount one cent low', { ...sale, amountMinor: 7195 }, 'SALE_ARITHMETIC_INVALID'],
    [
      'amount rounded down, not half up',
      {
        ...sale,
        volumeMilli: 1,
        unitPriceMilli: 5000,
        amountMinor: 0,
        totalizerEndMilli: sale.totalizerStartMilli + 1,
      },
      'SALE_ARITHMETIC_INVALID',
    ],
    [
      'ended before it started',
      { ...sale, endedAt: sale.startedAt - 1 },
      'SALE_ARITHMETIC_INVALID',
    ],
    [
      'totalizer moved less than the volume',
      { ...sale, totalizerEndMilli: sale.totalizerEndMilli - 1 },
      'SALE_ARITHMETIC_INVALID',
    ],
    [
      'totalizer went backwards',
      { ...sale, totalizerEndMilli: sale.totalizerStartMilli - 1 },
      'SALE_ARITHMETIC_INVALID',
    ],
    ['cancelled with fuel', { ...sale, outcome: 'cancelled' }, 'SALE_ARITHMETIC_INVALID'],
    ['lapsed with fuel', { ...sale, outcome: 'lapsed' }, 'SALE_ARITHMETIC_INVALID'],
    ['fuel without a price', { ...sale, unitPriceMilli: undefined }, 'SALE_ARITHMETIC_INVALID'],
    ['fuel without a grade', { ...sale, grade: undefined }, 'SALE_ARITHMETIC_INVALID'],
    ['an amount for nothing', { ...zero, amountMinor: 1 }, 'SALE_ARITHMETIC_INVALID'],
    ['schema: negative volume', { ...sale, volumeMilli: -1 }, 'SCHEMA_INVALID'],
    ['schema: extra field', { ...sale, discount: 100 }, 'SCHEMA_INVALID'],
    ['schema: not an object', 'sale', 'SCHEMA_INVALID'],
  ]
  for (const [name, record, code] of cases) {
    const r = JSON.parse(JSON.stringify(record)) // drops the undefined fields, as the wire does
    t.equal(codeOf(checkSaleArithmetic(r)), code, name)
  }
})

t.test('property: exactly the rounding rule passes', async (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 200_000 }),
      fc.integer({ min: 1, max: 9_999 }),
      fc.integer({ min: -2, max: 2 }),
      (v, p, delta) => {
        const amount = amountForVolume(v, p, 'EUR') + delta
        if (amount < 0) return true
        const r = checkSaleArithmetic({
          ...sale,
          volumeMilli: v,
          unitPriceMilli: p,
          amountMinor: amount,
          totalizerEndMilli: sale.totalizerStartMilli + v,
        })
        return r.ok === (delta === 0)
      },
    ),
    { numRuns: 500 },
  )
  t.pass()
})
