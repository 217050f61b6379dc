import { type Static, Type } from '@sinclair/typebox'
import { SESSION_STATES, SessionStateSchema } from './api.ts'
import { validate } from './codec.ts'
import { PumpNumber, SessionId, StationId, VehicleId } from './ids.ts'
import { GradeSchema, PumpStateNameSchema, ReasonSchema } from './messages.ts'
import {
  AmountMinor,
  CurrencyCode,
  UnitPriceMilli,
  VolumeMilli,
  VolumeUnitSchema,
} from './money.ts'
import { fail, type Result } from './reasons.ts'

/**
 * The operators' live console protocol: JSON text frames over a websocket at
 * `GET /v1/console/ws` (issue 6). One schema per frame; the server validates
 * every client frame against `ConsoleClientMessage` and answers bad input
 * with an `error` frame carrying a proto reason code.
 *
 * Conversation:
 * 1. client -> `hello {apiKey}` as its FIRST frame, within
 *    CONSOLE_LIMITS.authTimeoutMs. The key travels in the body, never in the
 *    URL (browsers cannot set headers on a websocket; URLs end up in logs).
 * 2. server -> `welcome`, then one `snapshot` of the operator's stations,
 *    pumps, open and recent sessions and active alerts.
 * 3. server -> deltas: `pump`, `station`, `prices`, `session`, `alert`.
 * 4. client -> commands with a client-made `id`; server -> `result {id, ok, reason?}`.
 *    `session-detail {id, sessionId}` -> `session-detail {id, ...}`.
 *
 * Money travels as integer minor units plus a server-formatted text
 * (`amountText`), so a browser never does money arithmetic.
 *
 * @example
 *   ws.send(JSON.stringify({ type: 'hello', v: 1, apiKey }))
 *   ws.send(JSON.stringify({ type: 'emergency-stop', id: 'c1', stationId: 'st1', pump: 2 }))
 *   // <- { type: 'result', id: 'c1', ok: true }
 */
export const CONSOLE_PROTOCOL_VERSION = 1
export const CONSOLE_WS_PATH = '/v1/console/ws'

/** Limits every console server enforces; clients may rely on them. */
export const CONSOLE_LIMITS = {
  /** A client frame above this is answered with PAYLOAD_TOO_LARGE and ignored. */
  maxClientFrameBytes: 4096,
  /** A client frame above this closes the socket (1009) without reading it. */
  hardMaxClientFrameBytes: 64 * 1024,
  authTimeoutMs: 5000,
  /** Client frames per second (token bucket) before RATE_LIMITED answers. */
  clientFramesPerS: 20,
  clientFrameBurst: 40,
} as const

/**
 * Close codes (RFC 6455 private range 4000-4999 for ours). A client
 * reconnects after any of them except 4001 and 4003 (fix the credential first).
 */
export const CONSOLE_CLOSE_CODES = {
  /** No hello in time, or a bad API key. */
  UNAUTHENTICATED: 4001,
  /** The first frame was not a hello. */
  PROTOCOL: 4002,
  /** Authenticated but not an operator. */
  FORBIDDEN: 4003,
  /** The client did not read fast enough: its buffer filled or stalled. */
  TOO_SLOW: 4008,
  /** The server is shutting down or restarting; reconnect. */
  GOING_AWAY: 1001,
  /** A frame above the hard limit. */
  TOO_BIG: 1009,
  /** The database could not be read (live updates stopped, or the key not checked in time); reconnect. */
  TRY_AGAIN_LATER: 1013,
} as const

const strict = { additionalProperties: false } as const
const ClientReqId = Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' })
const Text = (max: number) => Type.String({ maxLength: max })
const IsoTime = Type.String({ maxLength: 40 })

// client -> server ------------------------------------------------------

