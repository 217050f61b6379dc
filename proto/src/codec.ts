import { randomBytes } from 'node:crypto'
import { FormatRegistry, type TSchema } from '@sinclair/typebox'
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import {
  MAX_PAYLOAD_BYTES,
  MESSAGE_SCHEMAS,
  type Draft,
  type Message,
  type MessageOf,
  type MessageType,
  PROTOCOL_VERSION,
} from './messages.ts'
import { fail, ok, type Result } from './reasons.ts'
import { parseTopic, type Topic, type TopicKind } from './topics.ts'

/** Which message types may travel on each kind of topic. */
export const TOPIC_MESSAGES: Record<TopicKind, readonly MessageType[]> = {
  'pump-request': ['authorize', 'cancel'],
  'pump-reply': ['pump-authorized', 'pump-rejected', 'progress', 'completed', 'session-ended'],
  'pump-state': ['pump-state'],
  'station-status': ['station-status'],
  'station-command': ['station-command'],
  'station-command-result': ['station-command-result'],
}

// TypeBox refuses every string with a format it has no checker for, so the
// formats proto's schemas use (api.ts: `date-time`) are registered here, next
// to `validate`. RFC 3339 date-time, and a real calendar date.
const DATE_TIME_RE =
  /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d{1,9})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$/i
if (!FormatRegistry.Has('date-time')) {
  FormatRegistry.Set('date-time', (v) => DATE_TIME_RE.test(v) && !Number.isNaN(Date.parse(v)))
}

// Keyed by the schema object: no per-call serialisation of the schema, and a
// schema built on the fly is collected with its checker instead of piling up.
const checkers = new WeakMap<TSchema, TypeCheck<TSchema>>()
function checker(schema: TSchema): TypeCheck<TSchema> {
  let c = checkers.get(schema)
  if (!c) {
    c = TypeCompiler.Compile(schema)
    checkers.set(schema, c)
  }
  return c
}

const compiled = Object.fromEntries(
  Object.entries(MESSAGE_SCHEMAS).map(([type, schema]) => [type, TypeCompiler.Compile(schema)]),
) as unknown as Record<MessageType, TypeCheck<TSchema>>

/**
 * Validates untrusted data against a schema; never coerces, never throws.
 * The first error's path goes into the reason so that a sender can fix it.
 *
 * @example validate(SaleRecord, json) // { ok: true, value } or { ok: false, reason: SCHEMA_INVALID }
 */
export function validate<T extends TSchema>(
  schema: T,
  value: unknown,
): Result<import('@sinclair/typebox').Static<T>> {
  const c = checker(schema)
  if (c.Check(value)) return ok(value)
  const first = c.Errors(value).First()
  return fail(
    'SCHEMA_INVALID',
    first ? `${first.path || '/'}: ${first.message}`.slice(0, 300) : undefined,
  )
}

export interface Decoded {
  topic: Topic
  message: Message
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * Bytes and topic in, a typed message out, or a typed error with a reason
 * code. Checks size, UTF-8, JSON, version, schema, that the type belongs on
 * the topic, and that ids in the payload agree with ids in the topic.
 * Never coerces and never throws.
 */
export function decode(topicName: string, payload: Uint8Array | string): Result<Decoded> {
  try {
    const topic = parseTopic(topicName)
    if (!topic) return fail('UNKNOWN_TOPIC')
    if (typeof payload !== 'string' && !(payload instanceof Uint8Array))
      return fail('BAD_JSON', 'payload is not bytes')
    const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.byteLength
    if (size > MAX_PAYLOAD_BYTES)
      return fail('PAYLOAD_TOO_LARGE', `${size} > ${MAX_PAYLOAD_BYTES} bytes`)
    let text: string
    try {
      text = typeof payload === 'string' ? payload : utf8.decode(payload)
    } catch {
      return fail('BAD_JSON', 'payload is not UTF-8')
    }
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      return fail('BAD_JSON')
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json))
      return fail('SCHEMA_INVALID', 'not an object')
    const { v, type } = json as { v?: unknown; type?: unknown }
    if (v !== PROTOCOL_VERSION) return fail('UNSUPPORTED_VERSION', `v must be ${PROTOCOL_VERSION}`)
    if (typeof type !== 'string' || !Object.hasOwn(MESSAGE_SCHEMAS, type))
      return fail('SCHEMA_INVALID', 'unknown type')
    if (!TOPIC_MESSAGES[topic.kind].includes(type as MessageType)) {
      return fail('TOPIC_MISMATCH', `${type} does not belong on ${topic.kind}`)
    }
    const c = compiled[type as MessageType]
    if (!c.Check(json)) {
      const first = c.Errors(json).First()
      return fail(
        'SCHEMA_INVALID',
        first ? `${first.path || '/'}: ${first.message}`.slice(0, 300) : undefined,
      )
    }
    const message = json as Message
    const mismatch = idMismatch(topic, message)
    if (mismatch) return fail('TOPIC_MISMATCH', mismatch)
    return ok({ topic, message })
  } catch {
    // Unreachable by construction; the promise is "never throws anything else".
    return fail('INTERNAL', 'decoder failure')
  }
}

function idMismatch(topic: Topic, message: Message): string | undefined {
  // A reply's sale must be the sale of this pump, for this vehicle and session:
  // the car shows it as its receipt and must not be handed someone else's.
  if (message.type === 'completed' && topic.kind === 'pump-reply') {
    const sale = message.sale
    if (sale.sessionId !== message.sessionId) return 'sale is for another session'
    if (
      sale.stationId !== topic.stationId ||
      sale.pump !== topic.pump ||
      sale.vehicleId !== topic.vehicleId
    )
      return 'sale station, pump or vehicle differs from topic'
  }
  if (message.type === 'pump-state') {
    if (topic.kind !== 'pump-state') return 'topic kind'
    if (message.stationId !== topic.stationId || message.pump !== topic.pump)
      return 'station or pump differs from topic'
  }
  if (message.type === 'station-status' && message.stationId !== topic.stationId)
    return 'station differs from topic'
  if (message.type === 'pump-authorized' && topic.kind === 'pump-reply') {
    if (message.stationId !== topic.stationId || message.pump !== topic.pump)
      return 'station or pump differs from topic'
  }
  return undefined
}

/** A fresh message id: 16 random bytes, base64url. */
export function newMsgId(): string {
  return randomBytes(16).toString('base64url')
}

/**
 * Fills the envelope and serialises a message for a topic. Throws TypeError
 * on a message that would not decode: that is a bug in the sender, not input.
 *
 * @example encode(topics.pumpRequest('st1', 2, 'car7'), { type: 'authorize', requestId, token })
 */
export function encode<T extends MessageType>(
  topicName: string,
  draft: Draft<T> & { type: T },
  now = Date.now(),
): Buffer {
  // The envelope is filled after the spread: a draft that passes
  // `msgId: undefined` still gets a fresh id instead of losing the field.
  const full = {
    v: PROTOCOL_VERSION,
    ...draft,
    msgId: draft.msgId ?? newMsgId(),
    ts: draft.ts ?? now,
  } as unknown as MessageOf<T>
  const bytes = Buffer.from(JSON.stringify(full))
  const back = decode(topicName, bytes)
  if (!back.ok)
    throw new TypeError(
      `refusing to send invalid ${draft.type}: ${back.reason.code} ${back.reason.message}`,
    )
  return bytes
}
