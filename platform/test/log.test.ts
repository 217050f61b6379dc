import t from 'tap'
import { onceEvery } from '../src/log.ts'

t.test('onceEvery: true at most once per period', async (t) => {
  let now = 1000
  const due = onceEvery(30_000, () => now)
  t.equal(due(), true, 'the first time')
  now += 29_999
  t.equal(due(), false, 'not again within the period')
  now += 1
  t.equal(due(), true, 'again once it has passed')
  t.equal(due(), false)
})
