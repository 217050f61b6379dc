import fc from 'fast-check'
import t from 'tap'
import {
  type AclAction,
  allowed,
  clientIdFor,
  formatTopic,
  type Identity,
  type Topic,
  TOPIC_RULES,
  topics,
} from '../src/index.ts'

/**
 * The broker's ACL as a table: one row per rule in the design ("a vehicle
 * may publish only its own requests and read only its own inbox; a station
 * only its own pumps; retained and last-will messages obey the same rules").
 */
const car7: Identity = { role: 'vehicle', id: 'car7' }
const s1: Identity = { role: 'station', id: 's1' }
const cloud: Identity = { role: 'cloud', id: 'cloud-1' }
const pub = (topic: string, retain = false): AclAction => ({ action: 'publish', topic, retain })
const sub = (filter: string): AclAction => ({ action: 'subscribe', filter })

const req = topics.pumpRequest('s1', 2, 'car7')
const res = topics.pumpReply('s1', 2, 'car7')
const state = topics.pumpState('s1', 2)
const status = topics.stationStatus('s1')
const cmd = topics.stationCommand('s1')
const cmdRes = topics.stationCommandResult('s1')
const EVERYWHERE = [
  '#',
  '+/#',
  '+',
  '$SYS/#',
  '$SYS/broker/clients',
  'fuelpay/#',
  'fuelpay/+/#',
  'other/#',
  '/#',
  '',
]

