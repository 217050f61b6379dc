import { ALG, importPublicKey, type KeyLookup, type PublicKey } from '@fuelpay/proto'
import type { Logger } from 'pino'

/**
 * The cloud's public keys, cached so that pump authorizations verify offline.
 *
 * - An unknown key id triggers a refresh (single flight, at most once per
 *   `minRefreshIntervalMs`, so a flood of tokens with made-up kids cannot turn
 *   the station into a JWKS hammer).
 * - Rotation: a refresh replaces the set; keys the cloud no longer publishes
 *   are forgotten (the cloud keeps an old key published until its last token
 *   expired).
 * - Revocation: ids listed in the document's `revoked` array answer 'revoked'
 *   and stay revoked even if a later document lists the key again.
 * - The last good document is persisted (`persist`) and loaded at start, so a
 *   station that restarts without the cloud still verifies. It is persisted
 *   with every revocation known (`revoked`), those of a refused set included,
 *   so a restart without the cloud does not trust a revoked key again.
 * - A document that is not a key set (a captive portal's HTML page, `{}`, an
 *   error body a proxy answered with 200) or has no usable key is refused:
 *   the cached keys stay and nothing is persisted. One bad answer must not
 *   leave a station unable to verify anything until the next good one. The
 *   revocations such a key set carries are still taken: they only narrow trust.
 *
 * @example
 *   const keys = createKeyCache({ fetchJwks: () => cloud.jwks(), log })
 *   await verifyPumpAuthorization(token, { keys: keys.lookup, nowMs })
 */
export interface KeyCache {
  lookup: KeyLookup
  /** Fetches the cloud's set; false (cached keys kept) when the fetch failed or the set was refused. */
  refresh(): Promise<boolean>
  /** Takes a set (the persisted one at start); false, and nothing replaced, when it is refused. */
  load(doc: unknown): Promise<boolean>
  readonly kids: string[]
}

export interface KeyCacheOptions {
  fetchJwks: () => Promise<unknown>
  log?: Logger
  clock?: { now(): number }
  minRefreshIntervalMs?: number
  persist?: (doc: unknown) => Promise<void>
}

export function createKeyCache(opts: KeyCacheOptions): KeyCache {
  const now = () => opts.clock?.now() ?? Date.now()
  const minInterval = opts.minRefreshIntervalMs ?? 10_000
  let keys = new Map<string, PublicKey>()
  const revoked = new Set<string>()
  let lastAttempt = Number.NEGATIVE_INFINITY
  let inflight: Promise<boolean> | undefined
  /** The last set taken: persisted again with the revocations learned since. */
  let lastGood: object | undefined

  /** A set as persisted: with every revocation known, so a restart without the cloud keeps them. */
  const withRevocations = (doc: object) =>
    revoked.size > 0 ? { ...doc, revoked: [...revoked].slice(-256) } : doc

  async function load(doc: unknown): Promise<boolean> {
    const next = new Map<string, PublicKey>()
    const d = doc as { keys?: unknown; revoked?: unknown } | undefined
    if (typeof d !== 'object' || d === null || !Array.isArray(d.keys)) return false
    const list = d.keys.slice(0, 32)
    if (Array.isArray(d.revoked))
      for (const kid of d.revoked.slice(0, 256)) if (typeof kid === 'string') revoked.add(kid)
    for (const jwk of list as { kid?: unknown; alg?: unknown; revoked?: unknown }[]) {
      if (typeof jwk?.kid !== 'string' || (jwk.alg !== undefined && jwk.alg !== ALG)) continue
      if (jwk.revoked === true || revoked.has(jwk.kid)) {
        revoked.add(jwk.kid)
        continue
      }
      const k = await importPublicKey(jwk)
      if (k.ok) next.set(jwk.kid, k.value)
    }
    if (next.size === 0) return false
    keys = next
    lastGood = d
    return true
  }

  function refresh(): Promise<boolean> {
    inflight ??= (async () => {
      lastAttempt = now()
      try {
        const known = revoked.size
        const doc = await opts.fetchJwks()
        if (!(await load(doc))) {
          opts.log?.warn(
            { kids: [...keys.keys()] },
            'jwks refused: not a key set with a usable key; keeping the cached keys',
          )
          // Its revocations were taken (they only narrow trust): journal them with the cached set.
          if (revoked.size > known && lastGood) await opts.persist?.(withRevocations(lastGood))
          return false
        }
        await opts.persist?.(withRevocations(doc as object))
        opts.log?.debug({ kids: [...keys.keys()] }, 'jwks refreshed')
        return true
      } catch (err) {
        opts.log?.warn({ err: (err as Error).message }, 'jwks refresh failed')
        return false
      } finally {
        inflight = undefined
      }
    })()
    return inflight
  }

  const lookup: KeyLookup = async (kid) => {
    if (revoked.has(kid)) return 'revoked'
    const k = keys.get(kid)
    if (k) return k
    if (now() - lastAttempt >= minInterval || inflight) {
      await refresh()
      if (revoked.has(kid)) return 'revoked'
      return keys.get(kid)
    }
    return undefined
  }

  return {
    lookup,
    refresh,
    load,
    get kids() {
      return [...keys.keys()]
    },
  }
}
