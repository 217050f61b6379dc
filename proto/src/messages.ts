import { type Static, type TObject, type TSchema, Type } from '@sinclair/typebox'
import { PumpNumber, RequestId, SessionId, StationId, VehicleId } from './ids.ts'
import {
  AmountMinor,
  CurrencyCode,
  UnitPriceMilli,
  VolumeMilli,
  VolumeUnitSchema,
} from './money.ts'
import { REASON_CODES } from './reasons.ts'

/**
 * One schema per MQTT message. Every message carries the protocol version
 * `v`, its `type`, a sender-made `msgId` (receivers drop duplicates by it) and
 * the sender's clock `ts` in epoch milliseconds. No extra properties are
 * accepted anywhere: a field we do not know is an error, not a surprise.
 */
export const PROTOCOL_VERSION = 1
/** Payload size limit for every MQTT message, in bytes. */
export const MAX_PAYLOAD_BYTES = 16 * 1024
export const MAX_TOKEN_LENGTH = 4096

const strict = { additionalProperties: false } as const
const Timestamp = Type.Integer({
  minimum: 0,
  maximum: 8_640_000_000_000_000,
  description: 'epoch ms',
})
const MsgId = Type.String({ pattern: '^[A-Za-z0-9_-]{8,64}$' })
const Token = Type.String({
  minLength: 16,
  maxLength: MAX_TOKEN_LENGTH,
  pattern: '^[A-Za-z0-9_.-]+$',
})

/** Fuel grades, by canonical id. Voice synonyms per language map onto these. */
export const GRADES = [
  'unleaded95',
  'unleaded98',
  'e10',
  'regular',
  'midgrade',
  'premium',
  'diesel',
  'premium_diesel',
  'lpg',
] as const
export type Grade = (typeof GRADES)[number]
export const GradeSchema = Type.Union(GRADES.map((g) => Type.Literal(g)))
export const Grades = Type.Array(GradeSchema, {
  minItems: 1,
  maxItems: GRADES.length,
  uniqueItems: true,
})

export const PUMP_STATES = [
  'idle',
  'authorized',
  'fueling',
  'suspended',
  'completed',
  'offline',
  'fault',
] as const
export type PumpStateName = (typeof PUMP_STATES)[number]
export const PumpStateNameSchema = Type.Union(PUMP_STATES.map((s) => Type.Literal(s)))

export const ReasonSchema = Type.Object(
  {
    code: Type.Union(REASON_CODES.map((c) => Type.Literal(c))),
    number: Type.Integer({ minimum: 100, maximum: 999 }),
    message: Type.String({ maxLength: 500 }),
  },
  strict,
)

function message<T extends string, P extends Record<string, TSchema>>(type: T, props: P) {
  return Type.Object(
    {
      v: Type.Literal(PROTOCOL_VERSION),
      type: Type.Literal(type),
      msgId: MsgId,
      ts: Timestamp,
      ...props,
    },
    strict,
  )
}

// vehicle -> pump ---------------------------------------------------------

/** Present a pump authorization to a pump. `requestId` is made by the car and kept across retries. */
export const AuthorizeMessage = message('authorize', { requestId: RequestId, token: Token })
/** Cancel a session before fuel flows. */
export const CancelMessage = message('cancel', { requestId: RequestId, sessionId: SessionId })

// pump -> vehicle ---------------------------------------------------------

export const PumpAuthorizedMessage = message('pump-authorized', {
  requestId: RequestId,
  sessionId: SessionId,
  stationId: StationId,
  pump: PumpNumber,
  presetAmountMinor: AmountMinor,
  currency: CurrencyCode,
  grades: Grades,
  nozzleTimeoutMs: Type.Integer({ minimum: 1000, maximum: 600_000 }),
})
export const PumpRejectedMessage = message('pump-rejected', {
  requestId: RequestId,
  sessionId: Type.Optional(SessionId),
  reason: ReasonSchema,
})
export const ProgressMessage = message('progress', {
  sessionId: SessionId,
  state: PumpStateNameSchema,
  grade: Type.Optional(GradeSchema),
  unitPriceMilli: Type.Optional(UnitPriceMilli),
  volumeMilli: VolumeMilli,
  amountMinor: AmountMinor,
  currency: CurrencyCode,
})

export const SALE_OUTCOMES = [
  'completed',
  'cancelled',
  'lapsed',
  'emergency-stop',
  'fault',
  'timeout',
] as const
export type SaleOutcome = (typeof SALE_OUTCOMES)[number]
export const SaleOutcomeSchema = Type.Union(SALE_OUTCOMES.map((o) => Type.Literal(o)))

/**
 * What a pump sold, as the station signs it. The signed form (a compact JWS,
 * see tokens.ts) travels to the car and the cloud; these are its claims.
 * A session that ends with no fuel (cancelled, lapsed) is a sale of zero,
 * so that one store-and-forward path settles every session.
 */
