import { createHmac, sign as cryptoSign, generateKeyPairSync, KeyObject } from 'node:crypto'
import fc from 'fast-check'
import t from 'tap'
import {
  CLOCK_SKEW_S,
  exportPrivateJwk,
  generateSigningKey,
  importPublicKey,
  importSigningKey,
  type KeyLookup,
  keyRingFromJwks,
  MAX_CLIENT_ASSERTION_TTL_S,
  PUMP_AUTHORIZATION_TTL_S,
  type Result,
  type SigningKey,
  signBrokerCredential,
  signClientAssertion,
  signPumpAuthorization,
  signSaleRecord,
  TYP,
  verifyBrokerCredential,
  verifyClientAssertion,
  verifyPumpAuthorization,
  verifySaleRecord,
} from '../src/index.ts'
import { sale } from './fixtures.ts'

const NOW_MS = 1_750_000_000_000
const NOW_S = NOW_MS / 1000
const codeOf = (r: Result<unknown>) => (r.ok ? 'ok' : r.reason.code)
const b64 = (v: unknown) =>
  Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url')

const cloud = await generateSigningKey('cloud-2025-01')
const impostor = await generateSigningKey('cloud-2025-01') // same kid, another key
const station = await generateSigningKey('st-berlin-1:k1')
const car = await generateSigningKey('car7-k1')
const otherCar = await generateSigningKey('car8-k1')
const cloudKeys = await keyRingFromJwks({ keys: [cloud.publicJwk] }, ['cloud-2024-old'])
const stationKeys = await keyRingFromJwks({ keys: [station.publicJwk] })

/** Signs any header and payload with a real Ed25519 key: tokens the sign* functions refuse to make. */
async function signRaw(header: Record<string, unknown>, payload: unknown, key: SigningKey) {
  const h = b64({ alg: 'EdDSA', kid: key.kid, ...header })
  const p = b64(typeof payload === 'string' ? payload : JSON.stringify(payload))
  const pk: unknown = key.privateKey
  const k =
    pk instanceof KeyObject ? pk : KeyObject.from(pk as Parameters<typeof KeyObject.from>[0])
  return `${h}.${p}.${cryptoSign(null, Buffer.from(`${h}.${p}`), k).toString('base64url')}`
}

const claims = {
  sessionId: 'sess_0001',
  stationId: 'st-berlin-1',
  pump: 2,
  vehicleId: 'car7',
  maxAmountMinor: 10_000,
  currency: 'EUR' as const,
  maxVolumeMilli: 55_586,
  grades: ['diesel' as const],
}
const expect = { stationId: 'st-berlin-1', pump: 2, vehicleId: 'car7' }
const verifyPA = (token: unknown, nowMs = NOW_MS, keys: KeyLookup = cloudKeys) =>
  verifyPumpAuthorization(token, { keys, nowMs, expect })
const fullClaims = (over: Record<string, unknown> = {}) => ({
  iss: 'fuelpay-cloud',
  jti: 'nonce_0000000001',
  ...claims,
  iat: NOW_S,
  exp: NOW_S + 120,
  ...over,
})

t.test('pump authorization: sign and verify round trip', async (t) => {
  const token = await signPumpAuthorization(claims, cloud, NOW_MS)
  const [h, p] = token.split('.') as [string, string]
  t.same(JSON.parse(Buffer.from(h, 'base64url').toString()), {
    alg: 'EdDSA',
    typ: TYP.pumpAuthorization,
    kid: 'cloud-2025-01',
  })
  const payload = JSON.parse(Buffer.from(p, 'base64url').toString())
  t.equal(payload.iss, 'fuelpay-cloud')
  t.equal(payload.exp - payload.iat, PUMP_AUTHORIZATION_TTL_S)
  t.match(payload.jti, /^[A-Za-z0-9_-]{22}$/)
  const r = await verifyPA(token)
  t.ok(r.ok)
  if (r.ok) t.same(r.value, payload)
  t.ok(
    (await verifyPumpAuthorization(token, { keys: cloudKeys, nowMs: NOW_MS })).ok,
    'expectations are optional',
  )
  const t2 = await signPumpAuthorization({ ...claims, jti: undefined }, cloud, NOW_MS)
  t.ok((await verifyPA(t2)).ok, 'an explicit undefined jti gets a fresh nonce')
  const t3 = await signPumpAuthorization(
    { ...claims, jti: 'my-nonce-1', iat: NOW_S - 10, exp: NOW_S + 50 },
    cloud,
  )
  const r3 = await verifyPA(t3)
  t.ok(
    r3.ok && r3.value.jti === 'my-nonce-1' && r3.value.exp === NOW_S + 50,
    'given jti, iat, exp are kept',
  )
  const asyncKeys: KeyLookup = async (kid) => cloudKeys(kid)
  t.ok((await verifyPA(token, NOW_MS, asyncKeys)).ok, 'an async key lookup works')
})

