/**
 * Generates the tables of proto/README.md from the schemas themselves, so the
 * specification cannot drift from the code. Regenerate after changing a
 * schema or a reason code:
 *
 *   cd /work/main && npx tsx proto/scripts/gen-spec.ts
 *
 * It rewrites only the text between `<!-- BEGIN GENERATED: name -->` and
 * `<!-- END GENERATED: name -->` markers; proto/test/spec.test.ts fails when
 * the README is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Kind, type TSchema } from '@sinclair/typebox'
import {
  BrokerCredentialClaims,
  ClientAssertionClaims,
  CURRENCY_EXPONENTS,
  CurrencyCode,
  GRADES,
  GradeSchema,
  Grades,
  MESSAGE_SCHEMAS,
  type MessageType,
  PUMP_STATES,
  PumpAuthorizationClaims,
  PumpStateNameSchema,
  REASON_CODES,
  REASONS,
  ReasonSchema,
  SALE_OUTCOMES,
  SaleOutcomeSchema,
  SaleRecord,
  StationCommand,
  TOPIC_MESSAGES,
  TOPIC_RULES,
  type TopicKind,
  VolumeUnitSchema,
} from '../src/index.ts'

/** What each field means. Keyed by field name; `type.field` overrides for one message. */
const FIELD_DOCS: Record<string, string> = {
  v: 'protocol version; a receiver refuses any other (UNSUPPORTED_VERSION)',
  type: 'message type; must be one the topic carries (TOPIC_MISMATCH)',
  msgId: 'sender-made id; receivers drop a second delivery with the same id (QoS 1 may duplicate)',
  ts: "sender's clock when sent, epoch ms; informational, never used for expiry",
  requestId: 'made by the car before the first send and kept across retries; replies echo it',
  token: 'the pump authorization (compact JWS) from POST /v1/fuel-authorizations',
  sessionId: 'payment session id, made by the cloud (the pump authorization names it)',
  stationId: 'station id; must equal the station level of the topic',
  pump: 'pump number; must equal the pump level of the topic',
  vehicleId: 'vehicle id; must equal the vehicle level of the topic',
  presetAmountMinor: 'amount the pump is preset to: the hold, in minor units',
  currency: "station's ISO 4217 currency",
  grades: 'grades the driver may choose (the intersection of authorization and pump)',
  nozzleTimeoutMs: 'the authorization lapses (hold voided) if the nozzle is not lifted within this',
  reason: 'why, as a reason code (see Reason codes)',
  state: 'pump state',
  grade: 'grade being (or last) dispensed; absent until the nozzle is lifted',
  unitPriceMilli: 'unit price in thousandths of the major unit per volume unit (1.799 -> 1799)',
  volumeMilli: 'volume dispensed so far, in milli-units of the station volume unit',
  amountMinor: 'amount for that volume by the one rounding rule, minor units',
  sale: 'the sale record in clear; identical to the claims of `saleJws`',
  saleJws:
    "the sale record signed by the station (compact JWS, typ fuelpay-sale+jwt); the car's proof",
  'session-ended.saleJws':
    'the signed zero-or-partial sale, when the session ended after authorization',
  'pump-state.sessionId': 'session in progress on the pump, if any',
  'pump-state.reason': 'why the pump is in fault/offline, if it is',
  'pump-rejected.sessionId': 'session named by the refused token, when it could be read',
  'pump-rejected.requestId': 'the `requestId` of the refused authorize or cancel',
  online: 'false only in the last will the broker publishes when the station drops',
  backlog: 'completed sales journalled but not yet acknowledged by the cloud',
  pumps: 'number of pumps the controller drives',
  commandId: 'cloud-made id; the result echoes it; a repeated id is executed once',
  command: 'what to do (see StationCommand)',
  ok: 'true when the command was carried out',
  'station-command-result.reason': 'why the command was refused, when ok is false',
  // SaleRecord
  tokenId: '`jti` of the pump authorization this sale consumed',
  outcome: 'how the session ended (see Sale outcomes)',
  volumeUnit: "station's volume unit: `L` (milli-litres) or `gal` (milli-gallons)",
  startedAt: 'authorization accepted, epoch ms (station clock)',
  endedAt: 'session ended, epoch ms; >= startedAt',
  seq: 'station-wide sale sequence from 1, no gaps; the cloud accepts sales in this order',
  totalizerStartMilli: 'pump totalizer before the sale',
  totalizerEndMilli: 'pump totalizer after; end - start = volumeMilli',
  // claims
  iss: 'issuer',
  jti: 'unique token id (nonce); what single use is keyed on',
  maxAmountMinor: 'the hold: the most this session may cost',
  maxVolumeMilli:
    'the most volume the pump may preset, whatever the grade (the cloud derives it from the hold and prices)',
  'PumpAuthorizationClaims.currency': 'currency of the hold; must be the station currency',
  iat: 'issued at, epoch seconds',
  exp: 'expires at, epoch seconds; exp > iat',
  sub: 'MQTT client id and username: `{role}-{id}`',
  role: 'who connects',
  id: 'vehicle, station or cloud-node id',
  aud: 'audience: always the cloud',
  'ClientAssertionClaims.iss':
    'the caller: `vehicle:{id}` or `station:{id}`; its registered key must sign',
  'BrokerCredentialClaims.iss': 'always the cloud',
  'PumpAuthorizationClaims.iss': 'always the cloud',
  'PumpAuthorizationClaims.grades': 'grades the account and fleet rules allow',
  'PumpAuthorizationClaims.stationId':
    'station the hold is for; the station refuses others (WRONG_STATION)',
  'PumpAuthorizationClaims.pump': 'pump the hold is for (WRONG_PUMP)',
  'PumpAuthorizationClaims.vehicleId':
    'vehicle the hold is for; must be the MQTT sender (WRONG_VEHICLE)',
  'SaleRecord.stationId': 'station that sold (its key signs the record)',
  'SaleRecord.pump': 'pump that sold',
  'SaleRecord.vehicleId': 'vehicle the pump authorization was issued to',
  'SaleRecord.grade': 'grade dispensed; absent only when nothing was dispensed',
  'SaleRecord.unitPriceMilli': 'unit price of that grade during the sale; absent only with grade',
  'SaleRecord.volumeMilli': 'volume sold, milli-units of `volumeUnit`; 0 for cancelled and lapsed',
  'SaleRecord.amountMinor': 'amountForVolume(volumeMilli, unitPriceMilli, currency), exactly',
  'SaleRecord.sessionId': 'payment session the pump authorization named',
  'StationCommand.op': 'the operation',
  'StationCommand.pump': 'pump to act on; for set-price, absent means every pump selling the grade',
  'StationCommand.grade': 'grade whose price changes',
  'StationCommand.unitPriceMilli': 'new unit price; applies to sessions authorized after it',
  'StationCommand.sessionId':
    'session to void: ends it if fuel has not flowed (the sale record still follows)',
  'progress.state': 'pump state of this session',
  'progress.grade': 'grade being dispensed; absent until the nozzle is lifted',
  'pump-state.state': 'pump state',
  'pump-state.grade': 'grade being (or last) dispensed',
  'pump-state.volumeMilli': 'volume of the current or last session',
  'pump-state.amountMinor': 'amount of the current or last session',
  'session-ended.reason':
    'why it ended: CANCELLED, NOZZLE_TIMEOUT, EMERGENCY_STOP, PUMP_FAULT, NO_FLOW_TIMEOUT, MAX_DURATION, ...',
  // Reason
  code: 'stable reason code name (section 10)',
  number: 'its stable number',
  message: 'human-readable detail; never parsed',
}

