import { randomBytes } from 'node:crypto'
import { type Static, Type } from '@sinclair/typebox'
import {
  CompactSign,
  compactVerify,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  importJWK,
  type CryptoKey,
  type JWK,
  type KeyObject,
} from 'jose'
import { validate } from './codec.ts'
import { PumpNumber, SessionId, StationId, VehicleId } from './ids.ts'
import { Grades, SaleRecord } from './messages.ts'
import { AmountMinor, CurrencyCode, VolumeMilli } from './money.ts'
import { fail, ok, type Result } from './reasons.ts'
import type { Identity } from './acl.ts'

/**
 * Signed tokens. Every one is a compact JWS signed with Ed25519; the
 * algorithm is pinned (`alg` must be `EdDSA`, anything else is refused before
 * a key is looked at) and each kind has its own `typ`, so that one kind of
 * token can never be presented as another.
 */
export const ALG = 'EdDSA'
export const TYP = {
  pumpAuthorization: 'fuelpay-pump-auth+jwt',
  sale: 'fuelpay-sale+jwt',
  brokerCredential: 'fuelpay-mqtt+jwt',
  clientAssertion: 'fuelpay-client+jwt',
} as const
export type TokenKind = keyof typeof TYP

/** Pump authorizations live about two minutes (design: payment session, step 3). */
export const PUMP_AUTHORIZATION_TTL_S = 120
/** Clock skew tolerated between the cloud and a station. */
export const CLOCK_SKEW_S = 30
export const MAX_CLIENT_ASSERTION_TTL_S = 300

export type SigningKey = { kid: string; privateKey: CryptoKey | KeyObject }
export type PublicKey = CryptoKey | KeyObject
/** A key by id: the key, `'revoked'`, or undefined when unknown. May be async (a cache refresh). */
export type KeyLookup = (
  kid: string,
) => PublicKey | 'revoked' | undefined | Promise<PublicKey | 'revoked' | undefined>

const KID_PATTERN = '^[A-Za-z0-9_.:-]{1,64}$'
const KID_RE = new RegExp(KID_PATTERN)
/** Longest compact JWS accepted, in characters (the MQTT `token` field's limit too). */
export const MAX_TOKEN_CHARS = 4096
const Nonce = Type.String({ pattern: '^[A-Za-z0-9_-]{8,64}$' })
const Seconds = Type.Integer({ minimum: 0, maximum: 4_102_444_800 })
const strict = { additionalProperties: false } as const

/** Claims of a pump authorization: what the cloud held money for. */
export const PumpAuthorizationClaims = Type.Object(
  {
    iss: Type.Literal('fuelpay-cloud'),
    jti: Nonce,
    sessionId: SessionId,
    stationId: StationId,
    pump: PumpNumber,
    vehicleId: VehicleId,
    maxAmountMinor: AmountMinor,
    currency: CurrencyCode,
    maxVolumeMilli: VolumeMilli,
    grades: Grades,
    iat: Seconds,
    exp: Seconds,
  },
  strict,
)
export type PumpAuthorizationClaims = Static<typeof PumpAuthorizationClaims>

export const BrokerCredentialClaims = Type.Object(
  {
    iss: Type.Literal('fuelpay-cloud'),
    sub: Type.String({ maxLength: 80 }),
    role: Type.Union([Type.Literal('vehicle'), Type.Literal('station'), Type.Literal('cloud')]),
    id: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$' }),
    iat: Seconds,
    exp: Seconds,
  },
  strict,
)
export type BrokerCredentialClaims = Static<typeof BrokerCredentialClaims>

export const ClientAssertionClaims = Type.Object(
  {
    iss: Type.String({ pattern: '^(vehicle|station):[A-Za-z0-9][A-Za-z0-9_-]{0,63}$' }),
    aud: Type.Literal('fuelpay-cloud'),
    jti: Nonce,
    iat: Seconds,
    exp: Seconds,
  },
  strict,
)
export type ClientAssertionClaims = Static<typeof ClientAssertionClaims>

