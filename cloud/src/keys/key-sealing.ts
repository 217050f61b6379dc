import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'

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
      const iv = randomBytes(12)
      const cipher = createCipheriv('aes-256-gcm', kek, iv)
      cipher.setAAD(Buffer.from(kid, 'utf8'))
      const ct = Buffer.concat([cipher.update(JSON.stringify(privateJwk), 'utf8'), cipher.final()])
      const sealed: Sealed = { sealed: 'A256GCM', iv: iv.toString('base64url'), ct: ct.toString('base64url'), tag: cipher.getAuthTag().toString('base64url') }
      return sealed
    },
    open(kid, stored) {
      const value = typeof stored === 'string' ? JSON.parse(stored) : stored
      if (!isSealed(value)) return value as object
      if (!kek) throw new Error(`signing key ${kid} is sealed: set FUELPAY_KEY_ENCRYPTION_KEY to the key it was sealed with`)
      try {
        const decipher = createDecipheriv('aes-256-gcm', kek, Buffer.from(value.iv, 'base64url'))
        decipher.setAAD(Buffer.from(kid, 'utf8'))
        decipher.setAuthTag(Buffer.from(value.tag, 'base64url'))
        const plain = Buffer.concat([decipher.update(Buffer.from(value.ct, 'base64url')), decipher.final()])
        return JSON.parse(plain.toString('utf8')) as object
      } catch {
        throw new Error(`signing key ${kid} does not open with FUELPAY_KEY_ENCRYPTION_KEY (another key, or the row was altered)`)
      }
    },
  }
}