const table: [Identity, AclAction, boolean, string][] = [
  // vehicle: publish
  [car7, pub(req), true, 'its own request'],
  [car7, pub(req, true), false, 'its own request, retained'],
  [car7, pub(topics.pumpRequest('s1', 2, 'car8')), false, "another vehicle's request"],
  [car7, pub(topics.pumpRequest('s2', 9, 'car7')), true, 'its own request at any station'],
  [car7, pub(res), false, 'a reply, even to itself'],
  [car7, pub(state), false, 'pump state'],
  [car7, pub(status, true), false, 'station status (a forged last will)'],
  [car7, pub(cmd), false, 'a station command'],
  [car7, pub(cmdRes), false, 'a command result'],
  [car7, pub('fuelpay/v1/st/s1/pump/2/req/+'), false, 'a wildcard topic'],
  [car7, pub('fuelpay/v1/st/s1/pump/02/req/car7'), false, 'pump 02'],
  [car7, pub('$SYS/broker/x'), false, '$SYS'],
  [car7, pub('fuelpay/v2/st/s1/pump/2/req/car7'), false, 'another root'],
  // vehicle: subscribe
  [car7, sub(topics.vehicleInbox('car7')), true, 'its inbox'],
  [car7, sub(res), true, 'one reply topic of its own'],
  [car7, sub('fuelpay/v1/st/s1/pump/+/res/car7'), true, 'its replies at one station'],
  [car7, sub('fuelpay/v1/st/+/pump/+/res/car8'), false, "another vehicle's inbox"],
  [car7, sub('fuelpay/v1/st/+/pump/+/res/+'), false, 'every inbox'],
  [car7, sub('fuelpay/v1/st/+/pump/+/res/#'), false, 'every inbox with #'],
  [car7, sub('fuelpay/v1/st/+/pump/+/res/car7/#'), false, 'below its inbox'],
  [car7, sub('fuelpay/v1/st/+/pump/04/res/car7'), false, 'pump 04'],
  [car7, sub('fuelpay/v1/st//pump/+/res/car7'), false, 'an empty level'],
  [car7, sub('fuelpay/v1/st/+/pump/+/res/car7/'), false, 'a trailing slash'],
  [car7, sub('fuelpay/v1/st/+/pump/+/re+/car7'), false, 'a partial wildcard'],
  [car7, sub(req), false, 'its own request topic (others could be listening there)'],
  [car7, sub('fuelpay/v1/st/+/pump/+/req/car7'), false, 'its own requests'],
  [car7, sub(state), false, 'pump state'],
  [car7, sub(status), false, 'station status'],
  [car7, sub(cmd), false, 'station commands'],
  [car7, sub('fuelpay/v1/#'), false, 'the whole root'],
  // station: publish
  [s1, pub(res), true, 'a reply from its pump'],
  [s1, pub(res, true), false, 'a retained reply'],
  [s1, pub(state), true, 'pump state'],
  [s1, pub(state, true), true, 'pump state, retained'],
  [s1, pub(status, true), true, 'its status, retained (and its last will)'],
  [s1, pub(cmdRes), true, 'a command result'],
  [s1, pub(cmdRes, true), false, 'a retained command result'],
  [s1, pub(topics.pumpState('s2', 2), true), false, "another station's pump state"],
  [
    s1,
    pub(topics.stationStatus('s2'), true),
    false,
    "another station's status (a forged last will)",
  ],
  [s1, pub(topics.pumpReply('s2', 2, 'car7')), false, "a reply from another station's pump"],
  [s1, pub(req), false, 'a request, as if it were a car'],
  [s1, pub(cmd), false, 'a command to itself'],
  [s1, pub('$SYS/x'), false, '$SYS'],
  // station: subscribe
  [s1, sub('fuelpay/v1/st/s1/pump/+/req/+'), true, 'requests to its pumps'],
  [s1, sub('fuelpay/v1/st/s1/pump/2/req/car7'), true, 'one request topic'],
  [s1, sub(cmd), true, 'its commands'],
  [s1, sub('fuelpay/v1/st/s1/pump/+/state'), true, 'its own retained pump state (recovery)'],
  [s1, sub(status), true, 'its own retained status'],
  [s1, sub('fuelpay/v1/st/s2/pump/+/req/+'), false, "another station's requests"],
  [s1, sub('fuelpay/v1/st/+/pump/+/req/+'), false, "every station's requests"],
  [s1, sub('fuelpay/v1/st/s2/cmd'), false, "another station's commands"],
  [s1, sub('fuelpay/v1/st/+/cmd'), false, 'every command'],
  [s1, sub('fuelpay/v1/st/s1/#'), false, 'everything of its own with #'],
  [s1, sub('fuelpay/v1/st/s1/pump/+/res/+'), false, 'replies to cars'],
  [s1, sub('fuelpay/v1/st/s1/pump/+/req/#'), false, 'requests with #'],
  [s1, sub('fuelpay/v1/st/s2/pump/+/state'), false, "another station's state"],
  // cloud: publish
  [cloud, pub(cmd), true, 'a command to a station'],
  [cloud, pub(topics.stationCommand('s2')), true, 'a command to any station'],
  [cloud, pub(cmd, true), false, 'a retained command (would replay at reconnect)'],
  [cloud, pub(state, true), false, 'pump state'],
  [cloud, pub(status, true), false, 'station status'],
  [cloud, pub(res), false, 'a reply to a car'],
  [cloud, pub(req), false, 'a request'],
  [cloud, pub(cmdRes), false, 'a command result'],
  // cloud: subscribe
  [cloud, sub('fuelpay/v1/#'), true, 'the whole root'],
  [cloud, sub('fuelpay/v1/st/#'), true, 'all stations'],
  ...topics
    .cloudSubscriptions()
    .map((f): [Identity, AclAction, boolean, string] => [cloud, sub(f), true, f]),
  [cloud, sub('fuelpay/v1/st/+/pump/+/req/+'), true, 'all requests'],
  [cloud, sub('fuelpay/v1/st/+/+'), false, 'a filter matching no fuelpay topic'],
  [cloud, sub('fuelpay/v1/st/s1/#/x'), false, '# not last'],
  [cloud, sub('fuelpay/v2/#'), false, 'another root'],
]
for (const who of [car7, s1, cloud]) {
  for (const f of EVERYWHERE)
    table.push([who, sub(f), false, `${who.role} subscribes ${JSON.stringify(f)}`])
  for (const f of ['$SYS/broker/load', 'other/topic', '', '#'])
    table.push([who, pub(f), false, `${who.role} publishes ${JSON.stringify(f)}`])
}

t.test('the ACL table', async (t) => {
  for (const [who, action, expected, why] of table) {
    const what =
      action.action === 'publish'
        ? `publish ${action.topic}${action.retain ? ' (retained)' : ''}`
        : `subscribe ${action.filter}`
    t.equal(allowed(who, action), expected, `${who.role} ${who.id}: ${what}: ${why}`)
  }
})

t.test('the subscriptions proto hands out are all allowed', async (t) => {
  for (const f of topics.stationSubscriptions('s1')) t.ok(allowed(s1, sub(f)), f)
  for (const f of topics.stationSubscriptions('s2')) t.notOk(allowed(s1, sub(f)), `not ${f}`)
  t.ok(allowed(car7, sub(topics.vehicleInbox('car7'))))
  t.notOk(allowed(car7, sub(topics.vehicleInbox('car8'))))
  for (const f of topics.cloudSubscriptions()) t.ok(allowed(cloud, sub(f)), f)
})