export function newNonce(): string {
  return randomBytes(16).toString('base64url')
}

/** A fresh Ed25519 key pair with its public JWK (for JWKS and pairing). */
export async function generateSigningKey(
  kid: string,
): Promise<SigningKey & { publicKey: PublicKey; publicJwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair(ALG, {
    crv: 'Ed25519',
    extractable: true,
  })
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: ALG, use: 'sig' }
  return { kid, privateKey, publicKey, publicJwk }
}

export async function exportPrivateJwk(key: SigningKey): Promise<JWK> {
  return { ...(await exportJWK(key.privateKey)), kid: key.kid, alg: ALG }
}

export async function importSigningKey(jwk: JWK): Promise<SigningKey> {
  if (typeof jwk.kid !== 'string' || jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || !jwk.d) {
    throw new TypeError('expected an Ed25519 private JWK with a kid')
  }
  return { kid: jwk.kid, privateKey: (await importJWK(jwk, ALG)) as CryptoKey }
}

/**
 * The y coordinates (sign bit cleared) of the Ed25519 points of small order,
 * canonical and not (p - 1, p, p + 1), as libsodium lists them. With such a
 * public key, signatures verify without any private key: with the identity,
 * `R = identity, S = 0` verifies for every message; with the others, for one
 * message in 2, 4 or 8. A key like that is no key.
 */
const SMALL_ORDER_Y = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
]

function isSmallOrder(x: string): boolean {
  const y = Buffer.from(x, 'base64url')
  if (y.length !== 32) return true
  y[31] = (y[31] as number) & 0x7f
  return SMALL_ORDER_Y.includes(y.toString('hex'))
}

/** Imports a public Ed25519 JWK; refuses anything else (no RSA, no HMAC, no private parts, no small-order points). */
export async function importPublicKey(jwk: unknown): Promise<Result<PublicKey>> {
  const j = jwk as JWK
  if (
    typeof j !== 'object' ||
    j === null ||
    j.kty !== 'OKP' ||
    j.crv !== 'Ed25519' ||
    typeof j.x !== 'string' ||
    'd' in j
  ) {
    return fail('TOKEN_UNKNOWN_KEY', 'not a public Ed25519 JWK')
  }
  // 32 bytes are 43 base64url characters; anything else is not a point.
  if (!/^[A-Za-z0-9_-]{43}$/.test(j.x) || isSmallOrder(j.x))
    return fail('TOKEN_UNKNOWN_KEY', 'bad public key')
  try {
    return ok((await importJWK({ kty: 'OKP', crv: 'Ed25519', x: j.x }, ALG)) as CryptoKey)
  } catch {
    return fail('TOKEN_UNKNOWN_KEY', 'bad public key')
  }
}

async function sign(kind: TokenKind, payload: object, key: SigningKey): Promise<string> {
  return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader({ alg: ALG, typ: TYP[kind], kid: key.kid })
    .sign(key.privateKey)
}

/**
 * Verifies the signature and kind of a compact JWS and returns its payload
 * as JSON. Order matters: shape, then algorithm, then kind, then key, then
 * signature; nothing about the payload is believed before the signature.
 */
