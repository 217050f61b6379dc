import { mkdir, open, readFile, rename } from 'node:fs/promises'
import { dirname } from 'node:path'
import { type FuelAuthorizationRequest, type ReasonCode, sessionIdFor } from '@fuelpay/proto'
import type { Logger } from 'pino'
import type { KeyStore } from '../agent.ts'
import type { CloudClient } from './cloud.client.ts'

/**
 * Requests an agent started and may not have finished, kept on disk so that
 * a restarted agent finishes them (design: nothing lost or done twice under
 * crashes). A hold stays here from before its request is sent until its
 * session ends; a cancel until the cloud answered it.
 *
 * The file is small (one session at a time, plus its cancel) and rewritten
 * whole on every change: written to a temporary file, synced, renamed.
 *
 * @example
 *   const keys = await fileKeyStore('.data/vehicle-agent/car7.pending.json')
 *   await settlePending({ vehicleId: 'car7', keys, cloud, log, ids, nowMs: Date.now })
 *   const agent = createVehicleAgent({ ..., keys })
 */
export interface PendingRequest {
  purpose: string
  key: string
  body: unknown
}

export interface DurableKeyStore extends KeyStore {
  pending(): PendingRequest[]
}

/**
 * What an agent keeps for a hold: the request, when it was made, and the
 * session once granted. The request is kept without its voice code (a
 * secret, and this file is on the car's disk); `voiceCodeOmitted` says one
 * was sent.
 *
 * @example { request: { stationId: 'st1', pump: 2 }, at: 1767225600000, voiceCodeOmitted: true, sessionId: 's1' }
 */
export interface HoldRecord {
  request: Omit<FuelAuthorizationRequest, 'voiceCode'>
  at: number
  voiceCodeOmitted?: boolean
  sessionId?: string
}

const FILE_VERSION = 1

