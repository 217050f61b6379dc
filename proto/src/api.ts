import { createHash } from 'node:crypto'
import { type Static, Type } from '@sinclair/typebox'
import { PumpNumber, SessionId, StationId, VehicleId } from './ids.ts'
import { GradeSchema, Grades, ReasonSchema } from './messages.ts'
import {
  AmountMinor,
  CurrencyCode,
  UnitPriceMilli,
  VolumeMilli,
  VolumeUnitSchema,
} from './money.ts'

/**
 * Shapes of the cloud's HTTP API that other packages call (the vehicle
 * agent, the pump controller, the console). The cloud's route schemas use
 * these, so an agent and the cloud cannot drift apart.
 *
 * Authentication: vehicles and stations send `Authorization: Bearer <client
 * assertion>` (tokens.ts); operators and admins send `Bearer <api key>`.
 * Every POST takes an `Idempotency-Key` header.
 */
const strict = { additionalProperties: false } as const

export const API_PREFIX = '/v1'
export const IDEMPOTENCY_HEADER = 'idempotency-key'
export const IdempotencyKey = Type.String({ pattern: '^[A-Za-z0-9_.:-]{8,128}$' })

export const Position = Type.Object(
  {
    lat: Type.Number({ minimum: -90, maximum: 90 }),
    lon: Type.Number({ minimum: -180, maximum: 180 }),
    accuracyM: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000 })),
  },
  strict,
)
export type Position = Static<typeof Position>

/** The error body of every non-2xx answer. */
export const ErrorBody = Type.Object(
  { error: ReasonSchema, requestId: Type.Optional(Type.String({ maxLength: 128 })) },
  strict,
)
export type ErrorBody = Static<typeof ErrorBody>

export const PaymentMethodView = Type.Object(
  {
    id: Type.String({ maxLength: 64 }),
    brand: Type.String({ maxLength: 32 }),
    last4: Type.String({ pattern: '^[0-9]{4}$' }),
    name: Type.Optional(Type.String({ maxLength: 64 })),
  },
  strict,
)
export type PaymentMethodView = Static<typeof PaymentMethodView>

