import t from 'tap'
import { checkInvariants, type Facts } from '../src/invariants.ts'

const good = (): Facts => ({
  sales: [
    {
      sessionId: 's1',
      stationId: 'st1',
      pump: 1,
      outcome: 'completed',
      volumeMilli: 30_000,
      amountMinor: 5397,
    },
    {
      sessionId: 's2',
      stationId: 'st1',
      pump: 2,
      outcome: 'cancelled',
      volumeMilli: 0,
      amountMinor: 0,
    },
  ],
  cloudSessions: [
    {
      sessionId: 's1',
      state: 'captured',
      holdAmountMinor: 10_000,
      capturedMinor: 5397,
      captures: 1,
      volumeMilli: 30_000,
    },
    { sessionId: 's2', state: 'voided', holdAmountMinor: 10_000, capturedMinor: 0, captures: 0 },
    { sessionId: 's3', state: 'declined', holdAmountMinor: 0, capturedMinor: 0, captures: 0 },
  ],
  pumps: [
    {
      stationId: 'st1',
      pump: 1,
      totalizerStartMilli: 1000,
      totalizerEndMilli: 31_000,
      state: 'idle',
    },
    {
      stationId: 'st1',
      pump: 2,
      totalizerStartMilli: 5000,
      totalizerEndMilli: 5000,
      state: 'completed',
    },
  ],
  ledger: { balanced: true, detail: 'ok' },
  run: { started: 3, finished: 3, crashed: 0, inFlight: 0, undelivered: 0 },
})

t.test('consistent facts hold every invariant', async (t) => {
  const r = checkInvariants(good())
  t.equal(r.length, 6)
  for (const i of r) t.ok(i.ok, `${i.name}: ${i.detail}`)
})

t.test('each kind of breakage is caught', async (t) => {
  const broken: Array<[string, (f: Facts) => void, string]> = [
    [
      'captured twice',
      (f) => ((f.cloudSessions[0] as { captures: number }).captures = 2),
      'every completed sale captured exactly once',
    ],
    [
      'sale not captured',
      (f) => ((f.cloudSessions[0] as { state: string }).state = 'completed'),
      'every completed sale captured exactly once',
    ],
    [
      'captured the wrong amount',
      (f) => ((f.cloudSessions[0] as { capturedMinor: number }).capturedMinor = 5000),
      'every completed sale captured exactly once',
    ],
    [
      'captured without a sale',
      (f) =>
        f.cloudSessions.push({
          sessionId: 's9',
          state: 'captured',
          holdAmountMinor: 10,
          capturedMinor: 10,
          captures: 1,
        }),
      'every completed sale captured exactly once',
    ],
    [
      'fuel-less sale captured',
      (f) => Object.assign(f.cloudSessions[1] as object, { capturedMinor: 5, captures: 1 }),
      'every completed sale captured exactly once',
    ],
    [
      'sale unknown to the cloud',
      (f) => f.cloudSessions.splice(0, 1),
      'every completed sale captured exactly once',
    ],
    [
      'totalizer off by one',
      (f) => ((f.pumps[0] as { totalizerEndMilli: number }).totalizerEndMilli += 1),
      'sum of pump totalizer deltas = captured volume',
    ],
    [
      'captured without a sale, the capture missing from the ledger count',
      (f) =>
        f.cloudSessions.push({
          sessionId: 's9',
          state: 'captured',
          holdAmountMinor: 10,
          capturedMinor: 10,
          captures: 0,
        }),
      'every completed sale captured exactly once',
    ],
    [
      'volume sold at one pump drawn from another (the sums agree)',
      (f) => {
        ;(f.pumps[0] as { totalizerEndMilli: number }).totalizerEndMilli = 1000
        ;(f.pumps[1] as { totalizerEndMilli: number }).totalizerEndMilli = 35_000
      },
      'sum of pump totalizer deltas = captured volume',
    ],
    [
      'ledger unbalanced',
      (f) => (f.ledger = { balanced: false, detail: 'entry 7' }),
      'ledger balanced',
    ],
    [
      'pump left authorized',
      (f) => ((f.pumps[1] as { state: string }).state = 'authorized'),
      'no pump left authorized',
    ],
    [
      'session left open',
      (f) => ((f.cloudSessions[2] as { state: string }).state = 'held'),
      'every session settled',
    ],
    ['no session started', (f) => (f.run.started = 0), 'sessions ran and were all judged'],
    ['no session finished', (f) => (f.run.finished = 0), 'sessions ran and were all judged'],
    ['a session script crashed', (f) => (f.run.crashed = 1), 'sessions ran and were all judged'],
    ['the drain gave up', (f) => (f.run.inFlight = 2), 'sessions ran and were all judged'],
    ['a sale left undelivered', (f) => (f.run.undelivered = 1), 'sessions ran and were all judged'],
  ]
  for (const [what, breakIt, name] of broken) {
    const f = good()
    breakIt(f)
    const r = checkInvariants(f)
    t.notOk(r.find((i) => i.name === name)?.ok, `${what} breaks "${name}"`)
  }
})

t.test('a capture above the hold is judged against min(sale, hold)', async (t) => {
  const f = good()
  Object.assign(f.cloudSessions[0] as object, { holdAmountMinor: 5000, capturedMinor: 5000 })
  t.ok(checkInvariants(f)[0]?.ok, 'captured the hold, not the larger sale')
})