/**
 * Shared schemas are shown by name. Matched by their JSON, because
 * `Type.Optional` copies the schema it wraps.
 */
const NAMED_LIST: [TSchema, string][] = [
  [ReasonSchema.properties.code, 'reason code ([Reason codes](#10-reason-codes))'],
  [ReasonSchema, '[Reason](#reason)'],
  [SaleRecord, '[SaleRecord](#salerecord)'],
  [StationCommand, '[StationCommand](#stationcommand)'],
  [CurrencyCode, 'currency code ([Currencies](#currencies))'],
  [GradeSchema, 'grade ([Grades](#grades))'],
  [Grades, '1..9 distinct grades ([Grades](#grades))'],
  [PumpStateNameSchema, 'pump state ([Pump states](#pump-states))'],
  [SaleOutcomeSchema, 'outcome ([Sale outcomes](#sale-outcomes))'],
  [VolumeUnitSchema, '`"L"` or `"gal"`'],
]
const NAMED = new Map(NAMED_LIST.map(([schema, name]) => [JSON.stringify(schema), name]))

const n = (x: number) =>
  Number.isSafeInteger(x) && Math.abs(x) >= 10_000
    ? x.toLocaleString('en-US').replaceAll(',', '_')
    : String(x)

/** A one-line type with its limits, e.g. `integer 1..99` or `string /^..$/, <= 64`. */
export function describe(schema: TSchema): string {
  const named = NAMED.get(JSON.stringify(schema))
  if (named) return named
  switch (schema[Kind]) {
    case 'Literal':
      return `\`${JSON.stringify(schema.const)}\``
    case 'Integer':
    case 'Number': {
      const kind = schema[Kind] === 'Integer' ? 'integer' : 'number'
      const lo = schema.minimum
      const hi = schema.maximum
      return lo !== undefined || hi !== undefined
        ? `${kind} ${n(lo ?? -Infinity)}..${n(hi ?? Infinity)}`
        : kind
    }
    case 'String': {
      const parts = ['string']
      if (schema.pattern) parts.push(`\`${schema.pattern}\``)
      if (schema.minLength !== undefined)
        parts.push(`length ${schema.minLength}..${schema.maxLength ?? 'any'}`)
      else if (schema.maxLength !== undefined) parts.push(`length <= ${schema.maxLength}`)
      if (schema.format) parts.push(schema.format)
      return parts.join(', ')
    }
    case 'Boolean':
      return 'boolean'
    case 'Array':
      return `array of ${describe(schema.items)}, ${schema.minItems ?? 0}..${schema.maxItems ?? '∞'} items${schema.uniqueItems ? ', distinct' : ''}`
    case 'Union': {
      const anyOf = schema.anyOf as TSchema[]
      if (anyOf.every((s) => s[Kind] === 'Literal'))
        return `one of ${anyOf.map(describe).join(', ')}`
      return anyOf.map(describe).join(' or ')
    }
    case 'Object':
      return 'object'
    default:
      return String(schema[Kind])
  }
}