export const ConsoleHello = Type.Object(
  {
    type: Type.Literal('hello'),
    v: Type.Literal(CONSOLE_PROTOCOL_VERSION),
    apiKey: Type.String({ minLength: 8, maxLength: 256, pattern: '^[\\x21-\\x7e]+$' }),
  },
  strict,
)
export const ConsoleEmergencyStop = Type.Object(
  { type: Type.Literal('emergency-stop'), id: ClientReqId, stationId: StationId, pump: PumpNumber },
  strict,
)
/** Lets a pump sell again after an emergency stop. */
export const ConsoleResumePump = Type.Object(
  { type: Type.Literal('resume-pump'), id: ClientReqId, stationId: StationId, pump: PumpNumber },
  strict,
)
/** Changes a grade's price at one pump, or at every pump of the station selling it. */
export const ConsoleSetPrice = Type.Object(
  {
    type: Type.Literal('set-price'),
    id: ClientReqId,
    stationId: StationId,
    pump: Type.Optional(PumpNumber),
    grade: GradeSchema,
    unitPriceMilli: UnitPriceMilli,
  },
  strict,
)
/** Voids a session whose fuel never flowed (held, or stuck at an authorized pump). */
export const ConsoleVoidSession = Type.Object(
  { type: Type.Literal('void-session'), id: ClientReqId, sessionId: SessionId },
  strict,
)
export const ConsoleSessionDetailRequest = Type.Object(
  { type: Type.Literal('session-detail'), id: ClientReqId, sessionId: SessionId },
  strict,
)
/**
 * Clears an alert that only an operator can clear: a `settlement-failed`
 * alert for a declined late capture (fuel pumped and not paid for) stays
 * until someone has dealt with it. Other alerts clear with their condition.
 */
export const ConsoleAcknowledgeAlert = Type.Object(
  { type: Type.Literal('acknowledge-alert'), id: ClientReqId, alertId: Text(160) },
  strict,
)
export const ConsolePing = Type.Object({ type: Type.Literal('ping'), id: ClientReqId }, strict)

export const CONSOLE_CLIENT_SCHEMAS = {
  hello: ConsoleHello,
  'emergency-stop': ConsoleEmergencyStop,
  'resume-pump': ConsoleResumePump,
  'set-price': ConsoleSetPrice,
  'void-session': ConsoleVoidSession,
  'session-detail': ConsoleSessionDetailRequest,
  'acknowledge-alert': ConsoleAcknowledgeAlert,
  ping: ConsolePing,
} as const
export type ConsoleClientType = keyof typeof CONSOLE_CLIENT_SCHEMAS
export type ConsoleClientMessage = {
  [T in ConsoleClientType]: Static<(typeof CONSOLE_CLIENT_SCHEMAS)[T]>
}[ConsoleClientType]
/** The client frames that change something and are audited. */
export const CONSOLE_COMMAND_TYPES = [
  'emergency-stop',
  'resume-pump',
  'set-price',
  'void-session',
  'acknowledge-alert',
] as const
export type ConsoleCommandType = (typeof CONSOLE_COMMAND_TYPES)[number]
export type ConsoleCommand = Extract<ConsoleClientMessage, { type: ConsoleCommandType }>

// server -> client --------------------------------------------------------

export const ConsoleGradePrice = Type.Object(
  { grade: GradeSchema, unitPriceMilli: UnitPriceMilli, priceText: Text(40) },
  strict,
)
export type ConsoleGradePrice = Static<typeof ConsoleGradePrice>

/** A pump as the console shows it: its last reported state and live numbers. */
export const ConsolePump = Type.Object(
  {
    stationId: StationId,
    pump: PumpNumber,
    inService: Type.Boolean(),
    /** `offline` until the station has reported this pump. */
    state: PumpStateNameSchema,
    sessionId: Type.Optional(SessionId),
    grade: Type.Optional(GradeSchema),
    unitPriceMilli: Type.Optional(UnitPriceMilli),
    volumeMilli: VolumeMilli,
    volumeText: Text(40),
    amountMinor: AmountMinor,
    amountText: Text(40),
    currency: CurrencyCode,
    reason: Type.Optional(ReasonSchema),
    grades: Type.Array(ConsoleGradePrice, { maxItems: 16 }),
    updatedAt: Type.Optional(IsoTime),
  },
  strict,
)
export type ConsolePump = Static<typeof ConsolePump>

export const ConsoleStation = Type.Object(
  {
    id: StationId,
    name: Text(128),
    currency: CurrencyCode,
    volumeUnit: VolumeUnitSchema,
    /** null until the station has ever reported. */
    online: Type.Union([Type.Boolean(), Type.Null()]),
    backlog: Type.Integer({ minimum: 0 }),
    statusAt: Type.Optional(IsoTime),
    pumps: Type.Array(ConsolePump, { maxItems: 99 }),
  },
  strict,
)
export type ConsoleStation = Static<typeof ConsoleStation>