async function verifySignature(
  kind: TokenKind,
  token: unknown,
  keys: KeyLookup,
): Promise<Result<{ kid: string; payload: unknown }>> {
  // The signature segment may be empty here so that an unsigned (`alg: none`)
  // token is refused for its algorithm, which is what it is, not for its shape.
  if (
    typeof token !== 'string' ||
    token.length > MAX_TOKEN_CHARS ||
    !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token)
  ) {
    return fail('TOKEN_MALFORMED')
  }
  let header: ReturnType<typeof decodeProtectedHeader>
  try {
    header = decodeProtectedHeader(token)
  } catch {
    return fail('TOKEN_MALFORMED', 'bad header')
  }
  if (header.alg !== ALG)
    return fail('TOKEN_ALG_NOT_ALLOWED', `alg ${String(header.alg).slice(0, 20)} is not allowed`)
  if (header.typ !== TYP[kind]) return fail('TOKEN_MALFORMED', `expected typ ${TYP[kind]}`)
  if (header.crit !== undefined || header.b64 !== undefined)
    return fail('TOKEN_MALFORMED', 'unsupported header')
  const kid = header.kid
  if (typeof kid !== 'string' || !KID_RE.test(kid)) return fail('TOKEN_UNKNOWN_KEY', 'no key id')
  let key: Awaited<ReturnType<KeyLookup>>
  try {
    key = await keys(kid)
  } catch {
    return fail('UNAVAILABLE', 'key lookup failed')
  }
  if (key === 'revoked') return fail('KEY_REVOKED')
  if (key === undefined) return fail('TOKEN_UNKNOWN_KEY', `unknown key ${kid}`)
  let bytes: Uint8Array
  try {
    bytes = (await compactVerify(token, key, { algorithms: [ALG] })).payload
  } catch {
    return fail('TOKEN_BAD_SIGNATURE')
  }
  try {
    return ok({ kid, payload: JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) })
  } catch {
    return fail('TOKEN_MALFORMED', 'payload is not JSON')
  }
}

function checkTimes(iat: number, exp: number, nowMs: number): Result<true> {
  // Every comparison with NaN is false: a clock that is not a number would
  // make every token valid forever. Fail closed instead.
  if (typeof nowMs !== 'number' || !Number.isFinite(nowMs) || nowMs < 0)
    return fail('INTERNAL', 'verifier clock is not an epoch ms number')
  const now = Math.floor(nowMs / 1000)
  if (iat > now + CLOCK_SKEW_S) return fail('TOKEN_NOT_YET_VALID')
  if (exp <= iat) return fail('TOKEN_CLAIMS_INVALID', 'exp before iat')
  if (now >= exp + CLOCK_SKEW_S) return fail('TOKEN_EXPIRED')
  return ok(true)
}

// Pump authorization ------------------------------------------------------

/** Signs a pump authorization; `iat`/`exp` default from `now` and the 2-minute TTL. */
export async function signPumpAuthorization(
  claims: Omit<PumpAuthorizationClaims, 'iss' | 'iat' | 'exp' | 'jti'> &
    Partial<Pick<PumpAuthorizationClaims, 'iat' | 'exp' | 'jti'>>,
  key: SigningKey,
  nowMs = Date.now(),
): Promise<string> {
  const iat = claims.iat ?? Math.floor(nowMs / 1000)
  // Defaults go after the spread so that `jti: undefined` still gets a nonce.
  const full: PumpAuthorizationClaims = {
    iss: 'fuelpay-cloud',
    ...claims,
    jti: claims.jti ?? newNonce(),
    iat,
    exp: claims.exp ?? iat + PUMP_AUTHORIZATION_TTL_S,
  }
  const v = validate(PumpAuthorizationClaims, full)
  if (!v.ok) throw new TypeError(`invalid pump authorization claims: ${v.reason.message}`)
  return sign('pumpAuthorization', full, key)
}

export interface PumpAuthorizationExpectations {
  stationId: string
  pump: number
  /** The vehicle the broker authenticated as the sender. */
  vehicleId: string
}

/**
 * Verifies a pump authorization offline as a station does: pinned algorithm,
 * known and unrevoked key, signature, claims schema, issue and expiry times
 * against the injected clock, then station, pump and vehicle. Single use is
 * the station's journal's job, not this function's.
 */
