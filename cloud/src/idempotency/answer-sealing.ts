import { createHash, hkdfSync } from 'node:crypto'
import { open, packBox, seal, unpackBox } from '../crypto/aead.ts'

/**
 * What the idempotency table keeps, kept unreadable to whoever reads the
 * table but not the requests: the key is stored as a hash of the caller's
 * scope and key, and the stored answer sealed (AES-256-GCM) with a key
 * derived from the caller's key. A replay brings the key again and opens it.
 * Stored answers hold secrets for their 48 h (a broker password, a new
 * operator's API key, a pump authorization, a receipt).
 *
 * @example const c = idempotencyClaim('vehicle:car7', rawKey); const stored = c.seal(body); c.open(stored) === body
 */
export interface IdempotencyClaim {
  scope: string
  /** The key as stored: sha256 of scope and key, hex. */
  key: string
  seal(answer: string): string
  /** The answer from its stored form (one stored before answers were sealed is returned as it is). */
  open(stored: string): string
}

const PREFIX = 'sealed.v1.'

export function idempotencyClaim(scope: string, raw: string): IdempotencyClaim {
  const key = createHash('sha256').update(scope).update('\0').update(raw).digest('hex')
  const aesKey = Buffer.from(hkdfSync('sha256', raw, scope, 'fuelpay idempotent answer', 32))
  return {
    scope,
    key,
    seal(answer) {
      return PREFIX + packBox(seal(aesKey, answer)).toString('base64url')
    },
    open(stored) {
      if (!stored.startsWith(PREFIX)) return stored
      return open(aesKey, unpackBox(Buffer.from(stored.slice(PREFIX.length), 'base64url')))
    },
  }
}