export const ConsoleSession = Type.Object(
  {
    sessionId: SessionId,
    state: SessionStateSchema,
    stationId: StationId,
    pump: PumpNumber,
    vehicleId: VehicleId,
    currency: CurrencyCode,
    holdAmountMinor: AmountMinor,
    holdText: Text(40),
    capturedMinor: AmountMinor,
    capturedText: Text(40),
    releasedMinor: AmountMinor,
    /** Capture or void decided but not yet confirmed by the processor. */
    settling: Type.Boolean(),
    reasonCode: Type.Optional(Text(40)),
    reasonMessage: Type.Optional(Text(500)),
    createdAt: IsoTime,
    updatedAt: IsoTime,
  },
  strict,
)
export type ConsoleSession = Static<typeof ConsoleSession>

export const CONSOLE_ALERT_KINDS = [
  'station-offline',
  'pump-fault',
  'authorization-stuck',
  'sales-backlog',
  'settlement-failed',
] as const
export type ConsoleAlertKind = (typeof CONSOLE_ALERT_KINDS)[number]

export const ConsoleAlert = Type.Object(
  {
    /** Stable per condition (`pump-fault:st1:2`): a raise and its clear share it. */
    id: Text(160),
    kind: Type.Union(CONSOLE_ALERT_KINDS.map((k) => Type.Literal(k))),
    severity: Type.Union([Type.Literal('critical'), Type.Literal('warning')]),
    stationId: StationId,
    pump: Type.Optional(PumpNumber),
    sessionId: Type.Optional(SessionId),
    message: Text(300),
    /** The processor's reason code, for `settlement-failed` alerts of a declined capture. */
    reasonCode: Type.Optional(Text(40)),
    /** The amount not collected, in minor units and server-formatted, for the same. */
    amountMinor: Type.Optional(AmountMinor),
    amountText: Type.Optional(Text(40)),
    since: IsoTime,
    /** false: the condition has cleared (sent once, then the alert is gone). */
    active: Type.Boolean(),
  },
  strict,
)
export type ConsoleAlert = Static<typeof ConsoleAlert>

export const ConsoleLedgerEntry = Type.Object(
  {
    entryId: Type.Integer(),
    kind: Text(40),
    createdAt: IsoTime,
    postings: Type.Array(
      Type.Object(
        { account: Text(160), amountMinor: Type.Integer(), amountText: Text(40) },
        strict,
      ),
      { maxItems: 16 },
    ),
  },
  strict,
)
export type ConsoleLedgerEntry = Static<typeof ConsoleLedgerEntry>

export const ConsoleWelcome = Type.Object(
  {
    type: Type.Literal('welcome'),
    v: Type.Literal(CONSOLE_PROTOCOL_VERSION),
    operatorId: Text(64),
    operatorName: Text(128),
    serverTime: IsoTime,
  },
  strict,
)
export const ConsoleSnapshot = Type.Object(
  {
    type: Type.Literal('snapshot'),
    stations: Type.Array(ConsoleStation),
    sessions: Type.Array(ConsoleSession),
    alerts: Type.Array(ConsoleAlert),
    serverTime: IsoTime,
  },
  strict,
)
export const ConsolePumpUpdate = Type.Object(
  { type: Type.Literal('pump'), pump: ConsolePump },
  strict,
)
export const ConsoleStationUpdate = Type.Object(
  {
    type: Type.Literal('station'),
    stationId: StationId,
    online: Type.Boolean(),
    backlog: Type.Integer({ minimum: 0 }),
    statusAt: IsoTime,
  },
  strict,
)
export const ConsolePricesUpdate = Type.Object(
  {
    type: Type.Literal('prices'),
    stationId: StationId,
    pumps: Type.Array(
      Type.Object(
        { pump: PumpNumber, grades: Type.Array(ConsoleGradePrice, { maxItems: 16 }) },
        strict,
      ),
    ),
  },
  strict,
)
export const ConsoleSessionUpdate = Type.Object(
  { type: Type.Literal('session'), event: Text(64), session: ConsoleSession },
  strict,
)
export const ConsoleAlertUpdate = Type.Object(
  { type: Type.Literal('alert'), alert: ConsoleAlert },
  strict,
)
export const ConsoleResult = Type.Object(
  {
    type: Type.Literal('result'),
    id: ClientReqId,
    ok: Type.Boolean(),
    reason: Type.Optional(ReasonSchema),
    /** The audit row's id, for commands. */
    auditId: Type.Optional(Type.Integer()),
  },
  strict,
)
export const ConsoleSessionDetail = Type.Object(
  {
    type: Type.Literal('session-detail'),
    id: ClientReqId,
    session: ConsoleSession,
    volumeUnit: VolumeUnitSchema,
    sale: Type.Optional(
      Type.Object(
        {
          outcome: Text(40),
          grade: Type.Optional(GradeSchema),
          volumeMilli: VolumeMilli,
          volumeText: Text(40),
          amountMinor: AmountMinor,
          amountText: Text(40),
          /** The unit price the station sold at. */
          priceText: Type.Optional(Text(40)),
          /** The price recorded with the hold, when the station sold at another (the price changed meanwhile). */
          authorizedPriceText: Type.Optional(Text(40)),
        },
        strict,
      ),
    ),
    ledger: Type.Array(ConsoleLedgerEntry, { maxItems: 32 }),
  },
  strict,
)
export const ConsoleError = Type.Object(
  { type: Type.Literal('error'), id: Type.Optional(ClientReqId), reason: ReasonSchema },
  strict,
)
export const ConsolePong = Type.Object(
  { type: Type.Literal('pong'), id: ClientReqId, serverTime: IsoTime },
  strict,
)