t.test('pump authorization: signPumpAuthorization refuses bad claims', async (t) => {
  for (const bad of [
    { pump: 0 },
    { stationId: 'a/b' },
    { grades: [] },
    { currency: 'XXX' },
    { maxAmountMinor: -1 },
    { maxAmountMinor: 1.5 },
    { extra: 1 },
  ]) {
    await t.rejects(
      signPumpAuthorization({ ...claims, ...bad } as never, cloud, NOW_MS),
      TypeError,
      JSON.stringify(bad),
    )
  }
})

t.test('pump authorization: tampering', async (t) => {
  const token = await signPumpAuthorization(claims, cloud, NOW_MS)
  const [h, p, s] = token.split('.') as [string, string, string]
  const header = JSON.parse(Buffer.from(h, 'base64url').toString())
  const payload = JSON.parse(Buffer.from(p, 'base64url').toString())

  t.equal(
    codeOf(await verifyPA(`${b64({ ...header, x: 1 })}.${p}.${s}`)),
    'TOKEN_BAD_SIGNATURE',
    'header changed',
  )
  t.equal(
    codeOf(await verifyPA(`${h}.${b64({ ...payload, maxAmountMinor: 99_999 })}.${s}`)),
    'TOKEN_BAD_SIGNATURE',
    'amount raised',
  )
  t.equal(
    codeOf(await verifyPA(`${h}.${b64({ ...payload, pump: 3 })}.${s}`, NOW_MS)),
    'TOKEN_BAD_SIGNATURE',
    'pump changed',
  )
  const sig = Buffer.from(s, 'base64url')
  for (const i of [0, 31, 63]) {
    const bad = Buffer.from(sig)
    bad[i] = (bad[i] as number) ^ 0x01
    t.equal(
      codeOf(await verifyPA(`${h}.${p}.${bad.toString('base64url')}`)),
      'TOKEN_BAD_SIGNATURE',
      `signature byte ${i}`,
    )
  }
  t.equal(
    codeOf(await verifyPA(`${h}.${p}.${sig.subarray(0, 63).toString('base64url')}`)),
    'TOKEN_BAD_SIGNATURE',
    'short signature',
  )
  t.equal(codeOf(await verifyPA(`${h}.${p}.`)), 'TOKEN_BAD_SIGNATURE', 'signature removed')
  t.equal(codeOf(await verifyPA(`${h}.${p}.${s}.${s}`)), 'TOKEN_MALFORMED', 'four segments')

  // Any character of the signed segments, changed to any other, breaks the token.
  const signed = `${h}.${p}`
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  await fc.assert(
    fc.asyncProperty(fc.nat(signed.length - 1), fc.nat(63), async (at, c) => {
      if (signed[at] === '.') return true
      const ch = alphabet[c] === signed[at] ? alphabet[(c + 1) % 64] : alphabet[c]
      const forged = `${signed.slice(0, at)}${ch}${signed.slice(at + 1)}.${s}`
      return !(await verifyPA(forged)).ok
    }),
    { numRuns: 150 },
  )
})

t.test('pump authorization: algorithm pinning', async (t) => {
  const payload = fullClaims()
  const hdr = { typ: TYP.pumpAuthorization, kid: cloud.kid }
  const none = `${b64({ ...hdr, alg: 'none' })}.${b64(payload)}.`
  t.equal(codeOf(await verifyPA(none)), 'TOKEN_ALG_NOT_ALLOWED', 'alg none, no signature')
  const noneSig = `${b64({ ...hdr, alg: 'none' })}.${b64(payload)}.AAAA`
  t.equal(codeOf(await verifyPA(noneSig)), 'TOKEN_ALG_NOT_ALLOWED', 'alg none with junk signature')
  const noAlg = `${b64(hdr)}.${b64(payload)}.AAAA`
  t.equal(codeOf(await verifyPA(noAlg)), 'TOKEN_ALG_NOT_ALLOWED', 'no alg at all')

  // The classic confusion: HMAC keyed with the public key the verifier holds.
  const x = Buffer.from(cloud.publicJwk.x as string, 'base64url')
  const secrets = [
    x,
    Buffer.from(cloud.publicJwk.x as string),
    Buffer.from(JSON.stringify(cloud.publicJwk)),
  ]
  for (const secret of secrets) {
    const input = `${b64({ ...hdr, alg: 'HS256' })}.${b64(payload)}`
    const mac = createHmac('sha256', secret).update(input).digest('base64url')
    t.equal(
      codeOf(await verifyPA(`${input}.${mac}`)),
      'TOKEN_ALG_NOT_ALLOWED',
      'HS256 with public key bytes',
    )
  }
  for (const alg of ['ES256', 'RS256', 'Ed25519', 'eddsa', 'PS256']) {
    t.equal(
      codeOf(await verifyPA(`${b64({ ...hdr, alg })}.${b64(payload)}.AAAA`)),
      'TOKEN_ALG_NOT_ALLOWED',
      alg,
    )
  }
})

