import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'

/**
 * AES-256-GCM with a fresh 96-bit nonce per message, for what the cloud
 * keeps sealed at rest (signing keys, idempotent answers). `aad` is bound in
 * unencrypted: a sealed value moved to another row does not open.
 *
 * @example const box = seal(key, 'secret', 'kid-1'); open(key, box, 'kid-1') // 'secret'
 */
export interface SealedBox {
  iv: Buffer
  tag: Buffer
  ct: Buffer
}

export function seal(key: Buffer, plaintext: string, aad?: string): SealedBox {
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  if (aad !== undefined) cipher.setAAD(Buffer.from(aad, 'utf8'))
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
  return { iv, tag: cipher.getAuthTag(), ct }
}

/** The plaintext; throws when the key, the box or `aad` differ from the sealing. */
export function open(key: Buffer, box: SealedBox, aad?: string): string {
  const decipher = createDecipheriv('aes-256-gcm', key, box.iv)
  if (aad !== undefined) decipher.setAAD(Buffer.from(aad, 'utf8'))
  decipher.setAuthTag(box.tag)
  return Buffer.concat([decipher.update(box.ct), decipher.final()]).toString('utf8')
}

/** A box as one byte string: nonce, tag, ciphertext. */
export const packBox = (b: SealedBox): Buffer => Buffer.concat([b.iv, b.tag, b.ct])
export const unpackBox = (bytes: Buffer): SealedBox => ({ iv: bytes.subarray(0, 12), tag: bytes.subarray(12, 28), ct: bytes.subarray(28) })
