import t from 'tap'
import { saleSummary } from '../../src/console/console.view.ts'
import type { SessionRow } from '../../src/sessions/session.repository.ts'

const row = (sale: Record<string, unknown> | null, prices: Record<string, number> = { diesel: 1799 }) =>
  ({ sale, prices, currency: 'EUR', volume_unit: 'L' }) as unknown as SessionRow

t.test("the console's sale line: what was sold, at which price, and the hold's price when it differed", async (t) => {
  const sold = { outcome: 'completed', grade: 'diesel', volumeMilli: 20_000, amountMinor: 3598, unitPriceMilli: 1799 }
  t.same(saleSummary(row(sold)), {
    outcome: 'completed',
    grade: 'diesel',
    volumeMilli: 20_000,
    volumeText: '20.000 L',
    amountMinor: 3598,
    amountText: '35.98 EUR',
    priceText: '1.799 EUR/L',
  })
  const changed = saleSummary(row({ ...sold, unitPriceMilli: 1849, amountMinor: 3698 }))
  t.equal(changed?.priceText, '1.849 EUR/L')
  t.equal(changed?.authorizedPriceText, '1.799 EUR/L', 'the operator sees the price changed between hold and sale')
  const zero = saleSummary(row({ outcome: 'lapsed', volumeMilli: 0, amountMinor: 0 }))
  t.equal(zero?.priceText, undefined, 'a sale without fuel has no price')
  t.equal(zero?.authorizedPriceText, undefined)
  t.equal(saleSummary(row(null)), undefined)
})