export const CONSOLE_SERVER_SCHEMAS = {
  welcome: ConsoleWelcome,
  snapshot: ConsoleSnapshot,
  pump: ConsolePumpUpdate,
  station: ConsoleStationUpdate,
  prices: ConsolePricesUpdate,
  session: ConsoleSessionUpdate,
  alert: ConsoleAlertUpdate,
  result: ConsoleResult,
  'session-detail': ConsoleSessionDetail,
  error: ConsoleError,
  pong: ConsolePong,
} as const
export type ConsoleServerType = keyof typeof CONSOLE_SERVER_SCHEMAS
export type ConsoleServerMessage = {
  [T in ConsoleServerType]: Static<(typeof CONSOLE_SERVER_SCHEMAS)[T]>
}[ConsoleServerType]

/** Session states in which a hold is still open (not settled). */
export const CONSOLE_OPEN_SESSION_STATES = SESSION_STATES.filter((s) =>
  ['requested', 'held', 'pump_authorized', 'fueling', 'completed'].includes(s),
)

/**
 * Decodes one client frame: size, UTF-8 JSON object, known `type`, schema.
 * Never throws, never coerces. The reason names what was wrong, and `id`
 * is returned when the frame carried a usable one, so the error can be
 * correlated with the request.
 *
 * @example decodeConsoleClientMessage('{"type":"ping","id":"p1"}') // { ok: true, value: { type: 'ping', id: 'p1' } }
 */
export function decodeConsoleClientMessage(
  frame: string | Uint8Array,
): Result<ConsoleClientMessage> & { id?: string } {
  const size = typeof frame === 'string' ? Buffer.byteLength(frame) : frame.byteLength
  if (size > CONSOLE_LIMITS.maxClientFrameBytes)
    return fail('PAYLOAD_TOO_LARGE', `${size} > ${CONSOLE_LIMITS.maxClientFrameBytes} bytes`)
  let json: unknown
  try {
    const text =
      typeof frame === 'string' ? frame : new TextDecoder('utf-8', { fatal: true }).decode(frame)
    json = JSON.parse(text)
  } catch {
    return fail('BAD_JSON')
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    return fail('SCHEMA_INVALID', 'not an object')
  const { type, id } = json as { type?: unknown; id?: unknown }
  const idOut = typeof id === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(id) ? { id } : {}
  if (typeof type !== 'string' || !Object.hasOwn(CONSOLE_CLIENT_SCHEMAS, type))
    return { ...fail('SCHEMA_INVALID', 'unknown type'), ...idOut }
  const r = validate(CONSOLE_CLIENT_SCHEMAS[type as ConsoleClientType], json)
  if (!r.ok) return { ...r, ...idOut }
  return { ok: true, value: r.value as ConsoleClientMessage, ...idOut }
}