export async function fileKeyStore(path: string, log?: Logger): Promise<DurableKeyStore> {
  const entries = new Map<string, { purpose: string; body: unknown }>()
  await mkdir(dirname(path), { recursive: true })
  let text: string | undefined
  try {
    text = await readFile(path, 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
  }
  if (text !== undefined) {
    try {
      const parsed = JSON.parse(text) as { version?: unknown; pending?: unknown }
      if (parsed.version !== FILE_VERSION || !Array.isArray(parsed.pending)) throw new Error('not a pending-requests file')
      for (const p of parsed.pending as PendingRequest[]) {
        if (typeof p?.key === 'string' && typeof p.purpose === 'string') entries.set(p.key, { purpose: p.purpose, body: p.body })
      }
    } catch (e) {
      // A file this store cannot read must not keep the car from paying: it
      // is kept aside for a person to look at, and the store starts empty
      // (a hold it named is released by the cloud's expiry sweeper).
      const aside = `${path}.unreadable-${Date.now()}`
      await rename(path, aside)
      log?.error({ path, aside, err: (e as Error).message }, 'pending-requests file unreadable; moved aside')
    }
  }
  // Writes one at a time, each the whole current state: the last one written wins.
  let writing: Promise<void> = Promise.resolve()
  const persist = (): Promise<void> => {
    const text = JSON.stringify({ version: FILE_VERSION, pending: [...entries].map(([key, e]) => ({ key, ...e })) })
    writing = writing.then(async () => {
      const tmp = `${path}.tmp`
      const f = await open(tmp, 'w', 0o600)
      try {
        await f.writeFile(text)
        await f.sync()
      } finally {
        await f.close()
      }
      await rename(tmp, path)
    })
    return writing
  }
  return {
    keep(purpose, key, body) {
      entries.set(key, { purpose, body })
      return persist()
    },
    done(_purpose, key) {
      if (!entries.delete(key)) return writing
      return persist()
    },
    pending: () => [...entries].map(([key, e]) => ({ key, ...e })),
  }
}

/** Answers that may change on a later try: the request stays pending. */
const TRANSIENT: ReadonlySet<ReasonCode> = new Set<ReasonCode>(['UNAVAILABLE', 'TIMEOUT', 'PROCESSOR_TIMEOUT', 'IDEMPOTENCY_IN_PROGRESS', 'BAD_JSON'])

/**
 * A hold whose session is unknown (the agent stopped while asking) is asked
 * again under its own key only this long: the cloud keeps idempotency keys at
 * least 24 h, and a key it forgot would place a new hold, not find the old one.
 */
export const HOLD_REPLAY_WINDOW_MS = 12 * 3_600_000

/**
 * Finishes what a stopped agent left: a hold it asked for is cancelled (the
 * driver who asked is no longer in this conversation), a cancel it sent is
 * sent again under the same key. A hold the pump already took is not
 * cancellable and needs nothing: the pump's sale settles it. Transient
 * failures leave the request for the next start.
 */
export async function settlePending(o: {
  /** This car: a hold's session id follows from it and the request's key (proto sessionIdFor). */
  vehicleId: string
  keys: DurableKeyStore
  cloud: Pick<CloudClient, 'requestFuelAuthorization' | 'cancelSession' | 'getSession'>
  log: Logger
  ids: () => string
  nowMs: () => number
  /** Waits between cancels of a hold the cloud is still placing (default 2 s, 15 times). */
  wait?: (ms: number) => Promise<void>
  stillPlacingTries?: number
}): Promise<{ cancelled: string[]; left: number }> {
  const cancelled: string[] = []
  const wait = o.wait ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)))
  const cancel = async (sessionId: string, key: string): Promise<boolean> => {
    await o.keys.keep('cancel-session', key, { sessionId })
    let r = await o.cloud.cancelSession(sessionId, key)
    // The cloud may still be placing the hold (the last run stopped while it
    // asked the processor): a session in `requested` cannot be cancelled yet,
    // and dropping the cancel would leave its hold until the unused-hold sweep.
    for (let i = 0; !r.ok && r.reason.code === 'SESSION_STATE_CONFLICT'; i++) {
      const s = await o.cloud.getSession(sessionId)
      if (!s.ok && TRANSIENT.has(s.reason.code)) {
        o.log.warn({ sessionId, code: s.reason.code }, 'could not learn why a hold left by the last run was not cancelled; will retry')
        return false
      }
      // `held`: placed since the cancel was refused, and cancellable now.
      if (!s.ok || (s.value.state !== 'requested' && s.value.state !== 'held')) break
      if (i >= (o.stillPlacingTries ?? 15)) {
        o.log.warn({ sessionId }, 'a hold left by the last run is still being placed; will cancel it at the next start')
        return false
      }
      if (s.value.state === 'requested') await wait(2000)
      r = await o.cloud.cancelSession(sessionId, key)
    }
    if (!r.ok && TRANSIENT.has(r.reason.code)) {
      o.log.warn({ sessionId, code: r.reason.code }, 'could not cancel a hold left by the last run; will retry')
      return false
    }
    if (r.ok) cancelled.push(sessionId)
    else o.log.info({ sessionId, code: r.reason.code }, 'a hold left by the last run was not cancellable (the pump settles it)')
    await o.keys.done('cancel-session', key)
    return true
  }
  const all = o.keys.pending()
  // Cancels first: a hold below may find its cancel already done.
  for (const p of all.filter((x) => x.purpose === 'cancel-session')) {
    const sessionId = (p.body as { sessionId?: unknown })?.sessionId
    if (typeof sessionId === 'string') await cancel(sessionId, p.key)
    else await o.keys.done(p.purpose, p.key)
  }
  for (const p of all.filter((x) => x.purpose === 'fuel-authorization')) {
    const hold = p.body as Partial<HoldRecord>
    let sessionId = hold?.sessionId
    if (sessionId === undefined) {
      if (!hold?.request || typeof hold.at !== 'number' || o.nowMs() - hold.at > HOLD_REPLAY_WINDOW_MS) {
        o.log.warn({ key: p.key }, 'forgetting a hold request too old to ask about again; the cloud releases unused holds')
        await o.keys.done(p.purpose, p.key)
        continue
      }
      if (hold.voiceCodeOmitted) {
        // The request went out with a voice code, which is not kept, so it
        // cannot be sent again; the session its key made (if the cloud got it)
        // has a known id, and is cancelled by it. Not found: nothing was held.
        if (await cancel(sessionIdFor(o.vehicleId, p.key), o.ids())) await o.keys.done(p.purpose, p.key)
        continue
      }
      // The same key finds the same answer: the hold it placed, or its refusal.
      // (A file written before voice codes were left out may still hold one:
      // the request is sent back exactly as kept.)
      const r = await o.cloud.requestFuelAuthorization(hold.request as FuelAuthorizationRequest, p.key)
      if (!r.ok) {
        if (!TRANSIENT.has(r.reason.code)) await o.keys.done(p.purpose, p.key)
        continue
      }
      sessionId = r.value.sessionId
    }
    if (await cancel(sessionId, o.ids())) await o.keys.done(p.purpose, p.key)
  }
  return { cancelled, left: o.keys.pending().length }
}
