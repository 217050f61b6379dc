import { importPublicKey } from '@fuelpay/proto'
import { refuse } from '../errors/errors.ts'

/**
 * Pairing a kid that is already paired to the same vehicle or station. A kid
 * names one key for good: the same key again is a no-op (provisioning scripts
 * run again), another key under it is refused (it would replace the key
 * silently, and a station's sales signed but not yet delivered would no
 * longer verify), and a revoked key stays revoked (rotation is a new kid).
 *
 * @example const held = await findKey(tx, id, jwk.kid); if (held) refuseRepairing(held, jwk)
 */
export function refuseRepairing(held: { public_jwk: unknown; revoked_at: Date | null }, jwk: { kid: string; x?: unknown }): void {
  const stored = (typeof held.public_jwk === 'string' ? JSON.parse(held.public_jwk) : held.public_jwk) as { x?: unknown } | null
  if (held.revoked_at) throw refuse('FORBIDDEN', `key ${jwk.kid} was revoked; pair a new key under a new kid`)
  if (stored?.x !== jwk.x) throw refuse('FORBIDDEN', `kid ${jwk.kid} is paired with another key; pair a new key under a new kid`)
}

/**
 * A key to pair must be one proto will verify with: an Ed25519 public key
 * that is not a small-order point (with such a key a signature verifies
 * without any private key). Refused SCHEMA_INVALID, nothing stored.
 *
 * @example await refuseUnusableKey(body.publicJwk)
 */
export async function refuseUnusableKey(jwk: { kid: string }): Promise<void> {
  const k = await importPublicKey(jwk)
  if (!k.ok) throw refuse('SCHEMA_INVALID', `publicJwk ${jwk.kid} is not a usable Ed25519 public key`)
}
