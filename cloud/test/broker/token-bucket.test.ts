import t from 'tap'
import { fullBucket, takeToken } from '../../src/broker/token-bucket.ts'

const limit = { ratePerS: 2, burst: 3 }

t.test('a burst, then the sustained rate', async (t) => {
  let b = fullBucket(limit, 0)
  const at = (ms: number) => {
    const r = takeToken(b, ms, limit)
    b = r.bucket
    return r.ok
  }
  t.same([at(0), at(0), at(0), at(0)], [true, true, true, false], 'the burst, then refused')
  t.equal(at(499), false, 'not yet a whole token')
  t.equal(at(500), true, 'one token after 1/rate seconds')
  t.equal(at(500), false)
  t.same(
    [at(10_000), at(10_000), at(10_000), at(10_000)],
    [true, true, true, false],
    'refill never exceeds the burst',
  )
})

t.test('a clock stepping backwards refills nothing', async (t) => {
  let b = fullBucket(limit, 10_000)
  for (let i = 0; i < 3; i++) b = takeToken(b, 10_000, limit).bucket
  const r = takeToken(b, 0, limit)
  t.equal(r.ok, false)
  t.equal(r.bucket.updatedMs, 10_000)
})
