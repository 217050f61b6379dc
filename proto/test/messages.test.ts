import type { TSchema } from '@sinclair/typebox'
import t, { type Test } from 'tap'
import {
  decode,
  encode,
  formatTopic,
  MAX_PAYLOAD_BYTES,
  MESSAGE_SCHEMAS,
  type MessageType,
  type Result,
  TOPIC_MESSAGES,
  type TopicKind,
  validate,
} from '../src/index.ts'
import { copy, GOOD, PUMP, STATION, VEHICLE } from './fixtures.ts'

/**
 * Every message type against good and bad payloads. The bad ones are built
 * by walking each good sample, so a field added to a schema is covered as
 * soon as the sample carries it.
 */
const TYPES = Object.keys(MESSAGE_SCHEMAS) as MessageType[]
const bytes = (m: unknown) => Buffer.from(JSON.stringify(m))
const codeOf = (r: Result<unknown>) => (r.ok ? 'ok' : r.reason.code)

type Path = (string | number)[]

/** Every leaf (non-object, non-array value) of a JSON value, with its path. */
function leaves(value: unknown, path: Path = []): [Path, unknown][] {
  if (Array.isArray(value)) return value.flatMap((v, i) => leaves(v, [...path, i]))
  if (typeof value === 'object' && value !== null)
    return Object.entries(value).flatMap(([k, v]) => leaves(v, [...path, k]))
  return [[path, value]]
}
/** Every object in a JSON value (the root included), with its path. */
function objects(value: unknown, path: Path = []): Path[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => objects(v, [...path, i]))
  if (typeof value === 'object' && value !== null)
    return [path, ...Object.entries(value).flatMap(([k, v]) => objects(v, [...path, k]))]
  return []
}
function setAt(root: unknown, path: Path, value: unknown): unknown {
  const out = copy(root) as Record<string | number, unknown>
  let cur = out
  for (const p of path.slice(0, -1)) cur = cur[p] as Record<string | number, unknown>
  const last = path[path.length - 1] as string | number
  if (value === DELETE) delete cur[last]
  else cur[last] = value
  return out
}
const DELETE = Symbol('delete')
/** The schema of a path, through objects and arrays (unions are skipped). */
function schemaAt(schema: TSchema, path: Path): TSchema | undefined {
  let s: TSchema | undefined = schema
  for (const p of path) {
    if (s === undefined) return undefined
    if (typeof p === 'number') s = s.items as TSchema | undefined
    else s = (s.properties as Record<string, TSchema> | undefined)?.[p]
  }
  return s
}

const TOPIC_OF_KIND: Record<TopicKind, string> = {
  'pump-request': formatTopic({
    kind: 'pump-request',
    stationId: STATION,
    pump: PUMP,
    vehicleId: VEHICLE,
  }),
  'pump-reply': formatTopic({
    kind: 'pump-reply',
    stationId: STATION,
    pump: PUMP,
    vehicleId: VEHICLE,
  }),
  'pump-state': formatTopic({ kind: 'pump-state', stationId: STATION, pump: PUMP }),
  'station-status': formatTopic({ kind: 'station-status', stationId: STATION }),
  'station-command': formatTopic({ kind: 'station-command', stationId: STATION }),
  'station-command-result': formatTopic({ kind: 'station-command-result', stationId: STATION }),
}

t.test('fixtures cover every message type, and every type has a topic', async (t) => {
  t.same(Object.keys(GOOD).sort(), [...TYPES].sort())
  const carried = Object.values(TOPIC_MESSAGES).flat().sort()
  t.same(carried, [...TYPES].sort(), 'each type travels on exactly one kind of topic')
})

