import t from 'tap'
import { createRng } from '../src/prng.ts'
import { arrivals, DEFAULT_MIX, parseMix } from '../src/scenario.ts'

t.test('the same seed gives the same stream; another seed another', async (t) => {
  const a = createRng(42)
  const b = createRng(42)
  const c = createRng(43)
  const xa = Array.from({ length: 20 }, () => a.next())
  t.same(
    Array.from({ length: 20 }, () => b.next()),
    xa,
  )
  t.notSame(
    Array.from({ length: 20 }, () => c.next()),
    xa,
  )
  t.ok(xa.every((x) => x >= 0 && x < 1))
})

t.test('forks are independent of draws on the parent', async (t) => {
  const a = createRng(5)
  const b = createRng(5)
  b.next()
  b.next()
  t.same(
    Array.from({ length: 5 }, () => a.fork('x').next()),
    Array.from({ length: 5 }, () => b.fork('x').next()),
  )
  t.not(a.fork('x').next(), a.fork('y').next())
})

t.test('int, weighted and exponential stay in range and roughly in proportion', async (t) => {
  const r = createRng(1)
  const counts = { a: 0, b: 0, c: 0 }
  let sum = 0
  let outOfRange = 0
  for (let i = 0; i < 20_000; i++) {
    const n = r.int(3, 5)
    if (n < 3 || n > 5 || !Number.isInteger(n)) outOfRange++
    counts[r.weighted({ a: 1, b: 3, c: 0 })]++
    sum += r.exponential(4)
  }
  t.equal(outOfRange, 0, 'int stays in [min, max]')
  t.equal(counts.c, 0, 'zero weight never drawn')
  t.ok(
    counts.b / counts.a > 2.6 && counts.b / counts.a < 3.4,
    `b:a about 3 (${counts.b}:${counts.a})`,
  )
  t.ok(Math.abs(sum / 20_000 - 0.25) < 0.02, 'exponential mean about 1/rate')
  t.throws(() => r.int(5, 3))
  t.throws(() => r.exponential(0))
  t.throws(() => r.weighted({ a: 0 }))
  t.throws(() => createRng(1.5))
})

t.test('arrivals: Poisson at the rate, within the duration, repeatable', async (t) => {
  const list = [...arrivals(createRng(9), { ratePerS: 50, durationS: 20, mix: { ...DEFAULT_MIX } })]
  t.ok(list.length > 900 && list.length < 1100, `about 1000 arrivals (${list.length})`)
  t.ok(
    list.every(
      (x, i) => x.atMs < 20_000 && (i === 0 || x.atMs >= (list[i - 1] as { atMs: number }).atMs),
    ),
  )
  t.same(
    [...arrivals(createRng(9), { ratePerS: 50, durationS: 20, mix: { ...DEFAULT_MIX } })],
    list,
  )
  const happy = list.filter((x) => x.scenario === 'happy').length / list.length
  t.ok(happy > 0.6 && happy < 0.8, 'the mix is followed')
})

t.test('scenario mix parsing refuses nonsense', async (t) => {
  t.same(parseMix('happy=1,cancel=2').cancel, 2)
  t.equal(parseMix('happy=1').declined, 0)
  t.throws(() => parseMix('happy=-1'))
  t.throws(() => parseMix('teleport=3'))
  t.throws(() => parseMix('happy=0'))
  t.throws(() => parseMix(''))
})
