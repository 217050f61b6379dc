import { generateSigningKey, signPumpAuthorization, verifyPumpAuthorization } from '@fuelpay/proto'
import t from 'tap'
import { createKeyCache } from '../../src/keys/key-cache.ts'

const k1 = await generateSigningKey('k1')
const k2 = await generateSigningKey('k2')
const claims = {
  sessionId: 'ses1',
  stationId: 'st1',
  pump: 1,
  vehicleId: 'car7',
  maxAmountMinor: 5000,
  currency: 'EUR' as const,
  maxVolumeMilli: 50_000,
  grades: ['diesel' as const],
}

t.test('unknown kid refreshes (rate-limited); rotation; revocation', async (t) => {
  let now = 1_000_000
  let doc: unknown = { keys: [k1.publicJwk] }
  let fetches = 0
  const cache = createKeyCache({
    fetchJwks: async () => {
      fetches++
      return doc
    },
    clock: { now: () => now },
    minRefreshIntervalMs: 10_000,
  })
  const verify = async (key: typeof k1) =>
    verifyPumpAuthorization(await signPumpAuthorization(claims, key, now), {
      keys: cache.lookup,
      nowMs: now,
    })
  t.ok((await verify(k1)).ok, 'first use fetches')
  t.equal(fetches, 1)
  t.ok((await verify(k1)).ok)
  t.equal(fetches, 1, 'known keys do not fetch')
  // rotation: k2 appears in the cloud's JWKS
  doc = { keys: [k1.publicJwk, k2.publicJwk] }
  now += 1000
  const early = await verify(k2)
  t.equal(
    early.ok ? 'ok' : early.reason.code,
    'TOKEN_UNKNOWN_KEY',
    'within the rate limit: no refresh',
  )
  t.equal(fetches, 1)
  now += 10_000
  t.ok((await verify(k2)).ok, 'after the interval an unknown kid refreshes')
  t.equal(fetches, 2)
  // a flood of unknown kids does not hammer the cloud
  const rogue = await generateSigningKey('rogue')
  now += 10_000
  for (let i = 0; i < 20; i++) await verify(rogue)
  t.equal(fetches, 3, 'one refresh for the flood')
  // revocation
  doc = { keys: [k2.publicJwk], revoked: ['k1'] }
  now += 10_000
  t.ok(await cache.refresh())
  const r = await verify(k1)
  t.equal(r.ok ? 'ok' : r.reason.code, 'KEY_REVOKED')
  doc = { keys: [k1.publicJwk, k2.publicJwk] }
  await cache.refresh()
  const still = await verify(k1)
  t.equal(still.ok ? 'ok' : still.reason.code, 'KEY_REVOKED', 'a revoked key stays revoked')
  t.same(cache.kids.sort(), ['k2'])
})

t.test('bad documents and failed fetches keep what we had', async (t) => {
  let fail = false
  const cache = createKeyCache({
    fetchJwks: async () => {
      if (fail) throw new Error('down')
      return {
        keys: [
          k1.publicJwk,
          { kid: 'x', kty: 'RSA', n: 'a', e: 'AQAB' },
          { kid: 'h', kty: 'oct', k: 'c2VjcmV0' },
        ],
      }
    },
    minRefreshIntervalMs: 0,
  })
  t.ok(await cache.refresh())
  t.same(cache.kids, ['k1'], 'only Ed25519 public keys are taken')
  fail = true
  t.notOk(await cache.refresh())
  t.same(cache.kids, ['k1'], 'a failed refresh keeps the cached keys (offline verification)')
  t.notOk(await cache.load('garbage'), 'a persisted document that is not a key set is refused')
  t.same(cache.kids, ['k1'])
})

t.test(
  'an answer that is not a usable key set is refused: keys kept, only revocations persisted',
  async (t) => {
    let doc: unknown = { keys: [k1.publicJwk] }
    const persisted: unknown[] = []
    const cache = createKeyCache({
      fetchJwks: async () => doc,
      minRefreshIntervalMs: 0,
      persist: async (d) => {
        persisted.push(d)
      },
    })
    t.ok(await cache.refresh())
    t.equal(persisted.length, 1)
    const now = Date.now()
    const verify = async () =>
      verifyPumpAuthorization(await signPumpAuthorization(claims, k1, now), {
        keys: cache.lookup,
        nowMs: now,
      })
    const bad: [string, unknown][] = [
      // What cloud-client makes of a 200 with an HTML body (a captive portal, a proxy's login page).
      ['an HTML page', { raw: '<html>login</html>' }],
      ['an empty object', {}],
      ['an empty body', undefined],
      ['null', null],
      ['keys not an array', { keys: { kid: 'k1' } }],
      ['an empty key set', { keys: [] }],
      ['no usable key', { keys: [{ kid: 'x', kty: 'RSA', n: 'a', e: 'AQAB' }] }],
    ]
    for (const [what, d] of bad) {
      doc = d
      t.notOk(await cache.refresh(), `${what}: refused`)
      t.same(cache.kids, ['k1'], `${what}: the cached keys stay`)
      t.ok((await verify()).ok, `${what}: tokens still verify`)
    }
    t.equal(persisted.length, 1, 'none of them was persisted')
    // A set whose only key is revoked: refused as a set, but the revocation is taken.
    doc = { keys: [], revoked: ['k1'] }
    t.notOk(await cache.refresh())
    const r = await verify()
    t.equal(r.ok ? 'ok' : r.reason.code, 'KEY_REVOKED', 'a revocation only narrows trust: kept')
    t.same(
      persisted.at(-1),
      { keys: [k1.publicJwk], revoked: ['k1'] },
      'the cached set is journaled again, with the revocation',
    )
  },
)

t.test('a revocation outlives a restart without the cloud', async (t) => {
  // The cloud pulls its only key (compromised) before a new one is out: the set is
  // refused as a key set, but the revocation must not end with the process.
  let doc: unknown = { keys: [k1.publicJwk] }
  let stored: unknown
  const cache = createKeyCache({
    fetchJwks: async () => doc,
    minRefreshIntervalMs: 0,
    persist: async (d) => {
      stored = d
    },
  })
  t.ok(await cache.refresh())
  doc = { keys: [], revoked: ['k1'] }
  t.notOk(await cache.refresh())
  const now = Date.now()
  const token = await signPumpAuthorization(claims, k1, now)
  const before = await verifyPumpAuthorization(token, { keys: cache.lookup, nowMs: now })
  t.equal(before.ok ? 'ok' : before.reason.code, 'KEY_REVOKED')

  // The station restarts with the cloud unreachable: only the journaled set to go by.
  const again = createKeyCache({
    fetchJwks: async () => {
      throw new Error('cloud unreachable')
    },
    minRefreshIntervalMs: 0,
  })
  await again.load(stored)
  const after = await verifyPumpAuthorization(token, { keys: again.lookup, nowMs: now })
  t.equal(after.ok ? 'ok' : after.reason.code, 'KEY_REVOKED', 'still revoked after the restart')
})