const esc = (s: string) => s.replaceAll('|', '\\|')

/** A field table for an object schema. */
export function fieldTable(name: string, schema: TSchema): string {
  const required = new Set<string>((schema.required as string[] | undefined) ?? [])
  const rows = Object.entries(schema.properties as Record<string, TSchema>).map(([field, s]) => {
    const doc = FIELD_DOCS[`${name}.${field}`] ?? FIELD_DOCS[field] ?? s.description ?? ''
    return `| \`${field}\` | ${esc(describe(s))} | ${required.has(field) ? 'yes' : 'no'} | ${esc(doc)} |`
  })
  return ['| field | type and limits | required | meaning |', '|---|---|---|---|', ...rows].join(
    '\n',
  )
}

const TOPIC_TEMPLATE: Record<TopicKind, string> = {
  'pump-request': 'fuelpay/v1/st/{station}/pump/{n}/req/{vehicle}',
  'pump-reply': 'fuelpay/v1/st/{station}/pump/{n}/res/{vehicle}',
  'pump-state': 'fuelpay/v1/st/{station}/pump/{n}/state',
  'station-status': 'fuelpay/v1/st/{station}/status',
  'station-command': 'fuelpay/v1/st/{station}/cmd',
  'station-command-result': 'fuelpay/v1/st/{station}/cmd-res',
}