t.test('pump authorization: keys', async (t) => {
  const forged = await signPumpAuthorization(claims, impostor, NOW_MS)
  t.equal(codeOf(await verifyPA(forged)), 'TOKEN_BAD_SIGNATURE', 'another key with the same kid')
  const unknown = await signPumpAuthorization(
    claims,
    await generateSigningKey('cloud-2099'),
    NOW_MS,
  )
  t.equal(codeOf(await verifyPA(unknown)), 'TOKEN_UNKNOWN_KEY', 'unknown kid')
  const old = await signPumpAuthorization(
    claims,
    await generateSigningKey('cloud-2024-old'),
    NOW_MS,
  )
  t.equal(codeOf(await verifyPA(old)), 'KEY_REVOKED', 'revoked kid')
  const oldRing = await keyRingFromJwks({ keys: [cloud.publicJwk] }, [cloud.kid])
  const good = await signPumpAuthorization(claims, cloud, NOW_MS)
  t.equal(
    codeOf(await verifyPA(good, NOW_MS, oldRing)),
    'KEY_REVOKED',
    'revocation wins over a listed key',
  )
  t.equal(
    codeOf(
      await verifyPA(
        await signRaw({ typ: TYP.pumpAuthorization, kid: undefined }, fullClaims(), cloud),
      ),
    ),
    'TOKEN_UNKNOWN_KEY',
    'no kid',
  )
  t.equal(
    codeOf(
      await verifyPA(
        await signRaw({ typ: TYP.pumpAuthorization, kid: 'a b' }, fullClaims(), cloud),
      ),
    ),
    'TOKEN_UNKNOWN_KEY',
    'kid with a space',
  )
  t.equal(
    codeOf(
      await verifyPA(await signRaw({ typ: TYP.pumpAuthorization, kid: 7 }, fullClaims(), cloud)),
    ),
    'TOKEN_UNKNOWN_KEY',
    'numeric kid',
  )
  const failing: KeyLookup = () => {
    throw new Error('jwks fetch failed')
  }
  t.equal(codeOf(await verifyPA(good, NOW_MS, failing)), 'UNAVAILABLE', 'a failing key lookup')
  const wrongKind: KeyLookup = async () => (await generateSigningKey('x')).publicKey
  t.equal(
    codeOf(await verifyPA(good, NOW_MS, wrongKind)),
    'TOKEN_BAD_SIGNATURE',
    'a lookup that answers the wrong key',
  )
})

t.test('pump authorization: time, against the injected clock', async (t) => {
  const token = await signPumpAuthorization(claims, cloud, NOW_MS)
  const exp = NOW_S + PUMP_AUTHORIZATION_TTL_S
  t.ok((await verifyPA(token, (exp + CLOCK_SKEW_S) * 1000 - 1)).ok, 'valid until exp + skew')
  t.equal(
    codeOf(await verifyPA(token, (exp + CLOCK_SKEW_S) * 1000)),
    'TOKEN_EXPIRED',
    'expired at exp + skew',
  )
  t.equal(codeOf(await verifyPA(token, NOW_MS + 3_600_000)), 'TOKEN_EXPIRED', 'an hour later')
  t.ok(
    (await verifyPA(token, (NOW_S - CLOCK_SKEW_S) * 1000)).ok,
    'station clock behind by the skew',
  )
  t.equal(
    codeOf(await verifyPA(token, (NOW_S - CLOCK_SKEW_S - 1) * 1000)),
    'TOKEN_NOT_YET_VALID',
    'issued in the future',
  )
  const future = await signPumpAuthorization({ ...claims, iat: NOW_S + 600 }, cloud)
  t.equal(codeOf(await verifyPA(future)), 'TOKEN_NOT_YET_VALID', 'iat ten minutes ahead')
})

t.test('a verifier clock that is not a number fails closed', async (t) => {
  const pa = await signPumpAuthorization(claims, cloud, NOW_MS)
  const bc = await signBrokerCredential({ role: 'vehicle', id: 'car7' }, cloud, NOW_MS)
  const ca = await signClientAssertion({ role: 'vehicle', id: 'car7' }, car, NOW_MS)
  const keysFor = () => car.publicKey
  for (const nowMs of [Number.NaN, Number.POSITIVE_INFINITY, -1, undefined, '1750000000000']) {
    const n = nowMs as number
    t.equal(
      codeOf(await verifyPumpAuthorization(pa, { keys: cloudKeys, nowMs: n, expect })),
      'INTERNAL',
      `pump authorization, now ${nowMs}`,
    )
    t.equal(
      codeOf(await verifyBrokerCredential(bc, { keys: cloudKeys, nowMs: n })),
      'INTERNAL',
      `broker credential, now ${nowMs}`,
    )
    t.equal(
      codeOf(await verifyClientAssertion(ca, { keysFor, nowMs: n })),
      'UNAUTHENTICATED',
      `client assertion, now ${nowMs}`,
    )
  }
})

