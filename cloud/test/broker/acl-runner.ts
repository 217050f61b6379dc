import { clientIdFor, type Identity } from '@fuelpay/proto'
import type { MqttClient } from 'mqtt'
import type { Test } from 'tap'
import { type AclCase, describe, sentinelTopic } from './acl-table.ts'
import { closed, inbox, subscribe } from './helpers.ts'

export interface BrokerUnderTest {
  name: string
  /** A new connection for the identity (tracked for teardown and `closed`). */
  connect(identity: Identity): Promise<MqttClient>
  /** An identity that may read everything under the fuelpay root, not used as a publisher. */
  observer: Identity
  /** aedes closes the connection on a refused PUBLISH; Mosquitto drops the message. */
  deniedPublishDisconnects: boolean
  /** Mosquitto 2.0 grants every SUBSCRIBE and filters reads per message; aedes refuses with 0x80. */
  grantsEverySubscribe: boolean
  /** Whether a subscribe case's probe can be sent on this broker. */
  canProbe(probe: NonNullable<AclCase['probe']>): boolean
}

type Assert = Pick<Test, 'equal'>

/**
 * Walks the cases through a real broker: SUBSCRIBE answers (0x80 or not),
 * and whether a PUBLISH reaches an observer. A publish is judged by a
 * sentinel the same identity publishes afterwards on a topic it owns: the
 * observer gets the case's message before the sentinel, or never.
 */
export async function runAclTable(
  t: Assert,
  broker: BrokerUnderTest,
  cases: AclCase[],
  expected: (c: AclCase) => boolean,
): Promise<void> {
  const observer = await broker.connect(broker.observer)
  const seen = inbox(observer)
  const [granted] = await subscribe(observer, 'fuelpay/v1/#')
  if (granted === 128) throw new Error('observer cannot read the tree')
  const clients = new Map<string, { client: MqttClient; seen: ReturnType<typeof inbox> }>()
  const clientFor = async (who: Identity) => {
    const key = clientIdFor(who)
    let entry = clients.get(key)
    if (!entry) {
      const client = await broker.connect(who)
      entry = { client, seen: inbox(client) }
      clients.set(key, entry)
    }
    return entry
  }
  let n = 0
  for (const c of cases) {
    const label = `${broker.name}: ${describe(c)}`
    if (c.action === 'subscribe') {
      const sub = await clientFor(c.who)
      const [code] = await subscribe(sub.client, c.topic)
      const probe = c.probe && broker.canProbe(c.probe) ? c.probe : undefined
      if (!broker.grantsEverySubscribe || !probe)
        t.equal(code !== 128, expected(c), `${label} (suback)`)
      if (probe) {
        const payload = `probe-${n++}-${Date.now()}`
        const before = sub.seen.all.length
        if (probe !== 'sys') {
          const from = await clientFor(probe.from)
          await from.client.publishAsync(probe.topic, payload, { qos: 1 })
        }
        // A SUBACK round trip after the probe: the broker writes a client's
        // packets in order, so anything routed to it before comes first.
        await subscribe(sub.client, 'fuelpay/v1/barrier')
        const got = sub.seen.all.slice(before)
        const delivered =
          probe === 'sys'
            ? got.some((m) => m.topic.startsWith('$SYS'))
            : got.some((m) => m.payload === payload)
        t.equal(delivered, expected(c), `${label} (delivery)`)
      }
      await sub.client.unsubscribeAsync([c.topic, 'fuelpay/v1/barrier'])
      continue
    }
    for (const { client } of clients.values()) client.end(true)
    clients.clear()
    const payload = `case-${n++}-${Date.now()}`
    const publisher = await broker.connect(c.who)
    publisher.publish(c.topic, payload, { qos: 1, retain: c.retain ?? false })
    let sentinelFrom = publisher
    if (broker.deniedPublishDisconnects && !expected(c)) {
      await closed(publisher)
      sentinelFrom = await broker.connect(c.who)
    }
    const sentinel = `sentinel-${payload}`
    sentinelFrom.publish(sentinelTopic(c.who), sentinel, { qos: 1 })
    await seen.next((m) => m.payload === sentinel)
    const delivered = seen.all.some((m) => m.payload === payload)
    t.equal(delivered, expected(c), label)
    if (delivered && c.retain)
      await sentinelFrom.publishAsync(c.topic, '', { qos: 1, retain: true })
    publisher.end(true)
    sentinelFrom.end(true)
  }
}