export function generateSections(): Record<string, string> {
  const kindOf = (type: MessageType) =>
    (Object.keys(TOPIC_MESSAGES) as TopicKind[]).find((k) =>
      TOPIC_MESSAGES[k].includes(type),
    ) as TopicKind

  const topicTable = [
    '| topic kind | topic | publisher | QoS | retained | message types |',
    '|---|---|---|---|---|---|',
    ...(Object.keys(TOPIC_RULES) as TopicKind[]).map((k) => {
      const r = TOPIC_RULES[k]
      const types = TOPIC_MESSAGES[k].map((t) => `[${t}](#${t})`).join(', ')
      return `| ${k} | \`${TOPIC_TEMPLATE[k]}\` | ${r.publisher} | ${r.qos} | ${r.retain ? 'yes' : 'no'} | ${types} |`
    }),
  ].join('\n')

  const messages = (Object.keys(MESSAGE_SCHEMAS) as MessageType[])
    .map((type) => {
      const k = kindOf(type)
      return [
        `#### ${type}`,
        '',
        `On \`${TOPIC_TEMPLATE[k]}\` (${k}), from ${TOPIC_RULES[k].publisher}.`,
        '',
        fieldTable(type, MESSAGE_SCHEMAS[type]),
      ].join('\n')
    })
    .join('\n\n')

  const commands = (StationCommand.anyOf as TSchema[])
    .map((s) => {
      const op = (s.properties as Record<string, TSchema>).op?.const as string
      return `\`op: "${op}"\`\n\n${fieldTable('StationCommand', s)}`
    })
    .join('\n\n')

  const types = [
    '#### SaleRecord',
    '',
    fieldTable('SaleRecord', SaleRecord),
    '',
    '#### Reason',
    '',
    fieldTable('Reason', ReasonSchema),
    '',
    '#### StationCommand',
    '',
    'One of:',
    '',
    commands,
  ].join('\n')

  const claims = [
    '#### Pump authorization claims (`typ: fuelpay-pump-auth+jwt`)',
    '',
    fieldTable('PumpAuthorizationClaims', PumpAuthorizationClaims),
    '',
    '#### Broker credential claims (`typ: fuelpay-mqtt+jwt`)',
    '',
    fieldTable('BrokerCredentialClaims', BrokerCredentialClaims),
    '',
    '#### Client assertion claims (`typ: fuelpay-client+jwt`)',
    '',
    fieldTable('ClientAssertionClaims', ClientAssertionClaims),
  ].join('\n')

  const enums = [
    '#### Grades',
    '',
    GRADES.map((g) => `\`${g}\``).join(', '),
    '',
    '#### Pump states',
    '',
    PUMP_STATES.map((g) => `\`${g}\``).join(', '),
    '',
    '#### Sale outcomes',
    '',
    SALE_OUTCOMES.map((g) => `\`${g}\``).join(', '),
    '',
    '#### Currencies',
    '',
    '| exponent | currencies |',
    '|---|---|',
    ...[0, 2, 3].map(
      (e) =>
        `| ${e} | ${Object.entries(CURRENCY_EXPONENTS)
          .filter(([, x]) => x === e)
          .map(([c]) => c)
          .join(', ')} |`,
    ),
  ].join('\n')

  const reasons = [
    '| number | code | HTTP | meaning |',
    '|---|---|---|---|',
    ...REASON_CODES.map((c) => {
      const r = REASONS[c]
      return `| ${r.number} | \`${c}\` | ${r.httpStatus} | ${esc(r.message)} |`
    }),
  ].join('\n')

  return { topics: topicTable, messages, types, claims, enums, reasons }
}

/** Replaces each generated section of `text`; throws if a marker is missing. */
export function fillReadme(text: string, sections = generateSections()): string {
  let out = text
  for (const [name, body] of Object.entries(sections)) {
    const begin = `<!-- BEGIN GENERATED: ${name} -->`
    const end = `<!-- END GENERATED: ${name} -->`
    const i = out.indexOf(begin)
    const j = out.indexOf(end)
    if (i < 0 || j < i) throw new Error(`README has no ${name} section markers`)
    out = `${out.slice(0, i + begin.length)}\n${body}\n${out.slice(j)}`
  }
  return out
}

export const README_PATH = fileURLToPath(new URL('../README.md', import.meta.url))

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(README_PATH, fillReadme(readFileSync(README_PATH, 'utf8')))
  console.log(`wrote ${README_PATH}`)
}