t.test('pump authorization: station, pump, vehicle', async (t) => {
  const token = await signPumpAuthorization(claims, cloud, NOW_MS)
  const v = (e: Partial<typeof expect>) =>
    verifyPumpAuthorization(token, { keys: cloudKeys, nowMs: NOW_MS, expect: { ...expect, ...e } })
  t.equal(codeOf(await v({ stationId: 'st-hamburg-2' })), 'WRONG_STATION')
  t.equal(codeOf(await v({ pump: 3 })), 'WRONG_PUMP')
  t.equal(codeOf(await v({ vehicleId: 'car8' })), 'WRONG_VEHICLE')
  t.equal(
    codeOf(await v({ stationId: 'st-hamburg-2', vehicleId: 'car8' })),
    'WRONG_STATION',
    'station is checked first',
  )
})

t.test('pump authorization: kind confusion (typ)', async (t) => {
  const saleJws = await signSaleRecord(sale, cloud)
  t.equal(
    codeOf(await verifyPA(saleJws)),
    'TOKEN_MALFORMED',
    'a sale JWS is not a pump authorization',
  )
  const cred = await signBrokerCredential({ role: 'vehicle', id: 'car7' }, cloud, NOW_MS)
  t.equal(
    codeOf(await verifyPA(cred)),
    'TOKEN_MALFORMED',
    'a broker credential is not a pump authorization',
  )
  const assertion = await signClientAssertion({ role: 'vehicle', id: 'car7' }, cloud, NOW_MS)
  t.equal(
    codeOf(await verifyPA(assertion)),
    'TOKEN_MALFORMED',
    'a client assertion is not a pump authorization',
  )
  for (const typ of [undefined, 'JWT', 'fuelpay-pump-auth', TYP.sale]) {
    t.equal(
      codeOf(await verifyPA(await signRaw({ typ }, fullClaims(), cloud))),
      'TOKEN_MALFORMED',
      `typ ${typ}`,
    )
  }
  const pa = await signPumpAuthorization(claims, cloud, NOW_MS)
  t.equal(
    codeOf(await verifySaleRecord(pa, cloudKeys)),
    'TOKEN_MALFORMED',
    'a pump authorization is not a sale',
  )
  t.equal(
    codeOf(await verifyBrokerCredential(pa, { keys: cloudKeys, nowMs: NOW_MS })),
    'TOKEN_MALFORMED',
    'nor a broker credential',
  )
  t.equal(
    codeOf(
      await verifyPA(
        await signRaw({ typ: TYP.pumpAuthorization, crit: ['exp'], exp: 1 }, fullClaims(), cloud),
      ),
    ),
    'TOKEN_MALFORMED',
    'crit header',
  )
  t.equal(
    codeOf(
      await verifyPA(
        await signRaw(
          { typ: TYP.pumpAuthorization, b64: false, crit: ['b64'] },
          fullClaims(),
          cloud,
        ),
      ),
    ),
    'TOKEN_MALFORMED',
    'unencoded payload option',
  )
})

t.test('pump authorization: claims failing the schema, signed with the right key', async (t) => {
  const hdr = { typ: TYP.pumpAuthorization }
  const { grades: _g, ...noGrades } = fullClaims()
  const cases: [string, unknown][] = [
    ['missing grades', noGrades],
    ['extra claim', fullClaims({ admin: true })],
    ['wrong issuer', fullClaims({ iss: 'someone-else' })],
    ['pump 0', fullClaims({ pump: 0 })],
    ['negative amount', fullClaims({ maxAmountMinor: -5 })],
    ['fractional amount', fullClaims({ maxAmountMinor: 10.5 })],
    ['string amount', fullClaims({ maxAmountMinor: '10000' })],
    ['unknown currency', fullClaims({ currency: 'XXX' })],
    ['exp before iat', fullClaims({ exp: NOW_S - 1 })],
    ['exp equal iat', fullClaims({ exp: NOW_S })],
    ['lifetime over an hour', fullClaims({ exp: NOW_S + 3601 })],
    ['short jti', fullClaims({ jti: 'abc' })],
    ['array payload', [fullClaims()]],
    ['null payload', null],
    [
      '__proto__ claim',
      JSON.parse(`{"__proto__":{"x":1},${JSON.stringify(fullClaims()).slice(1)}`),
    ],
  ]
  for (const [name, payload] of cases) {
    const token = await signRaw(hdr, payload === null ? 'null' : JSON.stringify(payload), cloud)
    t.equal(codeOf(await verifyPA(token)), 'TOKEN_CLAIMS_INVALID', name)
  }
  t.equal(
    codeOf(await verifyPA(await signRaw(hdr, 'not json', cloud))),
    'TOKEN_MALFORMED',
    'payload not JSON',
  )
  t.equal(
    codeOf(await verifyPA(await signRaw(hdr, Buffer.from([0xff, 0xfe]).toString('latin1'), cloud))),
    'TOKEN_MALFORMED',
    'payload not JSON (latin-1 bytes)',
  )
})

