import { type Identity, topics } from '@fuelpay/proto'

export const car7: Identity = { role: 'vehicle', id: 'car7' }
export const car8: Identity = { role: 'vehicle', id: 'car8' }
export const s1: Identity = { role: 'station', id: 's1' }
export const s2: Identity = { role: 'station', id: 's2' }
export const cloud: Identity = { role: 'cloud', id: 'cloud' }
export const IDENTITIES = [car7, car8, s1, s2, cloud]

/**
 * (identity, action, topic) cases with what proto's allowed() answers, and
 * where Mosquitto's ACL answers differently, why. Walked through allowed(),
 * aedes and a real Mosquitto by the tests.
 */
export interface AclCase {
  who: Identity
  action: 'publish' | 'subscribe'
  topic: string
  retain?: boolean
  allowed: boolean
  /** Set when Mosquitto's ACL decides otherwise, with the reason. */
  mosquittoDiffers?: string
  /**
   * For a subscribe case, a message to test reading with: Mosquitto 2.0
   * grants every SUBSCRIBE and checks read access per message, so what a
   * client can read is shown by delivery, not by the SUBACK. 'sys' means
   * Mosquitto's own retained $SYS messages.
   */
  probe?: { from: Identity; topic: string } | 'sys'
}

const PLUS_ANY = "Mosquitto's + matches any level; proto requires a canonical pump number"
const NO_RETAIN_ACL = 'Mosquitto ACLs cannot restrict the retain flag'
const ROOT_READ =
  'Mosquitto grants the SUBSCRIBE and checks reads per message (nobody can publish there); proto refuses the filter'

