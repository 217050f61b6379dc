import { CurrencyCode, GradeSchema, Id, PumpNumber, UnitPriceMilli, VolumeUnitSchema } from '@fuelpay/proto'
import { Type } from '@sinclair/typebox'

/** Request bodies of the admin provisioning API (issue 3: provisioning and admin CRUD). */
const strict = { additionalProperties: false } as const

export const PublicJwk = Type.Object(
  {
    kty: Type.Literal('OKP'),
    crv: Type.Literal('Ed25519'),
    x: Type.String({ pattern: '^[A-Za-z0-9_-]{43}$' }),
    kid: Type.String({ pattern: '^[A-Za-z0-9_.:-]{1,64}$' }),
    alg: Type.Optional(Type.Literal('EdDSA')),
    use: Type.Optional(Type.Literal('sig')),
  },
  strict,
)

export const OperatorBody = Type.Object({ id: Type.Optional(Id), name: Type.String({ minLength: 1, maxLength: 128 }) }, strict)

export const StationBody = Type.Object(
  {
    id: Id,
    operatorId: Id,
    name: Type.String({ minLength: 1, maxLength: 128 }),
    lat: Type.Number({ minimum: -90, maximum: 90 }),
    lon: Type.Number({ minimum: -180, maximum: 180 }),
    geofenceRadiusM: Type.Integer({ minimum: 1, maximum: 5000 }),
    currency: CurrencyCode,
    volumeUnit: VolumeUnitSchema,
    beaconMajor: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
    publicJwk: PublicJwk,
    pumps: Type.Array(
      Type.Object(
        {
          pump: PumpNumber,
          inService: Type.Optional(Type.Boolean()),
          grades: Type.Array(Type.Object({ grade: GradeSchema, unitPriceMilli: UnitPriceMilli }, strict), { minItems: 1, maxItems: 9 }),
        },
        strict,
      ),
      { minItems: 1, maxItems: 99 },
    ),
  },
  strict,
)

export const AccountBody = Type.Object(
  {
    id: Type.Optional(Id),
    name: Type.String({ minLength: 1, maxLength: 128 }),
    defaultHoldMinor: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000_000 })),
  },
  strict,
)

export const SimCardBody = Type.Object(
  {
    brand: Type.String({ minLength: 1, maxLength: 32 }),
    last4: Type.String({ pattern: '^[0-9]{4}$' }),
    availableMinor: Type.Integer({ minimum: 0, maximum: 100_000_000 }),
    currency: CurrencyCode,
    expMonth: Type.Integer({ minimum: 1, maximum: 12 }),
    expYear: Type.Integer({ minimum: 2000, maximum: 2100 }),
    forcedDecline: Type.Optional(
      Type.Union(['INSUFFICIENT_FUNDS', 'CARD_EXPIRED', 'SUSPECTED_FRAUD', 'ISSUER_UNAVAILABLE', 'DECLINED'].map((c) => Type.Literal(c))),
    ),
  },
  strict,
)

export const PaymentMethodBody = Type.Object(
  {
    processorToken: Type.String({ minLength: 8, maxLength: 128, pattern: '^[A-Za-z0-9_-]+$' }),
    brand: Type.String({ minLength: 1, maxLength: 32 }),
    last4: Type.String({ pattern: '^[0-9]{4}$' }),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    isDefault: Type.Optional(Type.Boolean()),
  },
  strict,
)

export const VehicleBody = Type.Object(
  {
    id: Id,
    accountId: Id,
    fleetId: Type.Optional(Id),
    publicJwk: PublicJwk,
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  },
  strict,
)

const Minor = Type.Integer({ minimum: 1, maximum: 100_000_000 })
const MinuteOfDay = Type.Integer({ minimum: 0, maximum: 1440 })

export const FleetBody = Type.Object(
  {
    id: Type.Optional(Id),
    accountId: Id,
    name: Type.String({ minLength: 1, maxLength: 128 }),
    limitCurrency: Type.Optional(CurrencyCode),
    perTransactionLimitMinor: Type.Optional(Minor),
    dailyLimitMinor: Type.Optional(Minor),
    monthlyLimitMinor: Type.Optional(Minor),
    allowedGrades: Type.Optional(Type.Array(GradeSchema, { minItems: 1, maxItems: 9, uniqueItems: true })),
    allowedStationIds: Type.Optional(Type.Array(Id, { maxItems: 1000, uniqueItems: true })),
    allowedOperatorIds: Type.Optional(Type.Array(Id, { maxItems: 100, uniqueItems: true })),
    hours: Type.Optional(Type.Object({ fromMin: MinuteOfDay, toMin: MinuteOfDay, utcOffsetMin: Type.Optional(Type.Integer({ minimum: -840, maximum: 840 })) }, strict)),
    voiceCodeRequired: Type.Optional(Type.Boolean()),
  },
  strict,
)

export const VoiceCodeBody = Type.Object({ voiceCode: Type.Union([Type.String({ minLength: 4, maxLength: 32 }), Type.Null()]) }, strict)

export const PumpServiceBody = Type.Object({ inService: Type.Boolean() }, strict)

export const PriceBody = Type.Object({ pump: Type.Optional(PumpNumber), grade: GradeSchema, unitPriceMilli: UnitPriceMilli }, strict)

export const IdAnswer = Type.Object({ id: Type.String() })