t.test('pump authorization: garbage', async (t) => {
  for (const token of [
    undefined,
    null,
    42,
    {},
    '',
    'a.b',
    'a.b.c.d',
    'a..c',
    '.b.c',
    'a b.c.d',
    `${'a'.repeat(4096)}.b.c`,
    'e30.e30.e30',
  ]) {
    const r = await verifyPA(token)
    t.notOk(r.ok, JSON.stringify(token)?.slice(0, 20) ?? 'undefined')
  }
  t.equal(codeOf(await verifyPA('bm90IGpzb24.e30.AAAA')), 'TOKEN_MALFORMED', 'header not JSON')
  await fc.assert(
    fc.asyncProperty(fc.string({ maxLength: 200 }), async (s) => {
      const r = await verifyPA(s)
      return !r.ok
    }),
    { numRuns: 200 },
  )
})

t.test('sale records', async (t) => {
  const jws = await signSaleRecord(sale, station)
  const r = await verifySaleRecord(jws, stationKeys)
  t.ok(r.ok)
  if (r.ok) t.same(r.value, { ...sale, kid: station.kid })
  const [h, p, s] = jws.split('.') as [string, string, string]
  const payload = JSON.parse(Buffer.from(p, 'base64url').toString())
  t.equal(
    codeOf(await verifySaleRecord(`${h}.${b64({ ...payload, amountMinor: 1 })}.${s}`, stationKeys)),
    'SALE_SIGNATURE_INVALID',
    'amount lowered',
  )
  t.equal(
    codeOf(await verifySaleRecord(`${h}.${p}.${s.slice(0, -4)}AAAA`, stationKeys)),
    'SALE_SIGNATURE_INVALID',
    'signature changed',
  )
  const other = await generateSigningKey(station.kid)
  t.equal(
    codeOf(await verifySaleRecord(await signSaleRecord(sale, other), stationKeys)),
    'SALE_SIGNATURE_INVALID',
    'another station key with the same kid',
  )
  t.equal(
    codeOf(await verifySaleRecord(await signSaleRecord(sale, car), stationKeys)),
    'TOKEN_UNKNOWN_KEY',
    'unknown kid',
  )
  const revoked = await keyRingFromJwks({ keys: [station.publicJwk] }, [station.kid])
  t.equal(codeOf(await verifySaleRecord(jws, revoked)), 'KEY_REVOKED')
  const noneJws = `${b64({ alg: 'none', typ: TYP.sale, kid: station.kid })}.${p}.`
  t.equal(codeOf(await verifySaleRecord(noneJws, stationKeys)), 'TOKEN_ALG_NOT_ALLOWED', 'alg none')
  t.equal(
    codeOf(
      await verifySaleRecord(
        await signRaw({ typ: TYP.sale }, { ...sale, pump: 0 }, station),
        stationKeys,
      ),
    ),
    'SCHEMA_INVALID',
    'bad record, right key',
  )
  t.equal(
    codeOf(
      await verifySaleRecord(
        await signRaw({ typ: TYP.sale }, { ...sale, extra: 1 }, station),
        stationKeys,
      ),
    ),
    'SCHEMA_INVALID',
    'extra field, right key',
  )
  t.equal(codeOf(await verifySaleRecord(42, stationKeys)), 'TOKEN_MALFORMED')
  await t.rejects(
    signSaleRecord({ ...sale, volumeMilli: -1 }, station),
    TypeError,
    'signSaleRecord refuses a bad record',
  )
  await t.rejects(signSaleRecord({ ...sale, extra: 1 } as never, station), TypeError)
})