export async function verifyPumpAuthorization(
  token: unknown,
  opts: { keys: KeyLookup; nowMs: number; expect?: PumpAuthorizationExpectations },
): Promise<Result<PumpAuthorizationClaims>> {
  const sig = await verifySignature('pumpAuthorization', token, opts.keys)
  if (!sig.ok) return sig
  const claims = validate(PumpAuthorizationClaims, sig.value.payload)
  if (!claims.ok) return fail('TOKEN_CLAIMS_INVALID', claims.reason.message)
  const c = claims.value
  if (c.exp - c.iat > 3600) return fail('TOKEN_CLAIMS_INVALID', 'lifetime over one hour')
  const times = checkTimes(c.iat, c.exp, opts.nowMs)
  if (!times.ok) return times
  const e = opts.expect
  if (e) {
    if (c.stationId !== e.stationId) return fail('WRONG_STATION')
    if (c.pump !== e.pump) return fail('WRONG_PUMP')
    if (c.vehicleId !== e.vehicleId) return fail('WRONG_VEHICLE')
  }
  return ok(c)
}

// Sale records ------------------------------------------------------------

/** Signs a sale record with the station's key. */
export async function signSaleRecord(record: SaleRecord, key: SigningKey): Promise<string> {
  const v = validate(SaleRecord, record)
  if (!v.ok) throw new TypeError(`invalid sale record: ${v.reason.message}`)
  return sign('sale', record, key)
}

/** Verifies a station-signed sale record; arithmetic is checked by `checkSaleArithmetic` (sale.ts). */
export async function verifySaleRecord(
  jws: unknown,
  keys: KeyLookup,
): Promise<Result<SaleRecord & { kid: string }>> {
  const sig = await verifySignature('sale', jws, keys)
  if (!sig.ok)
    return sig.reason.code === 'TOKEN_BAD_SIGNATURE' ? fail('SALE_SIGNATURE_INVALID') : sig
  const rec = validate(SaleRecord, sig.value.payload)
  if (!rec.ok) return rec
  return ok({ ...rec.value, kid: sig.value.kid })
}

// Broker credentials ------------------------------------------------------

export const BROKER_CREDENTIAL_TTL_S = 24 * 3600

/** A credential the broker verifies offline: MQTT username = client id, password = this token. */
export async function signBrokerCredential(
  identity: Identity,
  key: SigningKey,
  nowMs = Date.now(),
  ttlS = BROKER_CREDENTIAL_TTL_S,
): Promise<string> {
  const iat = Math.floor(nowMs / 1000)
  const claims: BrokerCredentialClaims = {
    iss: 'fuelpay-cloud',
    sub: `${identity.role}-${identity.id}`,
    role: identity.role,
    id: identity.id,
    iat,
    exp: iat + ttlS,
  }
  const v = validate(BrokerCredentialClaims, claims)
  if (!v.ok || claims.exp <= iat)
    throw new TypeError(`invalid broker credential: ${v.ok ? 'ttl' : v.reason.message}`)
  return sign('brokerCredential', claims, key)
}

export async function verifyBrokerCredential(
  token: unknown,
  opts: { keys: KeyLookup; nowMs: number },
): Promise<Result<Identity & { clientId: string; exp: number }>> {
  const sig = await verifySignature('brokerCredential', token, opts.keys)
  if (!sig.ok) return sig
  const claims = validate(BrokerCredentialClaims, sig.value.payload)
  if (!claims.ok) return fail('TOKEN_CLAIMS_INVALID', claims.reason.message)
  const c = claims.value
  if (c.sub !== `${c.role}-${c.id}`)
    return fail('TOKEN_CLAIMS_INVALID', 'sub does not match role and id')
  const times = checkTimes(c.iat, c.exp, opts.nowMs)
  if (!times.ok) return times
  return ok({ role: c.role, id: c.id, clientId: c.sub, exp: c.exp } as Identity & {
    clientId: string
    exp: number
  })
}

// Client assertions (vehicle and station HTTP credentials) ----------------

