import { open, seal } from '../crypto/aead.ts'

/**
 * The cloud's private signing keys at rest. With a key-encryption key
 * (FUELPAY_KEY_ENCRYPTION_KEY, 32 bytes) each private JWK is stored sealed
 * with AES-256-GCM, its kid bound in as associated data (a sealed key moved
 * to another row does not open); without one it is stored as it is, which
 * suits the embedded demo and nothing else: whoever reads the table can
 * sign pump authorizations and broker credentials.
 *
 * @example const sealer = keySealer(config.keyEncryptionKey); const stored = sealer.seal(kid, jwk); sealer.open(kid, stored)
 */
export interface KeySealer {
  /** Whether keys are sealed (a key-encryption key is set). */
  readonly sealing: boolean
  seal(kid: string, privateJwk: object): object
  /** The private JWK from its stored form, sealed or not; throws when a sealed one cannot be opened. */
  open(kid: string, stored: unknown): object
}

interface Sealed {
  sealed: 'A256GCM'
  iv: string
  ct: string
  tag: string
}

const isSealed = (v: unknown): v is Sealed =>
  typeof v === 'object' && v !== null && (v as Sealed).sealed === 'A256GCM' && typeof (v as Sealed).ct === 'string'

export function isSealedKey(stored: unknown): boolean {
  return isSealed(typeof stored === 'string' ? JSON.parse(stored) : stored)
}

export function keySealer(kek: Buffer | undefined): KeySealer {
  if (kek !== undefined && kek.length !== 32) throw new RangeError('the key-encryption key is 32 bytes')
  return {
    sealing: kek !== undefined,
    seal(kid, privateJwk) {
      if (!kek) return privateJwk
      const box = seal(kek, JSON.stringify(privateJwk), kid)
      const sealed: Sealed = { sealed: 'A256GCM', iv: box.iv.toString('base64url'), ct: box.ct.toString('base64url'), tag: box.tag.toString('base64url') }
      return sealed
    },
    open(kid, stored) {
      const value = typeof stored === 'string' ? JSON.parse(stored) : stored
      if (!isSealed(value)) return value as object
      if (!kek) throw new Error(`signing key ${kid} is sealed: set FUELPAY_KEY_ENCRYPTION_KEY to the key it was sealed with`)
      try {
        const box = { iv: Buffer.from(value.iv, 'base64url'), ct: Buffer.from(value.ct, 'base64url'), tag: Buffer.from(value.tag, 'base64url') }
        return JSON.parse(open(kek, box, kid)) as object
      } catch {
        throw new Error(`signing key ${kid} does not open with FUELPAY_KEY_ENCRYPTION_KEY (another key, or the row was altered)`)
      }
    },
  }
}
