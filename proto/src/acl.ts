import { ID_RE } from './ids.ts'
import { parseTopic, ROOT, TOPIC_RULES } from './topics.ts'

/**
 * Who is on the other end of an MQTT connection, as the broker learned it
 * from a verified credential (see tokens.ts, broker credentials).
 */
export type Identity =
  | { role: 'vehicle'; id: string }
  | { role: 'station'; id: string }
  | { role: 'cloud'; id: string }

export type AclAction =
  | { action: 'publish'; topic: string; retain?: boolean }
  | { action: 'subscribe'; filter: string }

/** The MQTT client id a credential binds to: `{role}-{id}`. */
export function clientIdFor(identity: Identity): string {
  return `${identity.role}-${identity.id}`
}

/**
 * The topic ACL, as a pure function. A broker (aedes here, or Mosquitto's
 * ACL file generated from the same rules) calls it for every publish,
 * subscribe, retained message and last will, and refuses what it denies.
 *
 * - A vehicle publishes only requests whose last level is its own id, and
 *   subscribes only to replies whose last level is its own id.
 * - A station publishes only under its own station, and reads only its own
 *   requests, commands and retained state.
 * - The cloud reads everything under the root and publishes only commands.
 * - Nobody reaches `$SYS` or anything outside the root ([MQTT-4.7.2-1]).
 *
 * @example allowed({ role: 'vehicle', id: 'car7' }, { action: 'publish', topic: 'fuelpay/v1/st/s1/pump/2/req/car7' }) // true
 */
export function allowed(identity: Identity, request: AclAction): boolean {
  if (!ID_RE.test(identity.id)) return false
  return request.action === 'publish'
    ? canPublish(identity, request.topic, request.retain ?? false)
    : canSubscribe(identity, request.filter)
}

function canPublish(identity: Identity, topicName: string, retain: boolean): boolean {
  const topic = parseTopic(topicName)
  if (!topic) return false
  const rule = TOPIC_RULES[topic.kind]
  if (rule.publisher !== identity.role) return false
  if (retain && !rule.retain) return false
  switch (identity.role) {
    case 'vehicle':
      return topic.kind === 'pump-request' && topic.vehicleId === identity.id
    case 'station':
      return topic.stationId === identity.id
    case 'cloud':
      return topic.kind === 'station-command'
  }
}

const PLUS = Symbol('plus')
type Level = string | typeof PLUS

function parseFilter(filter: string): Level[] | undefined {
  if (typeof filter !== 'string' || filter.length === 0 || filter.length > 256) return undefined
  const levels = filter.split('/')
  const out: Level[] = []
  for (const level of levels) {
    if (level === '+') out.push(PLUS)
    else if (level.includes('+') || level.includes('#') || level.includes('\u0000'))
      return undefined
    else out.push(level)
  }
  return out
}

/** Matches a subscription filter against a template: exact text, own id, `+` where the template allows it. */
function matches(levels: Level[], template: (string | 'ID|+' | 'PUMP|+')[]): boolean {
  if (levels.length !== template.length) return false
  return template.every((t, i) => {
    const l = levels[i]
    if (t === 'ID|+') return l === PLUS || (typeof l === 'string' && ID_RE.test(l))
    if (t === 'PUMP|+') return l === PLUS || (typeof l === 'string' && /^[1-9][0-9]?$/.test(l))
    return l === t
  })
}

function canSubscribe(identity: Identity, filter: string): boolean {
  const [r0, r1] = ROOT.split('/') as [string, string]
  if (identity.role === 'cloud') {
    // The cloud may use `#` below the root, and nothing above it.
    if (filter === `${ROOT}/#` || filter === `${ROOT}/st/#`) return true
    const levels = parseFilter(filter)
    return (
      levels !== undefined && levels[0] === r0 && levels[1] === r1 && parseTopicFilterShape(levels)
    )
  }
  const levels = parseFilter(filter)
  if (!levels) return false
  const id = identity.id
  if (identity.role === 'vehicle') {
    return matches(levels, [r0, r1, 'st', 'ID|+', 'pump', 'PUMP|+', 'res', id])
  }
  // A role this table does not know (a bad credential decoded by hand) gets nothing.
  if (identity.role !== 'station') return false
  return (
    matches(levels, [r0, r1, 'st', id, 'pump', 'PUMP|+', 'req', 'ID|+']) ||
    matches(levels, [r0, r1, 'st', id, 'pump', 'PUMP|+', 'state']) ||
    matches(levels, [r0, r1, 'st', id, 'cmd']) ||
    matches(levels, [r0, r1, 'st', id, 'status'])
  )
}

function parseTopicFilterShape(levels: Level[]): boolean {
  // Any filter whose concrete instances are fuelpay topics.
  const sample = levels.map((l) => (l === PLUS ? 'x1' : l)).join('/')
  const samplePump = levels.map((l, i) => (l === PLUS ? (i === 5 ? '1' : 'x1') : l)).join('/')
  return parseTopic(sample) !== undefined || parseTopic(samplePump) !== undefined
}
