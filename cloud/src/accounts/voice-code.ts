import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto'

/**
 * Voice codes are short and spoken, so they are normalised (case, spaces,
 * punctuation) and stored only as a salted scrypt hash.
 */
const N = 16384
const KEYLEN = 32

function normalise(code: string): string {
  return code.normalize('NFKC').toLowerCase().replace(/[\s\p{P}]+/gu, '')
}

function derive(code: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(normalise(code), salt, KEYLEN, { N, r: 8, p: 1 }, (err, key) => (err ? reject(err) : resolve(key))),
  )
}

export async function hashVoiceCode(code: string): Promise<string> {
  const salt = randomBytes(16)
  const key = await derive(code, salt)
  return `scrypt$${N}$${salt.toString('base64url')}$${key.toString('base64url')}`
}

export async function verifyVoiceCode(code: string, stored: string): Promise<boolean> {
  const [scheme, n, saltText, keyText] = stored.split('$')
  if (scheme !== 'scrypt' || Number(n) !== N || !saltText || !keyText) return false
  const expected = Buffer.from(keyText, 'base64url')
  const actual = await derive(code, Buffer.from(saltText, 'base64url'))
  return expected.length === actual.length && timingSafeEqual(expected, actual)
}
