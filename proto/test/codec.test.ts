import fc from 'fast-check'
import t from 'tap'
import {
  decode,
  encode,
  formatTopic,
  MESSAGE_SCHEMAS,
  type MessageType,
  newMsgId,
  REASONS,
  type Result,
  SaleRecord,
  TOPIC_MESSAGES,
  validate,
} from '../src/index.ts'
import { copy, GOOD, sale } from './fixtures.ts'

/**
 * The codec's promise, checked on random input: `decode` returns either a
 * message that matches its schema and belongs on its topic, or a reason
 * from the table; it never throws and never reports INTERNAL.
 */
const TYPES = Object.keys(MESSAGE_SCHEMAS) as MessageType[]
const RUNS = { numRuns: 300 }

function wellFormed(r: Result<unknown>): boolean {
  return r.ok ? true : Object.hasOwn(REASONS, r.reason.code)
}
function lawful(topic: string, payload: Uint8Array | string): boolean {
  const r = decode(topic, payload)
  if (!r.ok) {
    return (
      Object.hasOwn(REASONS, r.reason.code) &&
      r.reason.number === REASONS[r.reason.code].number &&
      r.reason.code !== 'INTERNAL'
    )
  }
  const { message, topic: parsed } = r.value
  return (
    validate(MESSAGE_SCHEMAS[message.type], message).ok &&
    TOPIC_MESSAGES[parsed.kind].includes(message.type) &&
    formatTopic(parsed) === topic
  )
}

const goodTopics = fc.constantFrom(...TYPES.map((type) => GOOD[type].topic))
const level = fc.oneof(
  fc.constantFrom('fuelpay', 'v1', 'st', 'pump', 'req', 'res', 'state', 'status', 'cmd', 'cmd-res'),
  fc.constantFrom('+', '#', '', '$SYS', '04', '0', '100', '1', '99', 'st-berlin-1', 'car7'),
  fc.string({ maxLength: 8 }),
)
const randomTopic = fc.oneof(
  fc.string({ maxLength: 300, unit: 'binary' }),
  fc.array(level, { minLength: 1, maxLength: 10 }).map((l) => l.join('/')),
  goodTopics,
)

t.test('random bytes on good and random topics', async (t) => {
  fc.assert(
    fc.property(randomTopic, fc.uint8Array({ maxLength: 512 }), (topic, payload) =>
      lawful(topic, payload),
    ),
    RUNS,
  )
  t.pass('never threw, always lawful')
})

t.test('random strings and JSON values', async (t) => {
  fc.assert(fc.property(goodTopics, fc.string({ maxLength: 512, unit: 'binary' }), lawful), RUNS)
  fc.assert(
    fc.property(goodTopics, fc.jsonValue({ maxDepth: 4 }), (topic, value) =>
      lawful(topic, JSON.stringify(value) ?? 'null'),
    ),
    RUNS,
  )
  t.pass('never threw, always lawful')
})

t.test('random objects with a valid envelope', async (t) => {
  const envelope = fc.record({
    v: fc.constant(1),
    type: fc.constantFrom(...TYPES),
    msgId: fc.constant('msg_00000001'),
    ts: fc.nat(),
  })
  fc.assert(
    fc.property(
      goodTopics,
      envelope,
      fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 10 }),
      (topic, env, rest) => lawful(topic, JSON.stringify({ ...rest, ...env })),
    ),
    RUNS,
  )
  t.pass('never threw, always lawful')
})

type Path = (string | number)[]
function paths(value: unknown, path: Path = []): Path[] {
  if (Array.isArray(value)) return [path, ...value.flatMap((v, i) => paths(v, [...path, i]))]
  if (typeof value === 'object' && value !== null)
    return [path, ...Object.entries(value).flatMap(([k, v]) => paths(v, [...path, k]))]
  return [path]
}