/** POST /v1/fuel-authorizations: a vehicle asks for a hold and a pump authorization. */
export const FuelAuthorizationRequest = Type.Object(
  {
    stationId: StationId,
    pump: PumpNumber,
    grade: Type.Optional(GradeSchema),
    /** Requested hold; the account's default (and limits) when absent. */
    amountMinor: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000_000 })),
    currency: Type.Optional(CurrencyCode),
    paymentMethodId: Type.Optional(Type.String({ maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' })),
    /** What the driver called the card ("business card"); matched by the cloud. */
    paymentMethodName: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    position: Type.Optional(Position),
    voiceCode: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
  },
  strict,
)
export type FuelAuthorizationRequest = Static<typeof FuelAuthorizationRequest>

export const SESSION_STATES = [
  'requested',
  'held',
  'declined',
  'pump_authorized',
  'fueling',
  'completed',
  'captured',
  'voided',
  'expired',
  'failed',
] as const
export type SessionState = (typeof SESSION_STATES)[number]
export const SessionStateSchema = Type.Union(SESSION_STATES.map((s) => Type.Literal(s)))

export const FuelAuthorizationResponse = Type.Object(
  {
    sessionId: SessionId,
    state: SessionStateSchema,
    token: Type.String({ maxLength: 4096 }),
    holdAmountMinor: AmountMinor,
    requestedAmountMinor: AmountMinor,
    partial: Type.Boolean(),
    currency: CurrencyCode,
    maxVolumeMilli: VolumeMilli,
    volumeUnit: VolumeUnitSchema,
    grades: Grades,
    expiresAt: Type.String({ format: 'date-time' }),
    station: Type.Object({ id: StationId, name: Type.String({ maxLength: 128 }) }, strict),
    pump: PumpNumber,
    paymentMethod: PaymentMethodView,
  },
  strict,
)
export type FuelAuthorizationResponse = Static<typeof FuelAuthorizationResponse>

/**
 * The session a fuel authorization makes, derived from the vehicle and the
 * request's Idempotency-Key: a retry that slips past the cloud's idempotency
 * record still finds the same session instead of placing a second hold, and
 * a car that restarted before it heard the answer can cancel the session by
 * this id without sending the request (and its voice code) again.
 *
 * @example sessionIdFor('car7', 'k-1') // 's' + 26 base64url characters
 */
export function sessionIdFor(vehicleId: string, idempotencyKey: string): string {
  return `s${createHash('sha256').update(`${vehicleId}\n${idempotencyKey}`).digest('base64url').slice(0, 26).replace(/^[-_]/, 'x')}`
}

/** POST /v1/sales: a station reports a signed sale (store-and-forward). */
export const SaleReport = Type.Object(
  { saleJws: Type.String({ minLength: 16, maxLength: 4096 }) },
  strict,
)
export type SaleReport = Static<typeof SaleReport>

export const Receipt = Type.Object(
  {
    receiptId: Type.String({ maxLength: 64 }),
    sessionId: SessionId,
    stationId: StationId,
    stationName: Type.String({ maxLength: 128 }),
    pump: PumpNumber,
    vehicleId: VehicleId,
    grade: Type.Optional(GradeSchema),
    unitPriceMilli: Type.Optional(UnitPriceMilli),
    volumeMilli: VolumeMilli,
    volumeUnit: VolumeUnitSchema,
    amountMinor: AmountMinor,
    currency: CurrencyCode,
    paymentMethod: PaymentMethodView,
    capturedAt: Type.String({ format: 'date-time' }),
  },
  strict,
)
export type Receipt = Static<typeof Receipt>

export const SaleReportResponse = Type.Object(
  {
    sessionId: SessionId,
    state: SessionStateSchema,
    capturedMinor: AmountMinor,
    releasedMinor: AmountMinor,
    receipt: Type.Optional(Receipt),
  },
  strict,
)
export type SaleReportResponse = Static<typeof SaleReportResponse>

export const SessionView = Type.Object(
  {
    sessionId: SessionId,
    state: SessionStateSchema,
    stationId: StationId,
    pump: PumpNumber,
    vehicleId: VehicleId,
    currency: CurrencyCode,
    holdAmountMinor: AmountMinor,
    capturedMinor: AmountMinor,
    releasedMinor: AmountMinor,
    reason: Type.Optional(ReasonSchema),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  strict,
)
export type SessionView = Static<typeof SessionView>

/** POST /v1/mqtt-credentials: a vehicle or station gets its broker login. */
export const MqttCredentialResponse = Type.Object(
  {
    clientId: Type.String({ maxLength: 80 }),
    username: Type.String({ maxLength: 80 }),
    password: Type.String({ maxLength: 4096 }),
    brokerUrl: Type.String({ maxLength: 256 }),
    expiresAt: Type.String({ format: 'date-time' }),
  },
  strict,
)
export type MqttCredentialResponse = Static<typeof MqttCredentialResponse>

export const StationSummary = Type.Object(
  {
    id: StationId,
    name: Type.String({ maxLength: 128 }),
    lat: Type.Number(),
    lon: Type.Number(),
    geofenceRadiusM: Type.Integer({ minimum: 1, maximum: 5000 }),
    currency: CurrencyCode,
    volumeUnit: VolumeUnitSchema,
    beaconMajor: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
    distanceM: Type.Optional(Type.Integer({ minimum: 0 })),
    pumps: Type.Array(
      Type.Object(
        {
          pump: PumpNumber,
          grades: Type.Array(
            Type.Object({ grade: GradeSchema, unitPriceMilli: UnitPriceMilli }, strict),
          ),
        },
        strict,
      ),
      { maxItems: 99 },
    ),
  },
  strict,
)
export type StationSummary = Static<typeof StationSummary>