t.test('broker credentials', async (t) => {
  const opts = { keys: cloudKeys, nowMs: NOW_MS }
  for (const identity of [
    { role: 'vehicle' as const, id: 'car7' },
    { role: 'station' as const, id: 'st-berlin-1' },
    { role: 'cloud' as const, id: 'cloud-1' },
  ]) {
    const token = await signBrokerCredential(identity, cloud, NOW_MS)
    const r = await verifyBrokerCredential(token, opts)
    t.same(
      r.ok && r.value,
      { ...identity, clientId: `${identity.role}-${identity.id}`, exp: NOW_S + 86_400 },
      identity.role,
    )
  }
  const token = await signBrokerCredential({ role: 'vehicle', id: 'car7' }, cloud, NOW_MS, 60)
  t.equal(
    codeOf(
      await verifyBrokerCredential(token, { ...opts, nowMs: NOW_MS + (60 + CLOCK_SKEW_S) * 1000 }),
    ),
    'TOKEN_EXPIRED',
  )
  t.equal(
    codeOf(
      await verifyBrokerCredential(token, { ...opts, nowMs: NOW_MS - (CLOCK_SKEW_S + 1) * 1000 }),
    ),
    'TOKEN_NOT_YET_VALID',
  )
  const hdr = { typ: TYP.brokerCredential }
  const base = {
    iss: 'fuelpay-cloud',
    sub: 'vehicle-car7',
    role: 'vehicle',
    id: 'car7',
    iat: NOW_S,
    exp: NOW_S + 60,
  }
  for (const [name, payload] of [
    ['sub names another vehicle', { ...base, sub: 'vehicle-car8' }],
    ['sub names another role', { ...base, sub: 'station-car7' }],
    ['role escalated to cloud', { ...base, role: 'cloud' }],
    ['unknown role', { ...base, role: 'operator', sub: 'operator-car7' }],
    ['id with a wildcard', { ...base, id: 'car+', sub: 'vehicle-car+' }],
    ['extra claim', { ...base, acl: '#' }],
    ['wrong issuer', { ...base, iss: 'me' }],
  ] as const) {
    t.equal(
      codeOf(await verifyBrokerCredential(await signRaw(hdr, payload, cloud), opts)),
      'TOKEN_CLAIMS_INVALID',
      name,
    )
  }
  t.ok(
    (await verifyBrokerCredential(await signRaw(hdr, base, cloud), opts)).ok,
    'the hand-made base is itself valid',
  )
  t.equal(
    codeOf(await verifyBrokerCredential(await signRaw(hdr, base, impostor), opts)),
    'TOKEN_BAD_SIGNATURE',
    'same kid, other key',
  )
  t.equal(
    codeOf(
      await verifyBrokerCredential(
        await signClientAssertion({ role: 'vehicle', id: 'car7' }, cloud, NOW_MS),
        opts,
      ),
    ),
    'TOKEN_MALFORMED',
    'a client assertion is not a broker credential',
  )
  await t.rejects(
    signBrokerCredential({ role: 'vehicle', id: 'car/7' }, cloud, NOW_MS),
    TypeError,
    'refuses a bad id',
  )
  await t.rejects(
    signBrokerCredential({ role: 'vehicle', id: 'car7' }, cloud, NOW_MS, 0),
    TypeError,
    'refuses a zero ttl',
  )
})