t.test('identities that are not valid are refused everything', async (t) => {
  for (const id of ['', '+', '#', 'a/b', 'car7/#', 'a'.repeat(65)]) {
    t.notOk(
      allowed({ role: 'vehicle', id }, pub(`fuelpay/v1/st/s1/pump/2/req/${id}`)),
      `vehicle ${id}`,
    )
    t.notOk(
      allowed({ role: 'vehicle', id }, sub(`fuelpay/v1/st/+/pump/+/res/${id}`)),
      `vehicle ${id}`,
    )
    t.notOk(allowed({ role: 'station', id }, sub(`fuelpay/v1/st/${id}/cmd`)), `station ${id}`)
  }
  const operator = { role: 'operator', id: 's1' } as unknown as Identity
  for (const action of [
    pub(state, true),
    pub(cmd),
    sub(cmd),
    sub('fuelpay/v1/st/s1/pump/+/req/+'),
    sub('fuelpay/v1/#'),
  ]) {
    t.notOk(allowed(operator, action), `an unknown role: ${JSON.stringify(action)}`)
  }
})

t.test('property: each concrete topic is published by exactly its owner', async (t) => {
  const id = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{0,15}$/)
  const pump = fc.integer({ min: 1, max: 99 })
  const topic: fc.Arbitrary<Topic> = fc.oneof(
    fc.record({ kind: fc.constant('pump-request' as const), stationId: id, pump, vehicleId: id }),
    fc.record({ kind: fc.constant('pump-reply' as const), stationId: id, pump, vehicleId: id }),
    fc.record({ kind: fc.constant('pump-state' as const), stationId: id, pump }),
    fc.record({ kind: fc.constant('station-status' as const), stationId: id }),
    fc.record({ kind: fc.constant('station-command' as const), stationId: id }),
    fc.record({ kind: fc.constant('station-command-result' as const), stationId: id }),
  )
  fc.assert(
    fc.property(topic, id, fc.boolean(), (tp, stranger, retain) => {
      const name = formatTopic(tp)
      const rule = TOPIC_RULES[tp.kind]
      const owner: Identity =
        rule.publisher === 'vehicle'
          ? { role: 'vehicle', id: (tp as { vehicleId: string }).vehicleId }
          : rule.publisher === 'station'
            ? { role: 'station', id: tp.stationId }
            : { role: 'cloud', id: 'cloud-1' }
      const ownerOk = allowed(owner, pub(name, retain)) === (!retain || rule.retain)
      const others = (['vehicle', 'station', 'cloud'] as const).filter((r) => r !== rule.publisher)
      const nobodyElse = others.every(
        (role) => !allowed({ role, id: owner.id } as Identity, pub(name)),
      )
      const notAStranger =
        rule.publisher === 'cloud' ||
        stranger === owner.id ||
        !allowed({ role: owner.role, id: stranger } as Identity, pub(name))
      return ownerOk && nobodyElse && notAStranger
    }),
    { numRuns: 500 },
  )
  t.pass()
})

t.test('random filters never throw', async (t) => {
  const level = fc.oneof(
    fc.constantFrom(
      'fuelpay',
      'v1',
      'st',
      's1',
      'pump',
      '2',
      'req',
      'res',
      'car7',
      '+',
      '#',
      '',
      '$SYS',
    ),
    fc.string({ maxLength: 5 }),
  )
  fc.assert(
    fc.property(
      fc.array(level, { maxLength: 10 }),
      fc.constantFrom(car7, s1, cloud),
      (levels, who) => {
        const f = levels.join('/')
        const a = allowed(who, sub(f))
        const b = allowed(who, pub(f))
        return typeof a === 'boolean' && typeof b === 'boolean' && !(b && /[+#]/.test(f))
      },
    ),
    { numRuns: 500 },
  )
  t.pass()
})

t.test('clientIdFor binds the client id to the credential', async (t) => {
  t.equal(clientIdFor(car7), 'vehicle-car7')
  t.equal(clientIdFor(s1), 'station-s1')
  t.equal(clientIdFor(cloud), 'cloud-cloud-1')
})
