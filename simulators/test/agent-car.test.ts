import t from 'tap'
import { phraseFor } from '../src/agent-car.ts'

t.test("a car's language is the same in every run of a seed, whatever the run's ids", async (t) => {
  // Two runs of one seed: the same fleet, ids with different random run ids.
  const langs = (runId: string) =>
    Array.from({ length: 40 }, (_, index) => phraseFor({ index, id: `car-${runId}-${index}` } as never).lang)
  const a = langs('a1b2c3')
  t.same(langs('ffee01'), a)
  t.same(langs('000000'), a)
  t.same(new Set(a).size, 4, 'all four languages are spoken')
})
