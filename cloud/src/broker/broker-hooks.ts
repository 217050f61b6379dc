import type { AedesOptions, Client, ConnectPacket } from 'aedes'
import type { Logger } from '@fuelpay/platform'
import {
  allowed,
  CLOCK_SKEW_S,
  ID_PATTERN,
  type Identity,
  type KeyLookup,
  type ReasonCode,
  verifyBrokerCredential,
} from '@fuelpay/proto'
import type { BrokerLimits } from './broker-limits.ts'
import { fullBucket, type RateLimit, takeToken, type TokenBucket } from './token-bucket.ts'

/** CONNACK return codes of MQTT 3.1.1 (Table 3.1) that a refusal may carry. */
export const CONNACK = {
  IDENTIFIER_REJECTED: 2,
  SERVER_UNAVAILABLE: 3,
  BAD_USERNAME_OR_PASSWORD: 4,
  NOT_AUTHORIZED: 5,
} as const
export type ConnackRefusal = (typeof CONNACK)[keyof typeof CONNACK]

const SYS_PREFIX = '$SYS'
/** What a client id must look like: the `sub` of a broker credential, `{role}-{id}`. */
const CLIENT_ID_RE = new RegExp(`^(vehicle|station|cloud)-(${ID_PATTERN.slice(1, -1)})$`)

/** Reads the identity a client id names; the id was bound to a verified credential at CONNECT. */
export function identityFromClientId(clientId: unknown): Identity | undefined {
  if (typeof clientId !== 'string') return undefined
  const m = CLIENT_ID_RE.exec(clientId)
  if (!m) return undefined
  return { role: m[1] as Identity['role'], id: m[2] as string }
}

export interface BrokerHooksOptions {
  log: Logger
  keys: KeyLookup
  nowMs: () => number
  limits: BrokerLimits
}

export type BrokerHooks = Required<
  Pick<
    AedesOptions,
    'preConnect' | 'authenticate' | 'authorizePublish' | 'authorizeSubscribe' | 'authorizeForward'
  >
> & {
  /** The identity a connected client proved, if it did. */
  identityOf(client: Client): Identity | undefined
  /** Call on aedes' 'subscribe' and 'unsubscribe' events: the filters are settled in `client.subscriptions`. */
  settled(client: Client, filters: string[]): void
}

interface ConnectInfo {
  clientId: string
  will: ConnectPacket['will']
}

/**
 * The broker's security, as aedes hooks. Authentication: the MQTT username
 * is the client id and the password a cloud-issued broker credential
 * (proto tokens.ts), verified offline against `keys` with the injected clock;
 * the credential's `sub` must be the client id. So nobody can connect under
 * another client's id without that client's credential, and the identity
 * every later check uses comes from the credential, never from the packet.
 *
 * Authorization is proto's `allowed()` everywhere: PUBLISH (retain flag
 * included), SUBSCRIBE (a denied filter gets return code 0x80), the last
 * will (checked at CONNECT, again when it is published), and every message
 * forwarded to a client, retained ones included (the client must be allowed
 * to subscribe to the message's concrete topic). `$SYS` is closed to clients.
 *
 * @example const hooks = createBrokerHooks({ log, keys, nowMs: Date.now, limits }); Aedes.createBroker({ ...hooks })
 */