for (const type of TYPES) {
  const good = GOOD[type]
  const schema: TSchema = MESSAGE_SCHEMAS[type]
  const requiredKeys = (schema.required ?? []) as string[]
  const expectBad = (t: Test, payload: unknown, code: string, name: string, topic = good.topic) => {
    const r = decode(topic, bytes(payload))
    t.equal(codeOf(r), code, name)
  }

  t.test(type, async (t) => {
    t.test('the good sample decodes on its topic, as Buffer, Uint8Array and string', async (t) => {
      for (const payload of [
        bytes(good.message),
        new Uint8Array(bytes(good.message)),
        JSON.stringify(good.message),
      ]) {
        const r = decode(good.topic, payload)
        t.ok(r.ok, 'decodes')
        if (r.ok) {
          t.same(r.value.message, good.message)
          t.equal(formatTopic(r.value.topic), good.topic)
        }
      }
    })

    t.test('a missing required field is refused; a missing optional one is not', async (t) => {
      const required = new Set(requiredKeys)
      for (const key of Object.keys(good.message)) {
        const r = decode(good.topic, bytes(setAt(good.message, [key], DELETE)))
        if (!required.has(key)) t.ok(r.ok, `${key} is optional`)
        else t.equal(codeOf(r), key === 'v' ? 'UNSUPPORTED_VERSION' : 'SCHEMA_INVALID', key)
      }
      for (const path of objects(good.message).filter((p) => p.length > 0)) {
        const sub = schemaAt(schema, path)
        for (const key of (sub?.required as string[] | undefined) ?? []) {
          expectBad(
            t,
            setAt(good.message, [...path, key], DELETE),
            'SCHEMA_INVALID',
            `${path.join('.')}.${key}`,
          )
        }
      }
    })

    t.test('an extra field is refused, at every level', async (t) => {
      for (const path of objects(good.message)) {
        expectBad(
          t,
          setAt(good.message, [...path, 'extra'], 1),
          'SCHEMA_INVALID',
          `extra at /${path.join('/')}`,
        )
      }
    })

    t.test('__proto__, constructor and prototype keys are refused at every level', async (t) => {
      for (const path of objects(good.message)) {
        for (const key of ['__proto__', 'constructor', 'prototype']) {
          // JSON.parse makes `__proto__` an own property; write it as text so it survives.
          const inner = JSON.stringify(
            setAt(good.message, [...path, 'PLACEHOLDER'], { polluted: true }),
          )
          const text = inner.replace('"PLACEHOLDER"', JSON.stringify(key))
          const r = decode(good.topic, text)
          t.equal(codeOf(r), 'SCHEMA_INVALID', `${key} at /${path.join('/')}`)
        }
      }
      t.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype was polluted')
    })

    t.test('a field of the wrong JSON type is refused', async (t) => {
      for (const [path, value] of leaves(good.message)) {
        const swaps = typeof value === 'string' ? [42, null, ['x'], {}] : ['1', null, [], {}, true]
        const expected =
          path.length === 1 && path[0] === 'v' ? 'UNSUPPORTED_VERSION' : 'SCHEMA_INVALID'
        for (const swap of swaps) {
          if (typeof value === 'boolean' && swap === true) continue
          expectBad(
            t,
            setAt(good.message, path, swap),
            expected,
            `${path.join('.')} = ${JSON.stringify(swap)}`,
          )
        }
      }
    })

    t.test('numbers out of range, fractional or unsafe are refused', async (t) => {
      for (const [path, value] of leaves(good.message)) {
        if (typeof value !== 'number') continue
        const expected =
          path.length === 1 && path[0] === 'v' ? 'UNSUPPORTED_VERSION' : 'SCHEMA_INVALID'
        for (const bad of [-1, 1.5, 1e300, Number.MAX_SAFE_INTEGER + 2]) {
          expectBad(t, setAt(good.message, path, bad), expected, `${path.join('.')} = ${bad}`)
        }
        const sub = schemaAt(schema, path)
        if (typeof sub?.maximum === 'number') {
          t.ok(
            validate(schema, setAt(good.message, path, sub.maximum)).ok,
            `${path.join('.')} at its maximum`,
          )
          expectBad(
            t,
            setAt(good.message, path, sub.maximum + 1),
            'SCHEMA_INVALID',
            `${path.join('.')} above maximum`,
          )
        }
        if (typeof sub?.minimum === 'number') {
          t.ok(
            validate(schema, setAt(good.message, path, sub.minimum)).ok,
            `${path.join('.')} at its minimum`,
          )
          expectBad(
            t,
            setAt(good.message, path, sub.minimum - 1),
            'SCHEMA_INVALID',
            `${path.join('.')} below minimum`,
          )
        }
      }
    })

    t.test('strings over their length limit are refused', async (t) => {
      for (const [path, value] of leaves(good.message)) {
        const sub = schemaAt(schema, path)
        if (typeof value !== 'string' || typeof sub?.maxLength !== 'number') continue
        const max = sub.maxLength
        if (max * 2 > MAX_PAYLOAD_BYTES) {
          t.ok(
            validate(schema, setAt(good.message, path, 'a'.repeat(max))).ok,
            `${path.join('.')} at ${max}`,
          )
        }
        t.notOk(
          validate(schema, setAt(good.message, path, 'a'.repeat(max + 1))).ok,
          `${path.join('.')} over ${max}`,
        )
      }
    })

    t.test('the wrong protocol version is refused', async (t) => {
      for (const v of [0, 2, '1', 1.0001, null]) {
        expectBad(t, { ...good.message, v }, 'UNSUPPORTED_VERSION', `v = ${JSON.stringify(v)}`)
      }
    })

    t.test('an unknown or missing type is refused', async (t) => {
      for (const type of ['nope', '', 'constructor', '__proto__', 'toString', 7]) {
        expectBad(t, { ...good.message, type }, 'SCHEMA_INVALID', `type = ${JSON.stringify(type)}`)
      }
    })

    t.test('the message on a topic of another kind is refused', async (t) => {
      for (const [kind, topic] of Object.entries(TOPIC_OF_KIND) as [TopicKind, string][]) {
        if (TOPIC_MESSAGES[kind].includes(type)) continue
        expectBad(t, good.message, 'TOPIC_MISMATCH', kind, topic)
      }
      for (const topic of [
        'fuelpay/v2/st/x/status',
        'other/topic',
        '',
        '$SYS/broker/load',
        `${good.topic}/x`,
      ]) {
        expectBad(t, good.message, 'UNKNOWN_TOPIC', `topic ${topic}`, topic)
      }
    })

    t.test('an oversized payload is refused before it is parsed', async (t) => {
      const text = JSON.stringify(good.message)
      const padded = `${text.slice(0, -1)}${' '.repeat(MAX_PAYLOAD_BYTES - text.length + 1)}}`
      t.equal(Buffer.byteLength(padded), MAX_PAYLOAD_BYTES + 1)
      t.equal(codeOf(decode(good.topic, padded)), 'PAYLOAD_TOO_LARGE', 'string')
      t.equal(codeOf(decode(good.topic, Buffer.from(padded))), 'PAYLOAD_TOO_LARGE', 'bytes')
      const exact = `${text.slice(0, -1)}${' '.repeat(MAX_PAYLOAD_BYTES - text.length)}}`
      t.ok(decode(good.topic, exact).ok, 'exactly at the limit decodes')
    })

    t.test('invalid UTF-8 and non-JSON are BAD_JSON', async (t) => {
      const b = bytes(good.message)
      const at = b.indexOf(Buffer.from(String(good.message.msgId)))
      for (const junk of [
        [0xff],
        [0xc3, 0x28],
        [0xed, 0xa0, 0x80],
        [0xf8, 0x88, 0x80, 0x80, 0x80],
      ]) {
        const broken = Buffer.concat([b.subarray(0, at), Buffer.from(junk), b.subarray(at)])
        t.equal(codeOf(decode(good.topic, broken)), 'BAD_JSON', `bytes ${junk.join(',')}`)
      }
      for (const text of [
        '',
        '{',
        '{"v":1,}',
        "{'v':1}",
        'undefined',
        'NaN',
        `${JSON.stringify(good.message)}x`,
      ]) {
        t.equal(codeOf(decode(good.topic, text)), 'BAD_JSON', JSON.stringify(text))
      }
    })

    t.test('JSON that is not an object is refused', async (t) => {
      for (const text of ['null', '1', '"x"', 'true', '[]', JSON.stringify([good.message])]) {
        t.equal(codeOf(decode(good.topic, text)), 'SCHEMA_INVALID', text.slice(0, 20))
      }
    })

    t.test('encode fills the envelope, and round-trips', async (t) => {
      const { v: _v, msgId: _m, ts: _t, ...draft } = good.message
      const out = encode(good.topic, draft as never, 1234)
      const r = decode(good.topic, out)
      t.ok(r.ok)
      if (!r.ok) return
      t.equal(r.value.message.v, 1)
      t.equal(r.value.message.ts, 1234)
      t.match(r.value.message.msgId, /^[A-Za-z0-9_-]{22}$/)
      t.same({ ...r.value.message, msgId: good.message.msgId, ts: good.message.ts }, good.message)
      const undef = encode(good.topic, { ...draft, msgId: undefined, ts: undefined } as never, 99)
      const back = decode(good.topic, undef)
      t.ok(back.ok, 'explicit undefined envelope fields are filled, not dropped')
    })

    t.test('encode refuses invalid drafts with a TypeError', async (t) => {
      const { v: _v, msgId: _m, ts: _t, ...draft } = good.message
      t.throws(() => encode(good.topic, { ...draft, extra: 1 } as never), TypeError, 'extra field')
      for (const key of Object.keys(draft).filter(
        (k) => requiredKeys.includes(k) && k !== 'type',
      )) {
        t.throws(
          () => encode(good.topic, setAt(draft, [key], DELETE) as never),
          TypeError,
          `without ${key}`,
        )
      }
      const otherKind = (Object.keys(TOPIC_OF_KIND) as TopicKind[]).find(
        (k) => !TOPIC_MESSAGES[k].includes(type),
      ) as TopicKind
      const other = TOPIC_OF_KIND[otherKind]
      t.throws(() => encode(other, draft as never), TypeError, 'on the wrong topic')
      t.throws(() => encode('nope/x', draft as never), TypeError, 'on an unknown topic')
      t.throws(
        () => encode(good.topic, { ...draft, msgId: 'short' } as never),
        TypeError,
        'bad msgId',
      )
    })
  })
}

