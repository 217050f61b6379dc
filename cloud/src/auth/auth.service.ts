import { createHash, timingSafeEqual } from 'node:crypto'
import { CLOCK_SKEW_S, importPublicKey, type PublicKey, verifyClientAssertion } from '@fuelpay/proto'
import type { Db } from '../db/database.ts'
import { refuse } from '../errors/errors.ts'
import {
  findOperatorByKeyHash,
  findStationKeyWithOwner,
  findVehicleKey,
  rememberAssertion,
} from './auth.repository.ts'
import type { Caller } from './caller.ts'

export interface AuthDeps {
  db: Db
  adminToken: string
  nowMs: () => number
}

const JWS_RE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/

export function hashApiKey(apiKey: string): string {
  return createHash('sha256').update(apiKey).digest('hex')
}

/** Compares two secrets in time that does not depend on where they differ. */
export function sameSecret(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest()
  const hb = createHash('sha256').update(b).digest()
  return timingSafeEqual(ha, hb)
}

/**
 * A verified client assertion's one-time id, to be recorded before the
 * request may change anything (a second use is a replay).
 */
export interface AssertionUse {
  subject: string
  jti: string
  expiresAt: Date
}

/**
 * Authenticates an `Authorization` header: the admin token, a vehicle's or
 * station's client assertion (signed with its registered key, each jti used
 * once), or an operator API key. Anything else is UNAUTHENTICATED.
 */
export async function authenticate(deps: AuthDeps, header: string | undefined): Promise<Caller> {
  const { caller, use } = await identify(deps, header)
  if (use) await recordAssertionUse(deps.db, use)
  return caller
}

/**
 * Like authenticate, but leaves recording the assertion's jti to the caller,
 * who must record it (recordAssertionUse, or together with an idempotency
 * claim: beginIdempotent) before the request changes anything.
 */
export async function identify(deps: AuthDeps, header: string | undefined): Promise<{ caller: Caller; use?: AssertionUse }> {
  if (typeof header !== 'string' || header.length > 4200) throw refuse('UNAUTHENTICATED')
  const m = /^Bearer ([\x21-\x7e]{8,4096})$/.exec(header)
  if (!m) throw refuse('UNAUTHENTICATED')
  const token = m[1] as string
  if (sameSecret(token, deps.adminToken)) return { caller: { role: 'admin', id: 'admin' } }
  if (JWS_RE.test(token)) return authenticateAssertion(deps, token)
  const op = await findOperatorByKeyHash(deps.db, hashApiKey(token))
  if (op) return { caller: { role: 'operator', id: op.id } }
  throw refuse('UNAUTHENTICATED')
}

/** Records an assertion's jti; a second use is refused UNAUTHENTICATED. */
export async function recordAssertionUse(db: Db, use: AssertionUse): Promise<void> {
  if (!(await rememberAssertion(db, use.subject, use.jti, use.expiresAt))) throw refuse('UNAUTHENTICATED', 'assertion already used')
}

async function authenticateAssertion(deps: AuthDeps, token: string): Promise<{ caller: Caller; use: AssertionUse }> {
  // The key lookup also reads who the subject is (account, fleet, operator), so
  // a verified assertion needs no second read.
  let vehicle: { account_id: string; fleet_id: string | null } | undefined
  let station: { operator_id: string } | undefined
  let used: { kid: string; key: PublicKey } | undefined
  const v = await verifyClientAssertion(token, {
    nowMs: deps.nowMs(),
    keysFor: async (subject, kid) => {
      let row: { public_jwk: unknown; revoked_at: Date | null } | undefined
      if (subject.role === 'vehicle') {
        const found = await findVehicleKey(deps.db, subject.id, kid)
        vehicle = found
        row = found
      } else {
        const found = await findStationKeyWithOwner(deps.db, subject.id, kid)
        station = found
        row = found
      }
      if (!row) return undefined
      if (row.revoked_at) return 'revoked'
      const key = await importPublicKeyCached(row.public_jwk)
      if (key) used = { kid, key }
      return key
    },
  })
  if (!v.ok) throw refuse(v.reason.code, v.reason.message)
  const { role, id, jti, exp } = v.value
  // Replays are refused for as long as the assertion could still verify.
  const use = { subject: `${role}:${id}`, jti, expiresAt: new Date((exp + CLOCK_SKEW_S + 1) * 1000) }
  if (role === 'vehicle') {
    if (!vehicle) throw refuse('UNAUTHENTICATED')
    return { caller: { role, id, accountId: vehicle.account_id, fleetId: vehicle.fleet_id }, use }
  }
  if (!station) throw refuse('UNAUTHENTICATED')
  return { caller: { role, id, operatorId: station.operator_id, ...(used ? { verifiedKey: used } : {}) }, use }
}

const importedKeys = new Map<string, PublicKey>()
const IMPORTED_KEYS_MAX = 10_000

/**
 * Imports a registered public JWK, remembering the result by the JWK's text:
 * the same text always imports to the same key, so the cache can never be
 * stale (revocation is read from the database on every request, not cached).
 *
 * @example const key = await importPublicKeyCached(row.public_jwk) // undefined when the JWK is unusable
 */
export async function importPublicKeyCached(jwk: unknown): Promise<PublicKey | undefined> {
  const text = typeof jwk === 'string' ? jwk : JSON.stringify(jwk)
  const hit = importedKeys.get(text)
  if (hit) return hit
  const k = await importPublicKey(jwk)
  if (!k.ok) return undefined
  if (importedKeys.size >= IMPORTED_KEYS_MAX) importedKeys.clear()
  importedKeys.set(text, k.value)
  return k.value
}
