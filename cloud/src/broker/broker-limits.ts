import { MAX_PAYLOAD_BYTES, type Identity } from '@fuelpay/proto'

type Role = Identity['role']

/**
 * Every limit the broker enforces, in one place. Each has a reason; change
 * them per deployment through `createBroker({ limits })`.
 *
 * @example createBroker({ log, keys, limits: { maxPacketBytes: 8192 } })
 */
export interface BrokerLimits {
  /** Largest MQTT packet, fixed header included; a bigger one closes the connection. */
  maxPacketBytes: number
  /** How long a new TCP connection may take to send CONNECT. */
  connectTimeoutMs: number
  /** Largest keepalive a client may ask for, in seconds. Keepalive 0 (never) is refused too. */
  keepaliveMaxS: number
  /** How long a client whose socket does not drain may hold up delivery before it is dropped. */
  drainTimeoutMs: number
  /** Packets a client may send before its CONNACK has gone out. */
  queueLimit: number
  /** Inbound QoS 2 messages a client may leave awaiting PUBREL. */
  maxInflightInbound: number
  /** Longest client id, in characters. */
  maxClientIdLength: number
  /** Topic levels allowed in any topic or filter (fuelpay topics have at most 8). */
  maxTopicLevels: number
  /** Sustained PUBLISH rate per client, by role (token bucket refill per second). */
  publishRatePerS: Record<Role, number>
  /** PUBLISH burst per client, by role (token bucket capacity). */
  publishBurst: Record<Role, number>
  /** Distinct subscriptions one client may hold. */
  maxSubscriptionsPerClient: number
  /** Open TCP connections per broker process. */
  maxConnections: number
}

/**
 * Defaults, and why:
 * - maxPacketBytes: the largest fuelpay payload (proto MAX_PAYLOAD_BYTES,
 *   16 KiB) plus room for a 256-character topic and headers, and for a
 *   CONNECT carrying a 4 KiB credential: 20 KiB.
 * - connectTimeoutMs 10 s: a cellular handshake takes well under that; an
 *   idle socket that never speaks is only a cost.
 * - keepaliveMaxS 600: a dead connection must be noticed (the station's last
 *   will marks it offline) within 1.5 x keepalive; 0 would mean never.
 * - drainTimeoutMs 30 s: one frozen subscriber must not stall delivery to
 *   everyone (see aedes docs on drainTimeout).
 * - queueLimit 42 (aedes' default), maxInflightInbound 100: fuelpay uses
 *   QoS 1; QoS 2 is allowed but never needed in numbers.
 * - maxClientIdLength 72: `station-` + a 64-character id, the longest id a
 *   credential can carry.
 * - publish rates: a vehicle sends a handful of requests per session (10/s,
 *   burst 20); a station publishes progress and state for every pump
 *   (200/s, burst 400); the cloud sends commands (100/s, burst 200).
 * - maxSubscriptionsPerClient 16: a vehicle needs 1, a station 2, the cloud 3.
 * - maxConnections 10 000 per process; beyond that, add brokers (Redis).
 */
export const DEFAULT_BROKER_LIMITS: Readonly<BrokerLimits> = Object.freeze({
  maxPacketBytes: MAX_PAYLOAD_BYTES + 4096,
  connectTimeoutMs: 10_000,
  keepaliveMaxS: 600,
  drainTimeoutMs: 30_000,
  queueLimit: 42,
  maxInflightInbound: 100,
  maxClientIdLength: 72,
  maxTopicLevels: 16,
  publishRatePerS: Object.freeze({ vehicle: 10, station: 200, cloud: 100 }),
  publishBurst: Object.freeze({ vehicle: 20, station: 400, cloud: 200 }),
  maxSubscriptionsPerClient: 16,
  maxConnections: 10_000,
})

/** What a caller may override: any limit, and per-role rates role by role. Accepts any Partial<BrokerLimits>. */
export type BrokerLimitsOverrides = Partial<
  Omit<BrokerLimits, 'publishRatePerS' | 'publishBurst'>
> & {
  publishRatePerS?: Partial<Record<Role, number>>
  publishBurst?: Partial<Record<Role, number>>
}

/** Defaults overlaid with what was given; per-role records merge key by key. */
export function resolveLimits(given: BrokerLimitsOverrides = {}): BrokerLimits {
  const limits: BrokerLimits = {
    ...DEFAULT_BROKER_LIMITS,
    ...given,
    publishRatePerS: { ...DEFAULT_BROKER_LIMITS.publishRatePerS, ...given.publishRatePerS },
    publishBurst: { ...DEFAULT_BROKER_LIMITS.publishBurst, ...given.publishBurst },
  }
  const positive = [
    limits.maxPacketBytes,
    limits.connectTimeoutMs,
    limits.keepaliveMaxS,
    limits.drainTimeoutMs,
    limits.queueLimit,
    limits.maxClientIdLength,
    limits.maxTopicLevels,
    limits.maxSubscriptionsPerClient,
    limits.maxConnections,
    ...Object.values(limits.publishRatePerS),
    ...Object.values(limits.publishBurst),
  ]
  if (!positive.every((n) => Number.isFinite(n) && n > 0)) {
    throw new RangeError('broker limits must be positive numbers')
  }
  if (!Number.isInteger(limits.maxInflightInbound) || limits.maxInflightInbound < 0) {
    throw new RangeError('maxInflightInbound must be a non-negative integer')
  }
  // The fixed header alone takes up to 5 bytes; a smaller limit would refuse every packet.
  if (limits.maxPacketBytes < 128) throw new RangeError('maxPacketBytes must be at least 128')
  return limits
}
