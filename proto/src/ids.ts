import { Type } from '@sinclair/typebox'

/**
 * Identifiers that appear in topics must be topic-safe: no `/`, `+`, `#`,
 * no NUL, bounded ([MQTT-4.7.1-1], [MQTT-4.7.3-2]). One pattern for all.
 */
export const ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$'
export const ID_RE = new RegExp(ID_PATTERN)

export const Id = Type.String({ pattern: ID_PATTERN, minLength: 1, maxLength: 64 })
export const StationId = Type.String({
  pattern: ID_PATTERN,
  maxLength: 64,
  description: 'station id',
})
export const VehicleId = Type.String({
  pattern: ID_PATTERN,
  maxLength: 64,
  description: 'vehicle id',
})
export const SessionId = Type.String({
  pattern: ID_PATTERN,
  maxLength: 64,
  description: 'payment session id',
})
/** Pumps are numbered per station, as printed on the dispenser: 1 to 99. */
export const PumpNumber = Type.Integer({
  minimum: 1,
  maximum: 99,
  description: 'pump number at the station',
})
/** A client-made id (uuid or similar) that makes a request idempotent. */
export const RequestId = Type.String({ pattern: ID_PATTERN, maxLength: 64 })

export const MAX_PUMP_NUMBER = 99

export function isId(value: unknown): value is string {
  return typeof value === 'string' && ID_RE.test(value)
}

export function isPumpNumber(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 1 && (value as number) <= MAX_PUMP_NUMBER
}
