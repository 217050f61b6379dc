import {
  type Message,
  type MessageType,
  type SaleRecord,
  type Topic,
  formatTopic,
} from '../src/index.ts'

/**
 * One valid message per type, with the topic it travels on. Tests mutate
 * copies of these; every mutation must be caught by `decode`.
 */
export const STATION = 'st-berlin-1'
export const PUMP = 2
export const VEHICLE = 'car7'
export const SESSION = 'sess_0001'
export const TS = 1_750_000_000_000

export const sale: SaleRecord = {
  sessionId: SESSION,
  tokenId: 'jti_abcdefgh',
  stationId: STATION,
  pump: PUMP,
  vehicleId: VEHICLE,
  outcome: 'completed',
  grade: 'diesel',
  unitPriceMilli: 1799,
  volumeMilli: 40_000,
  volumeUnit: 'L',
  amountMinor: 7196,
  currency: 'EUR',
  startedAt: TS,
  endedAt: TS + 180_000,
  seq: 1,
  totalizerStartMilli: 1_000_000,
  totalizerEndMilli: 1_040_000,
}

const env = (type: MessageType) => ({ v: 1, type, msgId: 'msg_00000001', ts: TS })
const token = 'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJl'
const rejectReason = { code: 'PUMP_BUSY', number: 300, message: 'pump is not idle' }

const req: Topic = { kind: 'pump-request', stationId: STATION, pump: PUMP, vehicleId: VEHICLE }
const res: Topic = { kind: 'pump-reply', stationId: STATION, pump: PUMP, vehicleId: VEHICLE }
const state: Topic = { kind: 'pump-state', stationId: STATION, pump: PUMP }
const status: Topic = { kind: 'station-status', stationId: STATION }
const cmd: Topic = { kind: 'station-command', stationId: STATION }
const cmdRes: Topic = { kind: 'station-command-result', stationId: STATION }

export interface Sample {
  topic: string
  message: Record<string, unknown>
}

export const GOOD: Record<MessageType, Sample> = {
  authorize: {
    topic: formatTopic(req),
    message: { ...env('authorize'), requestId: 'req-1', token },
  },
  cancel: {
    topic: formatTopic(req),
    message: { ...env('cancel'), requestId: 'req-2', sessionId: SESSION },
  },
  'pump-authorized': {
    topic: formatTopic(res),
    message: {
      ...env('pump-authorized'),
      requestId: 'req-1',
      sessionId: SESSION,
      stationId: STATION,
      pump: PUMP,
      presetAmountMinor: 10_000,
      currency: 'EUR',
      grades: ['diesel', 'unleaded95'],
      nozzleTimeoutMs: 60_000,
    },
  },
  'pump-rejected': {
    topic: formatTopic(res),
    message: { ...env('pump-rejected'), requestId: 'req-1', reason: rejectReason },
  },
  progress: {
    topic: formatTopic(res),
    message: {
      ...env('progress'),
      sessionId: SESSION,
      state: 'fueling',
      grade: 'diesel',
      unitPriceMilli: 1799,
      volumeMilli: 1234,
      amountMinor: 222,
      currency: 'EUR',
    },
  },
  completed: {
    topic: formatTopic(res),
    message: { ...env('completed'), sessionId: SESSION, sale, saleJws: token },
  },
  'session-ended': {
    topic: formatTopic(res),
    message: {
      ...env('session-ended'),
      sessionId: SESSION,
      reason: { code: 'NOZZLE_TIMEOUT', number: 303, message: 'nozzle was not lifted in time' },
      saleJws: token,
    },
  },
  'pump-state': {
    topic: formatTopic(state),
    message: {
      ...env('pump-state'),
      stationId: STATION,
      pump: PUMP,
      state: 'idle',
      volumeMilli: 0,
      amountMinor: 0,
      currency: 'EUR',
    },
  },
  'station-status': {
    topic: formatTopic(status),
    message: { ...env('station-status'), stationId: STATION, online: true, backlog: 0, pumps: 4 },
  },
  'station-command': {
    topic: formatTopic(cmd),
    message: {
      ...env('station-command'),
      commandId: 'cmd_00000001',
      command: { op: 'set-price', grade: 'diesel', unitPriceMilli: 1829 },
    },
  },
  'station-command-result': {
    topic: formatTopic(cmdRes),
    message: { ...env('station-command-result'), commandId: 'cmd_00000001', ok: true },
  },
}

/** A deep copy, so that a test's mutation never leaks into another. */
export function copy<T>(value: T): T {
  return structuredClone(value)
}

export function asMessage(sample: Sample): Message {
  return sample.message as unknown as Message
}
