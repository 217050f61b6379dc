import t from 'tap'
import {
  ErrorBody,
  FuelpayError,
  fail,
  isReasonCode,
  ok,
  REASON_CODES,
  REASONS,
  ReasonSchema,
  reason,
  validate,
} from '../src/index.ts'

/** Like fastify's error-code test: walk every code and hold it to the rules. */
const HTTP_STATUSES = new Set([
  400, 401, 402, 403, 404, 408, 409, 413, 422, 429, 500, 502, 503, 504,
])

t.test('every reason code', async (t) => {
  const numbers = new Map<number, string>()
  t.same(REASON_CODES, Object.keys(REASONS))
  for (const code of REASON_CODES) {
    const r = REASONS[code]
    t.match(code, /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/, `${code}: SCREAMING_SNAKE name`)
    t.ok(
      Number.isInteger(r.number) && r.number >= 100 && r.number <= 999,
      `${code}: number in 100..999`,
    )
    t.notOk(
      numbers.has(r.number),
      `${code}: number ${r.number} is unique (also used by ${numbers.get(r.number)})`,
    )
    numbers.set(r.number, code)
    t.ok(
      HTTP_STATUSES.has(r.httpStatus),
      `${code}: HTTP status ${r.httpStatus} is one the cloud uses`,
    )
    t.ok(r.httpStatus >= 400 && r.httpStatus <= 599, `${code}: an error status`)
    t.ok(
      typeof r.message === 'string' && r.message.length > 0 && r.message.length <= 200,
      `${code}: message present`,
    )
    t.equal(r.message, r.message.trim(), `${code}: message trimmed`)
    t.ok(validate(ReasonSchema, reason(code)).ok, `${code}: travels in ReasonSchema`)
    t.ok(
      validate(ErrorBody, { error: reason(code), requestId: 'req-1' }).ok,
      `${code}: travels in ErrorBody`,
    )
    t.ok(isReasonCode(code))
    const e = new FuelpayError(code)
    t.equal(e.code, code)
    t.equal(e.number, r.number)
    t.equal(e.httpStatus, r.httpStatus)
    t.equal(e.message, r.message)
  }
  t.ok(numbers.size >= 60, 'the table is whole')
})

t.test('released codes keep their names and numbers', async (t) => {
  // Additions are fine; a rename or renumbering breaks every deployed car and station.
  const released: Record<string, number> = {
    BAD_JSON: 100,
    SCHEMA_INVALID: 101,
    PAYLOAD_TOO_LARGE: 102,
    UNKNOWN_TOPIC: 103,
    TOPIC_MISMATCH: 104,
    UNSUPPORTED_VERSION: 105,
    TOKEN_MALFORMED: 200,
    TOKEN_BAD_SIGNATURE: 201,
    TOKEN_ALG_NOT_ALLOWED: 202,
    TOKEN_UNKNOWN_KEY: 203,
    TOKEN_EXPIRED: 204,
    TOKEN_NOT_YET_VALID: 205,
    WRONG_STATION: 206,
    WRONG_PUMP: 207,
    WRONG_VEHICLE: 208,
    TOKEN_REPLAYED: 209,
    KEY_REVOKED: 210,
    TOKEN_CLAIMS_INVALID: 211,
    PUMP_BUSY: 300,
    PUMP_FAULT: 301,
    PUMP_OFFLINE: 302,
    NOZZLE_TIMEOUT: 303,
    CANCELLED: 304,
    EMERGENCY_STOP: 305,
    GRADE_NOT_ALLOWED: 306,
    UNKNOWN_PUMP: 307,
    NO_FLOW_TIMEOUT: 308,
    MAX_DURATION: 309,
    FUEL_ALREADY_FLOWING: 310,
    INSUFFICIENT_FUNDS: 400,
    CARD_EXPIRED: 401,
    SUSPECTED_FRAUD: 402,
    ISSUER_UNAVAILABLE: 403,
    LIMIT_TRANSACTION: 404,
    LIMIT_DAILY: 405,
    LIMIT_MONTHLY: 406,
    GRADE_NOT_PERMITTED: 407,
    STATION_NOT_PERMITTED: 408,
    OUTSIDE_HOURS: 409,
    VOICE_CODE_REQUIRED: 410,
    VOICE_CODE_WRONG: 411,
    NO_PAYMENT_METHOD: 412,
    PROCESSOR_TIMEOUT: 413,
    DECLINED: 414,
    OUTSIDE_GEOFENCE: 500,
    PUMP_NOT_AT_STATION: 501,
    PUMP_OUT_OF_SERVICE: 502,
    SESSION_NOT_FOUND: 503,
    SESSION_STATE_CONFLICT: 504,
    SALE_SIGNATURE_INVALID: 505,
    SALE_ARITHMETIC_INVALID: 506,
    IDEMPOTENCY_KEY_REUSED: 507,
    IDEMPOTENCY_IN_PROGRESS: 508,
    SALE_MISMATCH: 509,
    UNKNOWN_STATION: 510,
    UNKNOWN_GRADE: 511,
    CURRENCY_MISMATCH: 512,
    UNKNOWN_CURRENCY: 513,
    AMOUNT_OUT_OF_RANGE: 514,
    UNAUTHENTICATED: 600,
    FORBIDDEN: 601,
    NOT_FOUND: 602,
    RATE_LIMITED: 603,
    CLIENT_ID_MISMATCH: 604,
    INTERNAL: 900,
    TIMEOUT: 901,
    UNAVAILABLE: 902,
  }
  for (const [code, number] of Object.entries(released)) {
    t.equal((REASONS as Record<string, { number: number }>)[code]?.number, number, code)
  }
})

t.test('helpers', async (t) => {
  t.same(reason('TOKEN_EXPIRED'), {
    code: 'TOKEN_EXPIRED',
    number: 204,
    message: 'token has expired',
  })
  t.same(reason('TOKEN_EXPIRED', 'expired 5 s ago'), {
    code: 'TOKEN_EXPIRED',
    number: 204,
    message: 'expired 5 s ago',
  })
  t.same(fail('PUMP_BUSY'), { ok: false, reason: reason('PUMP_BUSY') })
  t.same(ok(3), { ok: true, value: 3 })
  for (const bad of [
    'toString',
    '__proto__',
    'constructor',
    'bad_json',
    '',
    101,
    null,
    undefined,
  ]) {
    t.notOk(isReasonCode(bad), String(bad))
  }
  const e = new FuelpayError('PUMP_BUSY', 'pump 2 is fueling')
  t.ok(e instanceof Error)
  t.equal(e.name, 'FuelpayError')
  t.same(e.toReason(), { code: 'PUMP_BUSY', number: 300, message: 'pump 2 is fueling' })
  t.notOk(validate(ReasonSchema, { code: 'NOPE', number: 100, message: '' }).ok, 'unknown code')
  t.notOk(
    validate(ErrorBody, { error: reason('INTERNAL'), stack: 'x' }).ok,
    'no stray fields in error bodies',
  )
})