t.test('mutated valid messages', async (t) => {
  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('set' as const), value: fc.jsonValue({ maxDepth: 2 }) }),
    fc.record({ kind: fc.constant('delete' as const) }),
    fc.record({
      kind: fc.constant('add' as const),
      key: fc.string({ maxLength: 10 }),
      value: fc.jsonValue({ maxDepth: 1 }),
    }),
  )
  fc.assert(
    fc.property(fc.constantFrom(...TYPES), fc.nat(), mutation, (type, pick, m) => {
      const sample = GOOD[type]
      const all = paths(sample.message)
      const path = all[pick % all.length] as Path
      const root = { doc: copy(sample.message) } as Record<string | number, unknown>
      let parent: Record<string | number, unknown> = root
      let last: string | number = 'doc'
      for (const p of path) {
        parent = parent[last] as Record<string | number, unknown>
        last = p
      }
      if (m.kind === 'set') parent[last] = m.value
      else if (m.kind === 'delete') delete parent[last]
      else {
        const target = parent[last]
        if (typeof target === 'object' && target !== null && !Array.isArray(target))
          (target as Record<string, unknown>)[m.key] = m.value
      }
      return lawful(sample.topic, JSON.stringify(root.doc ?? null))
    }),
    { numRuns: 500 },
  )
  t.pass('never threw, always lawful')
})

t.test('flipped and truncated bytes of valid messages', async (t) => {
  fc.assert(
    fc.property(
      fc.constantFrom(...TYPES),
      fc.nat(),
      fc.integer({ min: 0, max: 255 }),
      (type, at, byte) => {
        const b = Buffer.from(JSON.stringify(GOOD[type].message))
        const flipped = Buffer.from(b)
        flipped[at % b.length] = byte
        return (
          lawful(GOOD[type].topic, flipped) &&
          lawful(GOOD[type].topic, b.subarray(0, at % b.length))
        )
      },
    ),
    { numRuns: 500 },
  )
  t.pass('never threw, always lawful')
})

t.test('validate never throws on anything', async (t) => {
  fc.assert(
    fc.property(fc.anything(), (value) => wellFormed(validate(SaleRecord, value))),
    RUNS,
  )
  t.ok(validate(SaleRecord, sale).ok, 'the good sale validates')
  const bad = validate(SaleRecord, { ...sale, pump: 0 })
  t.notOk(bad.ok)
  if (!bad.ok) {
    t.equal(bad.reason.code, 'SCHEMA_INVALID')
    t.match(bad.reason.message, /\/pump/, 'the reason names the field')
  }
})

t.test('encode then decode is the identity on random valid progress messages', async (t) => {
  const progress = fc.record({
    volumeMilli: fc.integer({ min: 0, max: 10_000_000 }),
    amountMinor: fc.integer({ min: 0, max: 100_000_000 }),
    unitPriceMilli: fc.integer({ min: 1, max: 1_000_000_000 }),
    state: fc.constantFrom('authorized', 'fueling', 'suspended', 'completed'),
    ts: fc.integer({ min: 0, max: 8_640_000_000_000_000 }),
  })
  const topic = GOOD.progress.topic
  fc.assert(
    fc.property(progress, (p) => {
      const draft = {
        type: 'progress' as const,
        sessionId: 'sess_1',
        currency: 'EUR' as const,
        ...p,
      }
      const r = decode(topic, encode(topic, draft))
      return (
        r.ok && r.value.message.type === 'progress' && r.value.message.volumeMilli === p.volumeMilli
      )
    }),
    RUNS,
  )
  t.pass()
})

t.test('newMsgId makes distinct, valid ids', async (t) => {
  const ids = new Set(Array.from({ length: 1000 }, newMsgId))
  t.equal(ids.size, 1000)
  for (const id of ids) if (!/^[A-Za-z0-9_-]{22}$/.test(id)) t.fail(id)
})

t.test('decode refuses non-string topics and non-byte payloads without throwing', async (t) => {
  const r1 = decode(42 as unknown as string, '{}')
  t.equal(r1.ok ? 'ok' : r1.reason.code, 'UNKNOWN_TOPIC')
  const r2 = decode(GOOD.cancel.topic, undefined as unknown as string)
  t.equal(r2.ok ? 'ok' : r2.reason.code, 'BAD_JSON')
  const r3 = decode(GOOD.cancel.topic, { length: 3 } as unknown as string)
  t.equal(r3.ok ? 'ok' : r3.reason.code, 'BAD_JSON')
})