/** A short-lived assertion a vehicle or station signs with its own key to call the cloud. */
export async function signClientAssertion(
  subject: { role: 'vehicle' | 'station'; id: string },
  key: SigningKey,
  nowMs = Date.now(),
  ttlS = 60,
): Promise<string> {
  const iat = Math.floor(nowMs / 1000)
  const claims: ClientAssertionClaims = {
    iss: `${subject.role}:${subject.id}`,
    aud: 'fuelpay-cloud',
    jti: newNonce(),
    iat,
    exp: iat + Math.min(ttlS, MAX_CLIENT_ASSERTION_TTL_S),
  }
  const v = validate(ClientAssertionClaims, claims)
  if (!v.ok || claims.exp <= iat)
    throw new TypeError(`invalid client assertion: ${v.ok ? 'ttl' : v.reason.message}`)
  return sign('clientAssertion', claims, key)
}

/**
 * Verifies a client assertion. `keysFor` finds the public keys registered for
 * the claimed subject; the subject is read from the unverified payload only to
 * find its key, and believed only after the signature checks.
 */
export async function verifyClientAssertion(
  token: unknown,
  opts: {
    keysFor: (
      subject: { role: 'vehicle' | 'station'; id: string },
      kid: string,
    ) => ReturnType<KeyLookup>
    nowMs: number
  },
): Promise<Result<{ role: 'vehicle' | 'station'; id: string; jti: string; exp: number }>> {
  let subject: { role: 'vehicle' | 'station'; id: string } | undefined
  // Bounded before the unverified payload is decoded at all.
  if (typeof token === 'string' && token.length <= MAX_TOKEN_CHARS) {
    try {
      const body = JSON.parse(
        Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'),
      ) as { iss?: unknown }
      const m =
        typeof body.iss === 'string'
          ? /^(vehicle|station):([A-Za-z0-9][A-Za-z0-9_-]{0,63})$/.exec(body.iss)
          : null
      if (m) subject = { role: m[1] as 'vehicle' | 'station', id: m[2] as string }
    } catch {
      subject = undefined
    }
  }
  if (!subject) return fail('UNAUTHENTICATED')
  const s = subject
  const sig = await verifySignature('clientAssertion', token, (kid) => opts.keysFor(s, kid))
  // One answer for every failure before the signature checks: a message that
  // said "unknown key" or "revoked" would tell anyone which subjects and key
  // ids are registered (README 6.5, no oracle). A failing key store is ours.
  if (!sig.ok) return sig.reason.code === 'UNAVAILABLE' ? sig : fail('UNAUTHENTICATED')
  const claims = validate(ClientAssertionClaims, sig.value.payload)
  if (!claims.ok) return fail('UNAUTHENTICATED', claims.reason.message)
  const c = claims.value
  if (c.iss !== `${s.role}:${s.id}`) return fail('UNAUTHENTICATED')
  if (c.exp - c.iat > MAX_CLIENT_ASSERTION_TTL_S)
    return fail('UNAUTHENTICATED', 'assertion lives too long')
  const times = checkTimes(c.iat, c.exp, opts.nowMs)
  if (!times.ok) return fail('UNAUTHENTICATED', times.reason.message)
  return ok({ ...s, jti: c.jti, exp: c.exp })
}

// Key rings ---------------------------------------------------------------

export interface Jwks {
  keys: JWK[]
}

/**
 * A key ring built from a JWKS document, for verifying offline. Keys listed
 * in `revoked` answer 'revoked'; unknown ids answer undefined.
 */
export async function keyRingFromJwks(
  jwks: unknown,
  revoked: Iterable<string> = [],
): Promise<KeyLookup> {
  const keys = new Map<string, PublicKey>()
  const list = (jwks as Jwks | undefined)?.keys
  if (Array.isArray(list)) {
    for (const jwk of list.slice(0, 32)) {
      if (typeof jwk?.kid !== 'string' || (jwk.alg !== undefined && jwk.alg !== ALG)) continue
      // An encryption key is not a signing key, whatever its curve.
      if (jwk.use !== undefined && jwk.use !== 'sig') continue
      const k = await importPublicKey(jwk)
      if (k.ok) keys.set(jwk.kid, k.value)
    }
  }
  const gone = new Set(revoked)
  return (kid) => (gone.has(kid) ? 'revoked' : keys.get(kid))
}