t.test('client assertions', async (t) => {
  const registered: Record<string, KeyLookup> = {
    'vehicle:car7': await keyRingFromJwks({ keys: [car.publicJwk] }),
    'vehicle:car8': await keyRingFromJwks({ keys: [otherCar.publicJwk] }),
  }
  const asked: string[] = []
  const keysFor = (s: { role: string; id: string }, kid: string) => {
    asked.push(`${s.role}:${s.id}/${kid}`)
    return registered[`${s.role}:${s.id}`]?.(kid)
  }
  const opts = { keysFor, nowMs: NOW_MS }
  const token = await signClientAssertion({ role: 'vehicle', id: 'car7' }, car, NOW_MS)
  const r = await verifyClientAssertion(token, opts)
  t.ok(r.ok)
  if (r.ok) {
    t.equal(r.value.role, 'vehicle')
    t.equal(r.value.id, 'car7')
    t.equal(r.value.exp, NOW_S + 60)
    t.match(r.value.jti, /^[A-Za-z0-9_-]{22}$/)
  }
  t.same(asked, ['vehicle:car7/car7-k1'], 'keys are looked up for the claimed subject only')

  const long = await signClientAssertion({ role: 'vehicle', id: 'car7' }, car, NOW_MS, 3600)
  const lr = await verifyClientAssertion(long, opts)
  t.ok(lr.ok && lr.value.exp - NOW_S === MAX_CLIENT_ASSERTION_TTL_S, 'signing caps the lifetime')
  const hdr = { typ: TYP.clientAssertion }
  const base = {
    iss: 'vehicle:car7',
    aud: 'fuelpay-cloud',
    jti: 'nonce_0000000001',
    iat: NOW_S,
    exp: NOW_S + 60,
  }
  t.ok(
    (await verifyClientAssertion(await signRaw(hdr, base, car), opts)).ok,
    'the hand-made base is valid',
  )
  t.equal(
    codeOf(
      await verifyClientAssertion(
        await signRaw(hdr, { ...base, exp: NOW_S + MAX_CLIENT_ASSERTION_TTL_S + 1 }, car),
        opts,
      ),
    ),
    'UNAUTHENTICATED',
    'lifetime over the cap',
  )
  t.equal(
    codeOf(
      await verifyClientAssertion(await signRaw(hdr, { ...base, iss: 'vehicle:car8' }, car), opts),
    ),
    'UNAUTHENTICATED',
    'car7 key claiming to be car8',
  )
  t.equal(
    codeOf(await verifyClientAssertion(await signRaw(hdr, base, otherCar), opts)),
    'UNAUTHENTICATED',
    'car8 key claiming to be car7',
  )
  t.equal(
    codeOf(
      await verifyClientAssertion(await signRaw(hdr, { ...base, iss: 'station:car7' }, car), opts),
    ),
    'UNAUTHENTICATED',
    'another role',
  )
  t.equal(
    codeOf(
      await verifyClientAssertion(await signRaw(hdr, { ...base, aud: 'elsewhere' }, car), opts),
    ),
    'UNAUTHENTICATED',
    'wrong audience',
  )
  t.equal(
    codeOf(await verifyClientAssertion(await signRaw(hdr, { ...base, iss: undefined }, car), opts)),
    'UNAUTHENTICATED',
    'no subject',
  )
  t.equal(
    codeOf(await verifyClientAssertion(await signRaw(hdr, { ...base, iss: 'cloud:x' }, car), opts)),
    'UNAUTHENTICATED',
    'cloud is not a client',
  )
  t.equal(
    codeOf(
      await verifyClientAssertion(await signRaw({ typ: TYP.pumpAuthorization }, base, car), opts),
    ),
    'UNAUTHENTICATED',
    'wrong typ',
  )
  t.equal(
    codeOf(
      await verifyClientAssertion(token, { ...opts, nowMs: NOW_MS + (60 + CLOCK_SKEW_S) * 1000 }),
    ),
    'UNAUTHENTICATED',
    'expired',
  )
  t.equal(
    codeOf(
      await verifyClientAssertion(token, { ...opts, nowMs: NOW_MS - (CLOCK_SKEW_S + 1) * 1000 }),
    ),
    'UNAUTHENTICATED',
    'issued in the future',
  )
  t.equal(
    codeOf(
      await verifyClientAssertion(
        `${b64({ alg: 'none', ...hdr, kid: car.kid })}.${b64(base)}.`,
        opts,
      ),
    ),
    'UNAUTHENTICATED',
    'alg none',
  )
  for (const junk of [undefined, 42, '', 'a.b.c', `x.${b64(null)}.y`, `x.${'A'.repeat(5000)}.y`]) {
    t.equal(
      codeOf(await verifyClientAssertion(junk, opts)),
      'UNAUTHENTICATED',
      String(junk).slice(0, 20),
    )
  }
  // No oracle: an unsigned caller learns nothing about which subjects and
  // key ids are registered or revoked from the answer, message included.
  const revokedKeys: Record<string, KeyLookup> = {
    ...registered,
    'vehicle:car9': await keyRingFromJwks({ keys: [otherCar.publicJwk] }, [otherCar.kid]),
  }
  const withRevoked = {
    nowMs: NOW_MS,
    keysFor: (s: { role: string; id: string }, kid: string) =>
      revokedKeys[`${s.role}:${s.id}`]?.(kid),
  }
  const refusals = [
    await verifyClientAssertion(await signRaw(hdr, base, otherCar), withRevoked),
    await verifyClientAssertion(await signRaw({ ...hdr, kid: 'nope-k1' }, base, car), withRevoked),
    await verifyClientAssertion(
      await signRaw(hdr, { ...base, iss: 'vehicle:nobody' }, car),
      withRevoked,
    ),
    await verifyClientAssertion(
      await signRaw({ ...hdr, kid: otherCar.kid }, { ...base, iss: 'vehicle:car9' }, car),
      withRevoked,
    ),
    await verifyClientAssertion(
      `${b64({ alg: 'none', ...hdr, kid: car.kid })}.${b64(base)}.`,
      withRevoked,
    ),
    await verifyClientAssertion(`${b64({ ...hdr, kid: car.kid })}.${b64(base)}.!!`, withRevoked),
    await verifyClientAssertion('junk', withRevoked),
  ]
  for (const r of refusals) t.same(r, refusals[0], 'the same answer, message included')
  t.equal(codeOf(refusals[0] as Result<unknown>), 'UNAUTHENTICATED')
  const down = { nowMs: NOW_MS, keysFor: () => Promise.reject(new Error('db down')) }
  t.equal(
    codeOf(await verifyClientAssertion(token, down)),
    'UNAVAILABLE',
    'a failing key store is not a bad credential',
  )
  await t.rejects(
    signClientAssertion({ role: 'vehicle', id: '' }, car, NOW_MS),
    TypeError,
    'refuses an empty id',
  )
  await t.rejects(
    signClientAssertion({ role: 'vehicle', id: 'car7' }, car, NOW_MS, 0),
    TypeError,
    'refuses a zero ttl',
  )
})