t.test('ids in the payload must agree with the topic', async (t) => {
  const res = (stationId: string, pump: number, vehicleId: string) =>
    formatTopic({ kind: 'pump-reply', stationId, pump, vehicleId })
  const cases: [string, MessageType, string, unknown][] = [
    [
      'pump-state for another pump',
      'pump-state',
      formatTopic({ kind: 'pump-state', stationId: STATION, pump: 3 }),
      GOOD['pump-state'].message,
    ],
    [
      'pump-state for another station',
      'pump-state',
      formatTopic({ kind: 'pump-state', stationId: 'other', pump: PUMP }),
      GOOD['pump-state'].message,
    ],
    [
      'station-status of another station',
      'station-status',
      formatTopic({ kind: 'station-status', stationId: 'other' }),
      GOOD['station-status'].message,
    ],
    [
      'pump-authorized naming another pump',
      'pump-authorized',
      res(STATION, 3, VEHICLE),
      GOOD['pump-authorized'].message,
    ],
    [
      'pump-authorized naming another station',
      'pump-authorized',
      res('other', PUMP, VEHICLE),
      GOOD['pump-authorized'].message,
    ],
    [
      'completed with a sale of another vehicle',
      'completed',
      res(STATION, PUMP, 'car8'),
      GOOD.completed.message,
    ],
    [
      'completed with a sale of another pump',
      'completed',
      res(STATION, 3, VEHICLE),
      GOOD.completed.message,
    ],
    [
      'completed with a sale of another station',
      'completed',
      res('other', PUMP, VEHICLE),
      GOOD.completed.message,
    ],
    [
      'completed whose sale is for another session',
      'completed',
      GOOD.completed.topic,
      { ...GOOD.completed.message, sessionId: 'sess_other' },
    ],
  ]
  for (const [name, , topic, message] of cases) {
    t.equal(codeOf(decode(topic, bytes(message))), 'TOPIC_MISMATCH', name)
  }
})

