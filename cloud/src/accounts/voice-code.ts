import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto'

/**
 * Voice codes are short and spoken, so they are normalised (case, spaces,
 * punctuation) and stored only as a salted scrypt hash.
 */
const N = 16384
const KEYLEN = 32
/** Characters a code must say once normalised: '....' would be the empty code, which any '.' matches. */
export const VOICE_CODE_MIN_CHARS = 4

function normalise(code: string): string {
  return code.normalize('NFKC').toLowerCase().replace(/[\s\p{P}]+/gu, '')
}

/** Whether a code, as spoken (spaces and punctuation dropped), is long enough to set. */
export function isUsableVoiceCode(code: string): boolean {
  return [...normalise(code)].length >= VOICE_CODE_MIN_CHARS
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
  // No code set today is shorter; one stored before that check must not match any '.'.
  if (!isUsableVoiceCode(code)) return false
  const expected = Buffer.from(keyText, 'base64url')
  const actual = await derive(code, Buffer.from(saltText, 'base64url'))
  return expected.length === actual.length && timingSafeEqual(expected, actual)
}