export const SaleRecord = Type.Object(
  {
    sessionId: SessionId,
    tokenId: Type.String({ pattern: '^[A-Za-z0-9_-]{8,64}$' }),
    stationId: StationId,
    pump: PumpNumber,
    vehicleId: VehicleId,
    outcome: SaleOutcomeSchema,
    grade: Type.Optional(GradeSchema),
    unitPriceMilli: Type.Optional(UnitPriceMilli),
    volumeMilli: VolumeMilli,
    volumeUnit: VolumeUnitSchema,
    amountMinor: AmountMinor,
    currency: CurrencyCode,
    startedAt: Timestamp,
    endedAt: Timestamp,
    /** Station-wide sale sequence: the order sales are delivered in. */
    seq: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
    totalizerStartMilli: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
    totalizerEndMilli: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
  },
  strict,
)
export type SaleRecord = Static<typeof SaleRecord>

export const CompletedMessage = message('completed', {
  sessionId: SessionId,
  sale: SaleRecord,
  saleJws: Token,
})
export const SessionEndedMessage = message('session-ended', {
  sessionId: SessionId,
  reason: ReasonSchema,
  saleJws: Type.Optional(Token),
})

// station -> cloud (retained) ---------------------------------------------

export const PumpStateMessage = message('pump-state', {
  stationId: StationId,
  pump: PumpNumber,
  state: PumpStateNameSchema,
  sessionId: Type.Optional(SessionId),
  grade: Type.Optional(GradeSchema),
  unitPriceMilli: Type.Optional(UnitPriceMilli),
  volumeMilli: VolumeMilli,
  amountMinor: AmountMinor,
  currency: CurrencyCode,
  reason: Type.Optional(ReasonSchema),
})
export const StationStatusMessage = message('station-status', {
  stationId: StationId,
  online: Type.Boolean(),
  /** Completed sales not yet acknowledged by the cloud. */
  backlog: Type.Integer({ minimum: 0, maximum: 10_000_000 }),
  pumps: Type.Integer({ minimum: 0, maximum: 99 }),
})

// cloud -> station --------------------------------------------------------

const CommandId = Type.String({ pattern: '^[A-Za-z0-9_-]{8,64}$' })
export const StationCommand = Type.Union([
  Type.Object({ op: Type.Literal('emergency-stop'), pump: PumpNumber }, strict),
  Type.Object({ op: Type.Literal('resume'), pump: PumpNumber }, strict),
  Type.Object(
    {
      op: Type.Literal('set-price'),
      pump: Type.Optional(PumpNumber),
      grade: GradeSchema,
      unitPriceMilli: UnitPriceMilli,
    },
    strict,
  ),
  Type.Object({ op: Type.Literal('void-session'), sessionId: SessionId }, strict),
])
export type StationCommand = Static<typeof StationCommand>
export const StationCommandMessage = message('station-command', {
  commandId: CommandId,
  command: StationCommand,
})
export const StationCommandResultMessage = message('station-command-result', {
  commandId: CommandId,
  ok: Type.Boolean(),
  reason: Type.Optional(ReasonSchema),
})

/** Every message schema by its `type`. */
export const MESSAGE_SCHEMAS = {
  authorize: AuthorizeMessage,
  cancel: CancelMessage,
  'pump-authorized': PumpAuthorizedMessage,
  'pump-rejected': PumpRejectedMessage,
  progress: ProgressMessage,
  completed: CompletedMessage,
  'session-ended': SessionEndedMessage,
  'pump-state': PumpStateMessage,
  'station-status': StationStatusMessage,
  'station-command': StationCommandMessage,
  'station-command-result': StationCommandResultMessage,
} as const satisfies Record<string, TObject>

export type MessageType = keyof typeof MESSAGE_SCHEMAS
export type MessageOf<T extends MessageType> = Static<(typeof MESSAGE_SCHEMAS)[T]>
export type Message = { [T in MessageType]: MessageOf<T> }[MessageType]
/** A message as a sender writes it: the envelope fields are filled in by `encode`. */
export type Draft<T extends MessageType> = Omit<MessageOf<T>, 'v' | 'msgId' | 'ts'> &
  Partial<Pick<MessageOf<T>, 'msgId' | 'ts'>>

export type AuthorizeMessage = MessageOf<'authorize'>
export type CancelMessage = MessageOf<'cancel'>
export type PumpAuthorizedMessage = MessageOf<'pump-authorized'>
export type PumpRejectedMessage = MessageOf<'pump-rejected'>
export type ProgressMessage = MessageOf<'progress'>
export type CompletedMessage = MessageOf<'completed'>
export type SessionEndedMessage = MessageOf<'session-ended'>
export type PumpStateMessage = MessageOf<'pump-state'>
export type StationStatusMessage = MessageOf<'station-status'>
export type StationCommandMessage = MessageOf<'station-command'>
export type StationCommandResultMessage = MessageOf<'station-command-result'>