export function createBrokerHooks(opts: BrokerHooksOptions): BrokerHooks {
  const { log, keys, nowMs, limits } = opts
  const connects = new WeakMap<Client, ConnectInfo>()
  const identities = new WeakMap<Client, Identity>()
  /**
   * When each car's credential expires (ms, with the clock skew the check
   * allows): past it, the car's next publish, subscribe or delivery is
   * refused and the connection closed, so a car whose key was revoked (it
   * gets no new credential) can do nothing on the broker after one
   * credential lifetime; an idle one stays connected, reading and sending
   * nothing. Checked against the injected clock, per message (a map lookup).
   * The agent opens a fresh link before a session when its credential is
   * near its end.
   * Stations and the cloud keep links for days and reconnect on their own
   * schedule; cutting theirs at expiry could drop a pump's reply mid-session.
   */
  const expiries = new WeakMap<Client, number>()
  const expiring = new WeakSet<Client>()
  /** True once the client's credential has expired; the connection is then closed (once). */
  const expired = (client: Client): boolean => {
    const exp = expiries.get(client)
    if (exp === undefined || nowMs() < exp) return false
    if (!expiring.has(client)) {
      expiring.add(client)
      log.info({ clientId: client.id }, 'mqtt credential expired: disconnecting')
      setImmediate(() => client.close())
    }
    return true
  }
  const buckets = new WeakMap<Client, TokenBucket>()
  /** Filters granted but not yet in `client.subscriptions` (aedes adds them asynchronously). */
  const pendingSubs = new WeakMap<Client, Set<string>>()

  const refuse = (
    client: Client,
    returnCode: ConnackRefusal,
    code: ReasonCode,
    detail: string,
  ): Error & { returnCode: number } => {
    log.warn(
      { clientId: connects.get(client)?.clientId, returnCode, code, detail },
      'mqtt connect refused',
    )
    return Object.assign(new Error(`${code}: ${detail}`), { returnCode })
  }

  const preConnect: BrokerHooks['preConnect'] = (client, packet, done) => {
    connects.set(client, { clientId: packet.clientId ?? '', will: packet.will })
    // MQTT 3.1.1 cannot tell a client which keepalive to use, and no CONNACK
    // code fits "keepalive out of range", so such a connection is closed
    // without a CONNACK [MQTT-3.2.2-6]. Keepalive 0 would let a dead station
    // look online forever (its will would never fire).
    const keepalive = packet.keepalive ?? 0
    if (keepalive < 1 || keepalive > limits.keepaliveMaxS) {
      log.warn(
        { clientId: packet.clientId, keepalive },
        'mqtt connect refused: keepalive out of range',
      )
      done(new Error(`keepalive ${keepalive} s is outside 1..${limits.keepaliveMaxS} s`), false)
      return
    }
    done(null, true)
  }

  const authenticate: BrokerHooks['authenticate'] = (client, username, password, done) => {
    const info = connects.get(client)
    const clientId = info?.clientId ?? ''
    // [MQTT-3.1.3-8], [MQTT-3.1.3-9]: an id this broker will not accept gets 0x02.
    // An empty id (a server-assigned one) is refused: the id is what the credential binds.
    if (
      clientId.length === 0 ||
      clientId.length > limits.maxClientIdLength ||
      !CLIENT_ID_RE.test(clientId)
    ) {
      done(
        refuse(
          client,
          CONNACK.IDENTIFIER_REJECTED,
          'CLIENT_ID_MISMATCH',
          'client id is not role-id',
        ),
        null,
      )
      return
    }
    if (username === undefined || password === undefined) {
      done(
        refuse(
          client,
          CONNACK.BAD_USERNAME_OR_PASSWORD,
          'UNAUTHENTICATED',
          'no username or password',
        ),
        null,
      )
      return
    }
    if (username !== clientId) {
      done(
        refuse(
          client,
          CONNACK.BAD_USERNAME_OR_PASSWORD,
          'UNAUTHENTICATED',
          'username is not the client id',
        ),
        null,
      )
      return
    }
    verifyBrokerCredential(password.toString('utf8'), { keys, nowMs: nowMs() }).then(
      (verified) => {
        if (!verified.ok) {
          // A key store that cannot answer is the server's fault, not the client's.
          const returnCode =
            verified.reason.code === 'UNAVAILABLE'
              ? CONNACK.SERVER_UNAVAILABLE
              : CONNACK.BAD_USERNAME_OR_PASSWORD
          done(refuse(client, returnCode, verified.reason.code, verified.reason.message), null)
          return
        }
        // A genuine credential for someone else: this is an attempt to take
        // over another client's id, which the credential does not authorize.
        if (verified.value.clientId !== clientId) {
          done(
            refuse(
              client,
              CONNACK.NOT_AUTHORIZED,
              'CLIENT_ID_MISMATCH',
              'credential is for another client id',
            ),
            null,
          )
          return
        }
        const identity = { role: verified.value.role, id: verified.value.id } as Identity
        // A will the identity could not publish refuses the connection rather
        // than being dropped: the client is told at once that its will is
        // wrong, instead of learning, after it has died, that nobody heard.
        const will = info?.will
        if (
          will &&
          !allowed(identity, { action: 'publish', topic: will.topic, retain: will.retain })
        ) {
          done(
            refuse(client, CONNACK.NOT_AUTHORIZED, 'FORBIDDEN', 'last will topic not allowed'),
            null,
          )
          return
        }
        identities.set(client, identity)
        // With the clock skew the credential check itself allows, so a reconnect it accepts is not cut at once.
        if (identity.role === 'vehicle') expiries.set(client, (verified.value.exp + CLOCK_SKEW_S) * 1000)
        done(null, true)
      },
      (err: unknown) => {
        log.error({ err, clientId }, 'mqtt credential check failed')
        done(
          refuse(client, CONNACK.SERVER_UNAVAILABLE, 'INTERNAL', 'credential check failed'),
          null,
        )
      },
    )
  }

  const authorizePublish: BrokerHooks['authorizePublish'] = (client, packet, done) => {
    const topic = packet.topic
    if (typeof topic !== 'string' || topic.startsWith(SYS_PREFIX)) {
      log.warn(
        { clientId: client?.id, topic: String(topic).slice(0, 80) },
        'mqtt publish to $SYS refused',
      )
      done(new Error('$SYS is reserved'))
      return
    }
    // client is null when aedes publishes the will of a client that was
    // connected to a broker that has since died (clustered brokers); its id
    // was bound to a credential when it connected.
    const identity = client
      ? identities.get(client)
      : identityFromClientId((packet as { clientId?: unknown }).clientId)
    if (!identity) {
      done(new Error('no identity'))
      return
    }
    const isWill = client !== null && (client as unknown as { will?: unknown }).will === packet
    // A will is still published: it is how the others learn the client is gone.
    if (client && !isWill && expired(client)) {
      done(new Error('credential expired'))
      return
    }
    if (client && !isWill && !withinRate(client, identity)) {
      log.warn({ clientId: client.id, topic }, 'mqtt publish rate limit exceeded: disconnecting')
      done(new Error('publish rate limit exceeded'))
      return
    }
    if (!allowed(identity, { action: 'publish', topic, retain: packet.retain })) {
      // MQTT 3.1.1 has no negative PUBACK: the server either accepts or
      // closes the connection [MQTT-3.3.5-2]; aedes closes it on this error.
      log.warn(
        { clientId: client?.id, topic: topic.slice(0, 256), retain: packet.retain, will: isWill },
        'mqtt publish refused by acl',
      )
      done(new Error('publish not allowed'))
      return
    }
    done(null)
  }

  const withinRate = (client: Client, identity: Identity): boolean => {
    const limit: RateLimit = {
      ratePerS: limits.publishRatePerS[identity.role],
      burst: limits.publishBurst[identity.role],
    }
    const now = nowMs()
    const taken = takeToken(buckets.get(client) ?? fullBucket(limit, now), now, limit)
    buckets.set(client, taken.bucket)
    return taken.ok
  }

  const authorizeSubscribe: BrokerHooks['authorizeSubscribe'] = (client, sub, done) => {
    const identity = identities.get(client)
    const filter = sub.topic
    // [MQTT-3.9.3]: a refused filter is granted 0x80 (aedes does that for a null subscription).
    const deny = (why: string) => {
      log.warn(
        { clientId: client.id, filter: String(filter).slice(0, 256) },
        `mqtt subscribe refused: ${why}`,
      )
      done(null, null)
    }
    if (!identity) return deny('no identity')
    if (expired(client)) return deny('credential expired')
    if (typeof filter !== 'string' || filter.startsWith(SYS_PREFIX)) return deny('$SYS is reserved')
    if (!allowed(identity, { action: 'subscribe', filter })) return deny('acl')
    if (!(filter in (client as unknown as { subscriptions: object }).subscriptions)) {
      const pending = pendingSubs.get(client) ?? new Set<string>()
      pendingSubs.set(client, pending)
      const held = new Set([
        ...Object.keys((client as unknown as { subscriptions: object }).subscriptions),
        ...pending,
      ])
      if (!held.has(filter) && held.size >= limits.maxSubscriptionsPerClient)
        return deny('too many subscriptions')
      pending.add(filter)
    }
    done(null, sub)
  }

  const authorizeForward: BrokerHooks['authorizeForward'] = (client, packet) => {
    const identity = identities.get(client)
    if (!identity || typeof packet.topic !== 'string' || packet.topic.startsWith(SYS_PREFIX))
      return null
    if (expired(client)) return null
    // The filter already passed the ACL; checking the concrete topic again
    // keeps retained messages, restored sessions and messages from other
    // brokers to exactly what this identity may read.
    return allowed(identity, { action: 'subscribe', filter: packet.topic }) ? packet : null
  }

  return {
    preConnect,
    authenticate,
    authorizePublish,
    authorizeSubscribe,
    authorizeForward,
    identityOf: (client) => identities.get(client),
    settled: (client, filters) => {
      const pending = pendingSubs.get(client)
      for (const f of filters) pending?.delete(f)
    },
  }
}
