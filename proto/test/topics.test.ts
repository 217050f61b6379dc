import fc from 'fast-check'
import t from 'tap'
import {
  formatTopic,
  ID_RE,
  MAX_TOPIC_LENGTH,
  parseTopic,
  ROOT,
  TOPIC_RULES,
  type Topic,
  topics,
} from '../src/index.ts'

const id = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/)
const pump = fc.integer({ min: 1, max: 99 })
const topic: fc.Arbitrary<Topic> = fc.oneof(
  fc.record({ kind: fc.constant('pump-request' as const), stationId: id, pump, vehicleId: id }),
  fc.record({ kind: fc.constant('pump-reply' as const), stationId: id, pump, vehicleId: id }),
  fc.record({ kind: fc.constant('pump-state' as const), stationId: id, pump }),
  fc.record({ kind: fc.constant('station-status' as const), stationId: id }),
  fc.record({ kind: fc.constant('station-command' as const), stationId: id }),
  fc.record({ kind: fc.constant('station-command-result' as const), stationId: id }),
)

t.test('the builders make the documented strings', async (t) => {
  t.equal(ROOT, 'fuelpay/v1')
  t.equal(topics.pumpRequest('s1', 2, 'car7'), 'fuelpay/v1/st/s1/pump/2/req/car7')
  t.equal(topics.pumpReply('s1', 2, 'car7'), 'fuelpay/v1/st/s1/pump/2/res/car7')
  t.equal(topics.pumpState('s1', 12), 'fuelpay/v1/st/s1/pump/12/state')
  t.equal(topics.stationStatus('s1'), 'fuelpay/v1/st/s1/status')
  t.equal(topics.stationCommand('s1'), 'fuelpay/v1/st/s1/cmd')
  t.equal(topics.stationCommandResult('s1'), 'fuelpay/v1/st/s1/cmd-res')
  t.same(topics.stationSubscriptions('s1'), [
    'fuelpay/v1/st/s1/pump/+/req/+',
    'fuelpay/v1/st/s1/cmd',
  ])
  t.equal(topics.vehicleInbox('car7'), 'fuelpay/v1/st/+/pump/+/res/car7')
  t.same(topics.cloudSubscriptions(), [
    'fuelpay/v1/st/+/pump/+/state',
    'fuelpay/v1/st/+/status',
    'fuelpay/v1/st/+/cmd-res',
  ])
})

t.test('build and parse round trip', async (t) => {
  fc.assert(
    fc.property(topic, (tp) => {
      const s = formatTopic(tp)
      const back = parseTopic(s)
      return (
        s.length <= MAX_TOPIC_LENGTH &&
        back !== undefined &&
        JSON.stringify(back) === JSON.stringify(tp)
      )
    }),
    { numRuns: 500 },
  )
  t.pass()
})

t.test('builders refuse ids and pumps that are not topic-safe', async (t) => {
  for (const bad of [
    '',
    'a/b',
    '+',
    '#',
    'a+',
    'a#b',
    '$SYS',
    '-lead',
    '_lead',
    'a'.repeat(65),
    'a b',
    'a\u0000',
    'é',
    'a\n',
  ]) {
    t.throws(() => topics.pumpRequest(bad, 1, 'car7'), TypeError, `station ${JSON.stringify(bad)}`)
    t.throws(() => topics.pumpRequest('s1', 1, bad), TypeError, `vehicle ${JSON.stringify(bad)}`)
    t.throws(() => topics.stationStatus(bad), TypeError)
    t.throws(() => topics.vehicleInbox(bad), TypeError)
    t.throws(() => topics.stationSubscriptions(bad), TypeError)
  }
  for (const bad of [0, 100, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    t.throws(() => topics.pumpState('s1', bad), TypeError, `pump ${bad}`)
    t.throws(() => topics.pumpReply('s1', bad, 'car7'), TypeError)
  }
  t.ok(ID_RE.test('a'.repeat(64)), '64 characters are fine')
})

t.test('parseTopic refuses what is not a concrete fuelpay topic', async (t) => {
  const bad = [
    'fuelpay/v1/st/+/status',
    'fuelpay/v1/st/s1/pump/+/state',
    'fuelpay/v1/st/s1/pump/2/req/+',
    'fuelpay/v1/st/s1/pump/2/res/#',
    'fuelpay/v1/#',
    '#',
    '+/#',
    'fuelpay/v1/st/s1/pump/04/state',
    'fuelpay/v1/st/s1/pump/4.0/state',
    'fuelpay/v1/st/s1/pump/0/state',
    'fuelpay/v1/st/s1/pump/100/state',
    'fuelpay/v1/st/s1/pump/-1/state',
    'fuelpay/v1/st/s1/pump/ 4/state',
    'fuelpay/v1/st//status',
    'fuelpay//v1/st/s1/status',
    'fuelpay/v1/st/s1/pump//state',
    'fuelpay/v1/st/s1/pump/2/req/',
    'fuelpay/v1/st/s1/status/',
    '/fuelpay/v1/st/s1/status',
    'fuelpay/v1/st/s1',
    'fuelpay/v1/st/s1/pump/2',
    'fuelpay/v1/st/s1/pump/2/req',
    'fuelpay/v1/st/s1/pump/2/state/x',
    'fuelpay/v1/st/s1/pump/2/req/car7/x',
    'fuelpay/v1/st/s1/pump/2/xyz/car7',
    'fuelpay/v1/st/s1/other',
    `fuelpay/v1/st/${'a'.repeat(65)}/status`,
    `fuelpay/v1/st/s1/pump/2/req/${'a'.repeat(300)}`,
    '$SYS/broker/clients',
    '$SYS/fuelpay/v1/st/s1/status',
    'fuelpay/v2/st/s1/status',
    'FUELPAY/v1/st/s1/status',
    'fuelpay/V1/st/s1/status',
    'other/v1/st/s1/status',
    '',
    '/',
  ]
  for (const s of bad) t.equal(parseTopic(s), undefined, JSON.stringify(s).slice(0, 60))
  for (const s of [undefined, null, 42, {}] as unknown as string[])
    t.equal(parseTopic(s), undefined)
  t.ok(
    parseTopic(`fuelpay/v1/st/${'a'.repeat(64)}/pump/99/req/${'b'.repeat(64)}`),
    'the longest real topic parses',
  )
})

t.test('random strings never throw and only parse to canonical topics', async (t) => {
  fc.assert(
    fc.property(fc.string({ maxLength: 300, unit: 'binary' }), (s) => {
      const p = parseTopic(s)
      return p === undefined || formatTopic(p) === s
    }),
    { numRuns: 500 },
  )
  t.pass()
})

t.test('TOPIC_RULES: QoS 1 everywhere, retained only for state and status', async (t) => {
  for (const [kind, rule] of Object.entries(TOPIC_RULES)) {
    t.equal(rule.qos, 1, `${kind} QoS 1`)
    t.equal(rule.retain, kind === 'pump-state' || kind === 'station-status', `${kind} retain`)
  }
  t.equal(TOPIC_RULES['pump-request'].publisher, 'vehicle')
  t.equal(TOPIC_RULES['station-command'].publisher, 'cloud')
  for (const k of ['pump-reply', 'pump-state', 'station-status', 'station-command-result'] as const)
    t.equal(TOPIC_RULES[k].publisher, 'station', k)
})
