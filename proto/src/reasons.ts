/**
 * Stable reason codes: the one list every fuelpay part uses to say why
 * something was refused. A code's name and number never change once released;
 * new codes take new numbers. `httpStatus` is what the cloud answers with.
 *
 * @example
 *   reject('TOKEN_EXPIRED') // { code: 'TOKEN_EXPIRED', number: 204, message: '...' }
 */
export const REASONS = {
  // 1xx: the message itself
  BAD_JSON: { number: 100, httpStatus: 400, message: 'payload is not valid JSON' },
  SCHEMA_INVALID: { number: 101, httpStatus: 400, message: 'payload does not match the schema' },
  PAYLOAD_TOO_LARGE: { number: 102, httpStatus: 413, message: 'payload exceeds the size limit' },
  UNKNOWN_TOPIC: {
    number: 103,
    httpStatus: 400,
    message: 'topic is not part of the fuelpay protocol',
  },
  TOPIC_MISMATCH: {
    number: 104,
    httpStatus: 400,
    message: 'message type does not belong on this topic',
  },
  UNSUPPORTED_VERSION: { number: 105, httpStatus: 400, message: 'protocol version not supported' },
  // 2xx: pump authorization tokens and signed records
  TOKEN_MALFORMED: {
    number: 200,
    httpStatus: 400,
    message: 'token is not a well-formed compact JWS',
  },
  TOKEN_BAD_SIGNATURE: { number: 201, httpStatus: 401, message: 'token signature does not verify' },
  TOKEN_ALG_NOT_ALLOWED: { number: 202, httpStatus: 401, message: 'token algorithm is not EdDSA' },
  TOKEN_UNKNOWN_KEY: { number: 203, httpStatus: 401, message: 'token key id is not known' },
  TOKEN_EXPIRED: { number: 204, httpStatus: 401, message: 'token has expired' },
  TOKEN_NOT_YET_VALID: { number: 205, httpStatus: 401, message: 'token is issued in the future' },
  WRONG_STATION: { number: 206, httpStatus: 403, message: 'token is for another station' },
  WRONG_PUMP: { number: 207, httpStatus: 403, message: 'token is for another pump' },
  WRONG_VEHICLE: { number: 208, httpStatus: 403, message: 'token was issued to another vehicle' },
  TOKEN_REPLAYED: { number: 209, httpStatus: 409, message: 'token has already been used' },
  KEY_REVOKED: { number: 210, httpStatus: 401, message: 'token key has been revoked' },
  TOKEN_CLAIMS_INVALID: {
    number: 211,
    httpStatus: 400,
    message: 'token claims do not match the schema',
  },
  // 3xx: the pump
  PUMP_BUSY: { number: 300, httpStatus: 409, message: 'pump is not idle' },
  PUMP_FAULT: { number: 301, httpStatus: 409, message: 'pump is faulted' },
  PUMP_OFFLINE: { number: 302, httpStatus: 503, message: 'pump is offline' },
  NOZZLE_TIMEOUT: { number: 303, httpStatus: 408, message: 'nozzle was not lifted in time' },
  CANCELLED: { number: 304, httpStatus: 409, message: 'session was cancelled' },
  EMERGENCY_STOP: { number: 305, httpStatus: 409, message: 'pump was emergency stopped' },
  GRADE_NOT_ALLOWED: {
    number: 306,
    httpStatus: 403,
    message: 'grade is not allowed by the authorization',
  },
  UNKNOWN_PUMP: { number: 307, httpStatus: 404, message: 'no such pump at this station' },
  NO_FLOW_TIMEOUT: { number: 308, httpStatus: 408, message: 'no fuel flowed in time' },
  MAX_DURATION: { number: 309, httpStatus: 408, message: 'session exceeded its maximum length' },
  FUEL_ALREADY_FLOWING: {
    number: 310,
    httpStatus: 409,
    message: 'fuel is flowing; cancel is no longer possible',
  },
  // 4xx: payment and purchase controls
  INSUFFICIENT_FUNDS: { number: 400, httpStatus: 402, message: 'declined: insufficient funds' },
  CARD_EXPIRED: { number: 401, httpStatus: 402, message: 'declined: card expired' },
  SUSPECTED_FRAUD: { number: 402, httpStatus: 402, message: 'declined: suspected fraud' },
  ISSUER_UNAVAILABLE: { number: 403, httpStatus: 503, message: 'card issuer unavailable' },
  LIMIT_TRANSACTION: { number: 404, httpStatus: 403, message: 'over the per-transaction limit' },
  LIMIT_DAILY: { number: 405, httpStatus: 403, message: 'over the daily limit' },
  LIMIT_MONTHLY: { number: 406, httpStatus: 403, message: 'over the monthly limit' },
  GRADE_NOT_PERMITTED: {
    number: 407,
    httpStatus: 403,
    message: 'grade not permitted for this vehicle',
  },
  STATION_NOT_PERMITTED: {
    number: 408,
    httpStatus: 403,
    message: 'station not permitted for this vehicle',
  },
  OUTSIDE_HOURS: { number: 409, httpStatus: 403, message: 'purchases not permitted at this hour' },
  VOICE_CODE_REQUIRED: { number: 410, httpStatus: 403, message: 'a voice code is required' },
  VOICE_CODE_WRONG: { number: 411, httpStatus: 403, message: 'voice code does not match' },
  NO_PAYMENT_METHOD: { number: 412, httpStatus: 409, message: 'no usable payment method' },
  PROCESSOR_TIMEOUT: {
    number: 413,
    httpStatus: 504,
    message: 'payment processor did not answer in time',
  },
  DECLINED: { number: 414, httpStatus: 402, message: 'declined by the issuer' },
  // 5xx: location, sessions, settlement
  OUTSIDE_GEOFENCE: { number: 500, httpStatus: 403, message: 'vehicle is not at the station' },
  PUMP_NOT_AT_STATION: { number: 501, httpStatus: 404, message: 'pump is not at this station' },
  PUMP_OUT_OF_SERVICE: { number: 502, httpStatus: 409, message: 'pump is out of service' },
  SESSION_NOT_FOUND: { number: 503, httpStatus: 404, message: 'no such session' },
  SESSION_STATE_CONFLICT: {
    number: 504,
    httpStatus: 409,
    message: 'session is not in a state that allows this',
  },
  SALE_SIGNATURE_INVALID: {
    number: 505,
    httpStatus: 401,
    message: 'sale record signature does not verify',
  },
  SALE_ARITHMETIC_INVALID: {
    number: 506,
    httpStatus: 422,
    message: 'sale amount does not equal volume times price',
  },
  IDEMPOTENCY_KEY_REUSED: {
    number: 507,
    httpStatus: 422,
    message: 'idempotency key was used with another request',
  },
  IDEMPOTENCY_IN_PROGRESS: {
    number: 508,
    httpStatus: 409,
    message: 'a request with this idempotency key is in progress',
  },
  SALE_MISMATCH: { number: 509, httpStatus: 422, message: 'sale does not match its session' },
  UNKNOWN_STATION: { number: 510, httpStatus: 404, message: 'no such station' },
  UNKNOWN_GRADE: { number: 511, httpStatus: 422, message: 'pump does not sell this grade' },
  CURRENCY_MISMATCH: {
    number: 512,
    httpStatus: 422,
    message: 'currency does not match the station',
  },
  UNKNOWN_CURRENCY: {
    number: 513,
    httpStatus: 422,
    message: 'currency is not an ISO 4217 code fuelpay knows',
  },
  AMOUNT_OUT_OF_RANGE: { number: 514, httpStatus: 422, message: 'amount is out of range' },
  // 6xx: who is asking
  UNAUTHENTICATED: { number: 600, httpStatus: 401, message: 'credentials missing or invalid' },
  FORBIDDEN: { number: 601, httpStatus: 403, message: 'not allowed for this identity' },
  NOT_FOUND: { number: 602, httpStatus: 404, message: 'not found' },
  RATE_LIMITED: { number: 603, httpStatus: 429, message: 'too many requests' },
  CLIENT_ID_MISMATCH: {
    number: 604,
    httpStatus: 403,
    message: 'client id does not match the credential',
  },
  // 9xx: ours
  INTERNAL: { number: 900, httpStatus: 500, message: 'internal error' },
  TIMEOUT: { number: 901, httpStatus: 504, message: 'timed out' },
  UNAVAILABLE: { number: 902, httpStatus: 503, message: 'service unavailable' },
} as const satisfies Record<string, { number: number; httpStatus: number; message: string }>