export const ACL_CASES: AclCase[] = [
  // vehicle publishes
  { who: car7, action: 'publish', topic: topics.pumpRequest('s1', 2, 'car7'), allowed: true },
  { who: car7, action: 'publish', topic: topics.pumpRequest('s1', 2, 'car8'), allowed: false },
  { who: car7, action: 'publish', topic: topics.pumpReply('s1', 2, 'car7'), allowed: false },
  { who: car7, action: 'publish', topic: topics.pumpState('s1', 2), retain: true, allowed: false },
  { who: car7, action: 'publish', topic: topics.stationStatus('s1'), retain: true, allowed: false },
  { who: car7, action: 'publish', topic: topics.stationCommand('s1'), allowed: false },
  { who: car7, action: 'publish', topic: topics.stationCommandResult('s1'), allowed: false },
  {
    who: car7,
    action: 'publish',
    topic: 'fuelpay/v1/st/s1/pump/02/req/car7',
    allowed: false,
    mosquittoDiffers: PLUS_ANY,
  },
  {
    who: car7,
    action: 'publish',
    topic: topics.pumpRequest('s1', 2, 'car7'),
    retain: true,
    allowed: false,
    mosquittoDiffers: NO_RETAIN_ACL,
  },
  // station publishes
  { who: s1, action: 'publish', topic: topics.pumpReply('s1', 2, 'car7'), allowed: true },
  { who: s1, action: 'publish', topic: topics.pumpReply('s2', 2, 'car7'), allowed: false },
  { who: s1, action: 'publish', topic: topics.pumpState('s1', 3), retain: true, allowed: true },
  { who: s1, action: 'publish', topic: topics.stationStatus('s1'), retain: true, allowed: true },
  { who: s1, action: 'publish', topic: topics.stationStatus('s2'), retain: true, allowed: false },
  { who: s1, action: 'publish', topic: topics.stationCommandResult('s1'), allowed: true },
  { who: s1, action: 'publish', topic: topics.stationCommand('s1'), allowed: false },
  { who: s1, action: 'publish', topic: topics.pumpRequest('s1', 2, 'car7'), allowed: false },
  {
    who: s1,
    action: 'publish',
    topic: topics.pumpReply('s1', 2, 'car7'),
    retain: true,
    allowed: false,
    mosquittoDiffers: NO_RETAIN_ACL,
  },
  // cloud publishes
  { who: cloud, action: 'publish', topic: topics.stationCommand('s1'), allowed: true },
  { who: cloud, action: 'publish', topic: topics.stationStatus('s1'), allowed: false },
  { who: cloud, action: 'publish', topic: topics.pumpReply('s1', 1, 'car7'), allowed: false },
  // vehicle subscribes
  {
    who: car7,
    action: 'subscribe',
    topic: topics.vehicleInbox('car7'),
    allowed: true,
    probe: { from: s1, topic: topics.pumpReply('s1', 2, 'car7') },
  },
  {
    who: car7,
    action: 'subscribe',
    topic: topics.pumpReply('s1', 2, 'car7'),
    allowed: true,
    probe: { from: s1, topic: topics.pumpReply('s1', 2, 'car7') },
  },
  {
    who: car7,
    action: 'subscribe',
    topic: topics.vehicleInbox('car8'),
    allowed: false,
    probe: { from: s1, topic: topics.pumpReply('s1', 2, 'car8') },
  },
  {
    who: car7,
    action: 'subscribe',
    topic: topics.pumpReply('s1', 2, 'car8'),
    allowed: false,
    probe: { from: s1, topic: topics.pumpReply('s1', 2, 'car8') },
  },
  {
    who: car7,
    action: 'subscribe',
    topic: 'fuelpay/v1/st/+/pump/+/res/+',
    allowed: false,
    probe: { from: s1, topic: topics.pumpReply('s1', 2, 'car8') },
  },
  {
    who: car7,
    action: 'subscribe',
    topic: 'fuelpay/v1/st/+/pump/+/res/#',
    allowed: false,
    probe: { from: s1, topic: topics.pumpReply('s1', 2, 'car8') },
  },
  {
    who: car7,
    action: 'subscribe',
    topic: 'fuelpay/v1/#',
    allowed: false,
    probe: { from: s1, topic: topics.pumpState('s1', 2) },
  },
  {
    who: car7,
    action: 'subscribe',
    topic: '#',
    allowed: false,
    probe: { from: s1, topic: topics.pumpState('s1', 2) },
  },
  { who: car7, action: 'subscribe', topic: '$SYS/#', allowed: false, probe: 'sys' },
  {
    who: car7,
    action: 'subscribe',
    topic: topics.pumpState('s1', 2),
    allowed: false,
    probe: { from: s1, topic: topics.pumpState('s1', 2) },
  },
  {
    who: car7,
    action: 'subscribe',
    topic: topics.stationStatus('s1'),
    allowed: false,
    probe: { from: s1, topic: topics.stationStatus('s1') },
  },
  {
    who: car7,
    action: 'subscribe',
    topic: topics.pumpRequest('s1', 2, 'car7'),
    allowed: false,
    probe: { from: car7, topic: topics.pumpRequest('s1', 2, 'car7') },
  },
  {
    who: car7,
    action: 'subscribe',
    topic: 'fuelpay/v1/st/s1/pump/02/res/car7',
    allowed: false,
    mosquittoDiffers: PLUS_ANY,
    probe: { from: s1, topic: 'fuelpay/v1/st/s1/pump/02/res/car7' },
  },
  // station subscribes
  {
    who: s1,
    action: 'subscribe',
    topic: 'fuelpay/v1/st/s1/pump/+/req/+',
    allowed: true,
    probe: { from: car7, topic: topics.pumpRequest('s1', 2, 'car7') },
  },
  {
    who: s1,
    action: 'subscribe',
    topic: topics.stationCommand('s1'),
    allowed: true,
    probe: { from: cloud, topic: topics.stationCommand('s1') },
  },
  {
    who: s1,
    action: 'subscribe',
    topic: 'fuelpay/v1/st/s1/pump/+/state',
    allowed: true,
    probe: { from: s1, topic: topics.pumpState('s1', 4) },
  },
  {
    who: s1,
    action: 'subscribe',
    topic: topics.stationStatus('s1'),
    allowed: true,
    probe: { from: s1, topic: topics.stationStatus('s1') },
  },
  {
    who: s1,
    action: 'subscribe',
    topic: topics.stationStatus('s2'),
    allowed: false,
    probe: { from: s2, topic: topics.stationStatus('s2') },
  },
  {
    who: s1,
    action: 'subscribe',
    topic: 'fuelpay/v1/st/+/pump/+/req/+',
    allowed: false,
    probe: { from: car7, topic: topics.pumpRequest('s2', 1, 'car7') },
  },
  {
    who: s1,
    action: 'subscribe',
    topic: 'fuelpay/v1/st/s1/#',
    allowed: false,
    probe: { from: s1, topic: topics.stationCommandResult('s1') },
  },
  {
    who: s1,
    action: 'subscribe',
    topic: topics.vehicleInbox('car7'),
    allowed: false,
    probe: { from: s1, topic: topics.pumpReply('s1', 1, 'car7') },
  },
  {
    who: s1,
    action: 'subscribe',
    topic: topics.stationCommandResult('s1'),
    allowed: false,
    probe: { from: s1, topic: topics.stationCommandResult('s1') },
  },
  // cloud subscribes
  {
    who: cloud,
    action: 'subscribe',
    topic: 'fuelpay/v1/st/+/pump/+/state',
    allowed: true,
    probe: { from: s1, topic: topics.pumpState('s1', 1) },
  },
  {
    who: cloud,
    action: 'subscribe',
    topic: 'fuelpay/v1/st/+/status',
    allowed: true,
    probe: { from: s1, topic: topics.stationStatus('s1') },
  },
  {
    who: cloud,
    action: 'subscribe',
    topic: 'fuelpay/v1/st/+/cmd-res',
    allowed: true,
    probe: { from: s1, topic: topics.stationCommandResult('s1') },
  },
  {
    who: cloud,
    action: 'subscribe',
    topic: 'fuelpay/v1/#',
    allowed: true,
    probe: { from: car7, topic: topics.pumpRequest('s1', 1, 'car7') },
  },
  {
    who: cloud,
    action: 'subscribe',
    topic: 'fuelpay/v1/st/+/pump/+/req/+',
    allowed: true,
    probe: { from: car7, topic: topics.pumpRequest('s1', 1, 'car7') },
  },
  { who: cloud, action: 'subscribe', topic: '#', allowed: false, probe: 'sys' },
  { who: cloud, action: 'subscribe', topic: '$SYS/#', allowed: false, probe: 'sys' },
  {
    who: cloud,
    action: 'subscribe',
    topic: 'fuelpay/v1/elsewhere',
    allowed: false,
    mosquittoDiffers: ROOT_READ,
  },
]

/** A topic each identity may publish to, used as a sentinel after a case. */
export function sentinelTopic(who: Identity): string {
  if (who.role === 'vehicle') return topics.pumpRequest('s1', 1, who.id)
  if (who.role === 'station') return topics.stationCommandResult(who.id)
  return topics.stationCommand('s1')
}

export const describe = (c: AclCase): string =>
  `${c.who.role}-${c.who.id} ${c.action} ${c.topic}${c.retain ? ' (retained)' : ''}`