t.test('keyRingFromJwks and key import', async (t) => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const x25519 = generateKeyPairSync('x25519')
  const edPrivate = await exportPrivateJwk(car)
  const jwks = {
    keys: [
      null,
      'junk',
      { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'rsa-1', alg: 'RS256' },
      { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'rsa-2' },
      { ...x25519.publicKey.export({ format: 'jwk' }), kid: 'x-1' },
      { ...edPrivate, kid: 'private-1' },
      { ...cloud.publicJwk, kid: 'enc-1', use: 'enc' },
      { ...cloud.publicJwk, kid: 'hs-1', alg: 'HS256' },
      { ...cloud.publicJwk, kid: undefined },
      { kty: 'oct', k: 'c2VjcmV0', kid: 'oct-1' },
      { ...cloud.publicJwk, x: 'not-a-key', kid: 'bad-x' },
      cloud.publicJwk,
      { ...station.publicJwk, alg: undefined, use: undefined },
    ],
  }
  const ring = await keyRingFromJwks(jwks, ['gone'])
  for (const kid of [
    'rsa-1',
    'rsa-2',
    'x-1',
    'private-1',
    'enc-1',
    'hs-1',
    'oct-1',
    'bad-x',
    'nope',
  ]) {
    t.equal(await ring(kid), undefined, `${kid} is ignored`)
  }
  t.ok(await ring(cloud.kid), 'the Ed25519 public key is kept')
  t.ok(await ring(station.kid), 'alg and use may be absent')
  t.equal(await ring('gone'), 'revoked')
  for (const junk of [undefined, null, 42, {}, { keys: 'x' }, { keys: [1, 2] }]) {
    const empty = await keyRingFromJwks(junk)
    t.equal(await empty(cloud.kid), undefined, `JWKS ${JSON.stringify(junk)}`)
  }
  const many = await Promise.all(Array.from({ length: 40 }, (_, i) => generateSigningKey(`k${i}`)))
  const capped = await keyRingFromJwks({ keys: many.map((k) => k.publicJwk) })
  t.ok(await capped('k31'))
  t.equal(await capped('k32'), undefined, 'at most 32 keys are read')

  t.notOk((await importPublicKey(edPrivate)).ok, 'importPublicKey refuses a private key')
  t.notOk((await importPublicKey(null)).ok)
  t.ok((await importPublicKey(car.publicJwk)).ok)
  const back = await importSigningKey(edPrivate)
  t.equal(back.kid, car.kid)
  const signed = await signClientAssertion({ role: 'vehicle', id: 'car7' }, back, NOW_MS)
  t.ok(
    (
      await verifyClientAssertion(signed, {
        nowMs: NOW_MS,
        keysFor: (_s, kid) => (kid === car.kid ? car.publicKey : undefined),
      })
    ).ok,
    'an imported private JWK signs',
  )
  await t.rejects(
    importSigningKey(car.publicJwk),
    TypeError,
    'importSigningKey refuses a public key',
  )
  await t.rejects(
    importSigningKey({ ...edPrivate, kid: undefined }),
    TypeError,
    'and a key without kid',
  )
})

t.test('a small-order public key is no key: with it anyone signs anything', async (t) => {
  const smallOrderY = [
    '0000000000000000000000000000000000000000000000000000000000000000',
    '0100000000000000000000000000000000000000000000000000000000000000',
    '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
    'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
    'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
    'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
    'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  ]
  for (const y of smallOrderY) {
    for (const sign of [0, 0x80]) {
      const bytes = Buffer.from(y, 'hex')
      bytes[31] = (bytes[31] as number) | sign
      const x = bytes.toString('base64url')
      const jwk = { kty: 'OKP', crv: 'Ed25519', x, kid: 'weak', alg: 'EdDSA', use: 'sig' }
      t.equal(codeOf(await importPublicKey(jwk)), 'TOKEN_UNKNOWN_KEY', `x = ${x}`)
      t.equal(await (await keyRingFromJwks({ keys: [jwk] }))('weak'), undefined, `ring, x = ${x}`)
    }
  }
  for (const x of ['', 'AAAA', `${car.publicJwk.x}A`, `${car.publicJwk.x}=`])
    t.notOk((await importPublicKey({ ...car.publicJwk, x })).ok, `x of ${x.length} characters`)

  // The identity point: R = identity, S = 0 verifies for every message.
  const identity = Buffer.alloc(32)
  identity[0] = 1
  const ring = await keyRingFromJwks({
    keys: [{ kty: 'OKP', crv: 'Ed25519', x: identity.toString('base64url'), kid: 'weak' }],
  })
  const forged = `${b64({ alg: 'EdDSA', typ: TYP.sale, kid: 'weak' })}.${b64(sale)}.${Buffer.concat([identity, Buffer.alloc(32)]).toString('base64url')}`
  t.equal(codeOf(await verifySaleRecord(forged, ring)), 'TOKEN_UNKNOWN_KEY', 'a forged sale')
})