export type ReasonCode = keyof typeof REASONS

export const REASON_CODES = Object.keys(REASONS) as ReasonCode[]

/** A refusal as it travels: the stable code, its number and a human message. */
export interface Reason {
  code: ReasonCode
  number: number
  message: string
}

/** Builds the wire form of a reason; `detail` replaces the default message. */
export function reason(code: ReasonCode, detail?: string): Reason {
  const r = REASONS[code]
  return { code, number: r.number, message: detail ?? r.message }
}

export function isReasonCode(value: unknown): value is ReasonCode {
  return typeof value === 'string' && Object.hasOwn(REASONS, value)
}

/**
 * An error that carries a reason code, for code paths that must throw (a
 * fastify handler, say). Everything in proto returns results instead.
 */
export class FuelpayError extends Error {
  readonly code: ReasonCode
  readonly number: number
  readonly httpStatus: number
  constructor(code: ReasonCode, detail?: string) {
    super(detail ?? REASONS[code].message)
    this.name = 'FuelpayError'
    this.code = code
    this.number = REASONS[code].number
    this.httpStatus = REASONS[code].httpStatus
  }
  toReason(): Reason {
    return reason(this.code, this.message)
  }
}

/** A value or a reason: how proto reports failure without throwing. */
export type Result<T> = { ok: true; value: T } | { ok: false; reason: Reason }

export const ok = <T>(value: T): Result<T> => ({ ok: true, value })
export const fail = <T = never>(code: ReasonCode, detail?: string): Result<T> => ({
  ok: false,
  reason: reason(code, detail),
})
