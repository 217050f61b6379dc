import { ID_RE, isPumpNumber } from './ids.ts'

/**
 * The topic tree. Everything lives under one versioned root so that a v2 can
 * run beside v1 on the same broker. Only this file knows a topic string.
 *
 * | topic                                         | publisher | subscribers     | QoS | retained |
 * |-----------------------------------------------|-----------|-----------------|-----|----------|
 * | fuelpay/v1/st/{station}/pump/{n}/req/{vehicle}| vehicle   | station         | 1   | no       |
 * | fuelpay/v1/st/{station}/pump/{n}/res/{vehicle}| station   | that vehicle    | 1   | no       |
 * | fuelpay/v1/st/{station}/pump/{n}/state        | station   | cloud           | 1   | yes      |
 * | fuelpay/v1/st/{station}/status                | station   | cloud           | 1   | yes, will|
 * | fuelpay/v1/st/{station}/cmd                   | cloud     | station         | 1   | no       |
 * | fuelpay/v1/st/{station}/cmd-res               | station   | cloud           | 1   | no       |
 *
 * The vehicle id is the last level of both request and reply topics, so the
 * broker's ACL alone proves who sent a request ([design: vehicle = the
 * authenticated MQTT client]) and who may read a reply.
 */
export const ROOT = 'fuelpay/v1'

export type Topic =
  | { kind: 'pump-request'; stationId: string; pump: number; vehicleId: string }
  | { kind: 'pump-reply'; stationId: string; pump: number; vehicleId: string }
  | { kind: 'pump-state'; stationId: string; pump: number }
  | { kind: 'station-status'; stationId: string }
  | { kind: 'station-command'; stationId: string }
  | { kind: 'station-command-result'; stationId: string }

export type TopicKind = Topic['kind']

export interface TopicRule {
  publisher: 'vehicle' | 'station' | 'cloud'
  qos: 0 | 1
  retain: boolean
}

/** Who publishes each kind, at which QoS, and whether it is retained. */
export const TOPIC_RULES: Record<TopicKind, TopicRule> = {
  'pump-request': { publisher: 'vehicle', qos: 1, retain: false },
  'pump-reply': { publisher: 'station', qos: 1, retain: false },
  'pump-state': { publisher: 'station', qos: 1, retain: true },
  'station-status': { publisher: 'station', qos: 1, retain: true },
  'station-command': { publisher: 'cloud', qos: 1, retain: false },
  'station-command-result': { publisher: 'station', qos: 1, retain: false },
}

export const MAX_TOPIC_LENGTH = 256

function checkId(name: string, id: string): void {
  if (!ID_RE.test(id)) throw new TypeError(`invalid ${name}: ${JSON.stringify(id).slice(0, 80)}`)
}
function checkPump(pump: number): void {
  if (!isPumpNumber(pump)) throw new TypeError(`invalid pump number: ${pump}`)
}

export const topics = {
  pumpRequest(stationId: string, pump: number, vehicleId: string): string {
    checkId('stationId', stationId)
    checkPump(pump)
    checkId('vehicleId', vehicleId)
    return `${ROOT}/st/${stationId}/pump/${pump}/req/${vehicleId}`
  },
  pumpReply(stationId: string, pump: number, vehicleId: string): string {
    checkId('stationId', stationId)
    checkPump(pump)
    checkId('vehicleId', vehicleId)
    return `${ROOT}/st/${stationId}/pump/${pump}/res/${vehicleId}`
  },
  pumpState(stationId: string, pump: number): string {
    checkId('stationId', stationId)
    checkPump(pump)
    return `${ROOT}/st/${stationId}/pump/${pump}/state`
  },
  stationStatus(stationId: string): string {
    checkId('stationId', stationId)
    return `${ROOT}/st/${stationId}/status`
  },
  stationCommand(stationId: string): string {
    checkId('stationId', stationId)
    return `${ROOT}/st/${stationId}/cmd`
  },
  stationCommandResult(stationId: string): string {
    checkId('stationId', stationId)
    return `${ROOT}/st/${stationId}/cmd-res`
  },
  /** What a station controller subscribes to: requests to all its pumps, and its commands. */
  stationSubscriptions(stationId: string): string[] {
    checkId('stationId', stationId)
    return [`${ROOT}/st/${stationId}/pump/+/req/+`, `${ROOT}/st/${stationId}/cmd`]
  },
  /** What a vehicle subscribes to: replies from any pump, addressed to it. */
  vehicleInbox(vehicleId: string): string {
    checkId('vehicleId', vehicleId)
    return `${ROOT}/st/+/pump/+/res/${vehicleId}`
  },
  /** What the cloud subscribes to for the console and station health. */
  cloudSubscriptions(): string[] {
    return [`${ROOT}/st/+/pump/+/state`, `${ROOT}/st/+/status`, `${ROOT}/st/+/cmd-res`]
  },
}

/** Parses a concrete topic name (no wildcards); `undefined` if it is not ours. */
export function parseTopic(topic: string): Topic | undefined {
  if (typeof topic !== 'string' || topic.length > MAX_TOPIC_LENGTH) return undefined
  const parts = topic.split('/')
  if (parts[0] !== 'fuelpay' || parts[1] !== 'v1' || parts[2] !== 'st') return undefined
  const stationId = parts[3]
  if (stationId === undefined || !ID_RE.test(stationId)) return undefined
  if (parts.length === 5) {
    if (parts[4] === 'status') return { kind: 'station-status', stationId }
    if (parts[4] === 'cmd') return { kind: 'station-command', stationId }
    if (parts[4] === 'cmd-res') return { kind: 'station-command-result', stationId }
    return undefined
  }
  if (parts[4] !== 'pump') return undefined
  const pumpText = parts[5] ?? ''
  // Canonical decimal only: "04" or "4.0" would alias pump 4 under another name.
  if (!/^[1-9][0-9]?$/.test(pumpText)) return undefined
  const pump = Number(pumpText)
  if (parts.length === 7 && parts[6] === 'state') return { kind: 'pump-state', stationId, pump }
  if (parts.length === 8 && (parts[6] === 'req' || parts[6] === 'res')) {
    const vehicleId = parts[7]
    if (vehicleId === undefined || !ID_RE.test(vehicleId)) return undefined
    return { kind: parts[6] === 'req' ? 'pump-request' : 'pump-reply', stationId, pump, vehicleId }
  }
  return undefined
}

/** Builds the topic string for a parsed topic (inverse of `parseTopic`). */
export function formatTopic(t: Topic): string {
  switch (t.kind) {
    case 'pump-request':
      return topics.pumpRequest(t.stationId, t.pump, t.vehicleId)
    case 'pump-reply':
      return topics.pumpReply(t.stationId, t.pump, t.vehicleId)
    case 'pump-state':
      return topics.pumpState(t.stationId, t.pump)
    case 'station-status':
      return topics.stationStatus(t.stationId)
    case 'station-command':
      return topics.stationCommand(t.stationId)
    case 'station-command-result':
      return topics.stationCommandResult(t.stationId)
  }
}