t.test('station commands: each op decodes, malformed ones do not', async (t) => {
  const good = GOOD['station-command']
  const ops = [
    { op: 'emergency-stop', pump: 1 },
    { op: 'resume', pump: 99 },
    { op: 'set-price', grade: 'diesel', unitPriceMilli: 1 },
    { op: 'set-price', pump: 4, grade: 'lpg', unitPriceMilli: 999 },
    { op: 'void-session', sessionId: 'sess_1' },
  ]
  for (const command of ops)
    t.ok(decode(good.topic, bytes({ ...good.message, command })).ok, command.op)
  const bad = [
    { op: 'emergency-stop' },
    { op: 'emergency-stop', pump: 0 },
    { op: 'resume', pump: 100 },
    { op: 'set-price', grade: 'diesel', unitPriceMilli: 0 },
    { op: 'set-price', grade: 'kerosene', unitPriceMilli: 100 },
    { op: 'void-session' },
    { op: 'void-session', sessionId: 'a/b' },
    { op: 'reboot' },
    { op: 'resume', pump: 1, sessionId: 's1' },
  ]
  for (const command of bad) {
    t.equal(
      codeOf(decode(good.topic, bytes({ ...good.message, command }))),
      'SCHEMA_INVALID',
      JSON.stringify(command),
    )
  }
})

t.test('ids that would break a topic are refused inside payloads', async (t) => {
  const good = GOOD.cancel
  for (const sessionId of [
    '',
    'a/b',
    'a+b',
    'a#',
    '-lead',
    'a'.repeat(65),
    'a\u0000b',
    'é',
    'a b',
  ]) {
    t.equal(
      codeOf(decode(good.topic, bytes({ ...good.message, sessionId }))),
      'SCHEMA_INVALID',
      JSON.stringify(sessionId),
    )
  }
})

t.test('grades in pump-authorized: non-empty, unique, known', async (t) => {
  const good = GOOD['pump-authorized']
  for (const grades of [[], ['diesel', 'diesel'], ['kerosene'], Array(10).fill('diesel')]) {
    t.equal(
      codeOf(decode(good.topic, bytes({ ...good.message, grades }))),
      'SCHEMA_INVALID',
      JSON.stringify(grades),
    )
  }
})

t.test('reasons carry a known code', async (t) => {
  const good = GOOD['pump-rejected']
  const reason = good.message.reason as Record<string, unknown>
  for (const patch of [
    { code: 'NOT_A_CODE' },
    { number: 99 },
    { number: 1000 },
    { message: 'x'.repeat(501) },
  ]) {
    t.equal(
      codeOf(decode(good.topic, bytes({ ...good.message, reason: { ...reason, ...patch } }))),
      'SCHEMA_INVALID',
      JSON.stringify(patch).slice(0, 40),
    )
  }
})
