import { randomBytes } from 'node:crypto'
import type { Logger } from '@fuelpay/platform'
import {
  exportPrivateJwk,
  generateSigningKey,
  importPublicKey,
  importSigningKey,
  type Jwks,
  type KeyLookup,
  type PublicKey,
  type SigningKey,
} from '@fuelpay/proto'
import type { JWK } from 'jose'
import type { Db } from '../db/database.ts'
import { type KeySealer, keySealer } from './key-sealing.ts'
import { insertActiveSigningKey, listLiveSigningKeys, sealPlainSigningKeys } from './signing-key.repository.ts'

/**
 * The cloud's Ed25519 signing keys (pump authorizations and broker
 * credentials). One key is active and signs; the previous one stays in the
 * JWKS so tokens signed before a rotation still verify. Keys live in the
 * database so that every replica signs with the same key.
 *
 * @example const ring = await createKeyRing({ db, log }); await signPumpAuthorization(claims, ring.active())
 */
export interface KeyRing {
  active(): SigningKey
  /** Verifies cloud-signed tokens (the broker uses it for credentials). */
  lookup: KeyLookup
  jwks(): Jwks
  /** Makes a new active key; the old one becomes previous. */
  rotate(): Promise<void>
  reload(): Promise<void>
}

export async function createKeyRing(opts: {
  db: Db
  log: Logger
  nowMs?: () => number
  maxAgeMs?: number
  /** Private keys at rest: sealed with a key-encryption key, or stored as they are (default). */
  sealer?: KeySealer
}): Promise<KeyRing> {
  const now = opts.nowMs ?? Date.now
  const sealer = opts.sealer ?? keySealer(undefined)
  let activeKey: SigningKey | undefined
  let publics = new Map<string, PublicKey>()
  let jwks: Jwks = { keys: [] }
  let lastReloadMs = 0

  async function reload(): Promise<void> {
    const rows = await listLiveSigningKeys(opts.db)
    const nextPublics = new Map<string, PublicKey>()
    const nextJwks: JWK[] = []
    let nextActive: SigningKey | undefined
    for (const row of rows) {
      const pub = await importPublicKey(row.public_jwk)
      if (!pub.ok) continue
      nextPublics.set(row.kid, pub.value)
      nextJwks.push(row.public_jwk as JWK)
      if (row.status === 'active') nextActive = await importSigningKey(sealer.open(row.kid, row.private_jwk) as JWK)
    }
    publics = nextPublics
    jwks = { keys: nextJwks }
    activeKey = nextActive
    lastReloadMs = now()
  }

  async function rotate(): Promise<void> {
    const kid = `cloud-${new Date(now()).toISOString().slice(0, 10)}-${randomBytes(4).toString('hex')}`
    const key = await generateSigningKey(kid)
    try {
      await insertActiveSigningKey(opts.db, {
        kid,
        privateJwk: sealer.seal(kid, await exportPrivateJwk(key)),
        publicJwk: key.publicJwk,
      })
      opts.log.info({ kid }, 'cloud signing key rotated')
    } catch (e) {
      // Another replica made one at the same moment (unique active index): use theirs.
      opts.log.warn({ err: e }, 'signing key insert lost a race; reloading')
    }
    await reload()
  }

  if (sealer.sealing) {
    const sealed = await sealPlainSigningKeys(opts.db, sealer)
    if (sealed > 0) opts.log.info({ sealed }, 'sealed signing keys that were stored unencrypted')
  }
  await reload()
  const rows = await listLiveSigningKeys(opts.db)
  const activeRow = rows.find((r) => r.status === 'active')
  const maxAge = opts.maxAgeMs ?? Number.POSITIVE_INFINITY
  if (!activeRow || now() - new Date(activeRow.created_at).getTime() > maxAge) await rotate()
  if (!activeKey) throw new Error('no active cloud signing key')

  return {
    active: () => activeKey as SigningKey,
    lookup: async (kid) => {
      const k = publics.get(kid)
      if (k) return k
      // A replica may have rotated; look again, at most once a second.
      if (now() - lastReloadMs > 1000) {
        await reload()
        return publics.get(kid)
      }
      return undefined
    },
    jwks: () => jwks,
    rotate,
    reload,
  }
}
