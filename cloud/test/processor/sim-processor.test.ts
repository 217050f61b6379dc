import { openDatabase } from '@fuelpay/platform'
import { createTestDatabase } from '@fuelpay/platform/test-db'
import t from 'tap'
import type { Tables } from '../../src/db/database.ts'
import { migrateToLatest } from '../../src/db/migrator.ts'
import { findSimCard, insertSimCard } from '../../src/processor/sim-processor.repository.ts'
import { createSimProcessor } from '../../src/processor/sim-processor.ts'

async function setup(t: { teardown(fn: () => unknown): void }) {
  const tdb = await createTestDatabase()
  const handle = await openDatabase<Tables>({ url: tdb.url, dataDir: tdb.dataDir })
  t.teardown(async () => {
    await handle.close()
    await tdb.cleanup()
  })
  await migrateToLatest(handle.db)
  const card = (token: string, availableMinor: number) =>
    insertSimCard(handle.db, { token, brand: 'visa', last4: '4242', currency: 'EUR', availableMinor, expMonth: 12, expYear: 2099 })
  return { db: handle.db, processor: createSimProcessor({ db: handle.db }), card }
}

t.test('concurrent authorizations on one card never exceed its credit', async (t) => {
  const { db, processor, card } = await setup(t)
  await card('c1', 10_000)
  const rs = await Promise.all(
    Array.from({ length: 12 }, (_, i) =>
      processor.authorize({ cardToken: 'c1', amountMinor: 2_000, currency: 'EUR', idempotencyKey: `a${i}`, allowPartial: false }),
    ),
  )
  const approved = rs.filter((r) => r.ok)
  t.equal(approved.length, 5, 'five full holds fit')
  t.ok(rs.filter((r) => !r.ok).every((r) => !r.ok && r.reason.code === 'INSUFFICIENT_FUNDS'), 'the rest are declined for funds')
  t.equal(Number((await findSimCard(db, 'c1'))?.available_minor), 0)

  await card('c2', 10_000)
  const partial = await Promise.all(
    Array.from({ length: 5 }, (_, i) =>
      processor.authorize({ cardToken: 'c2', amountMinor: 3_000, currency: 'EUR', idempotencyKey: `p${i}`, allowPartial: true }),
    ),
  )
  const total = partial.reduce((s, r) => s + (r.ok ? r.value.approvedMinor : 0), 0)
  t.equal(total, 10_000, 'partial approvals add up to the credit exactly')
  t.equal(Number((await findSimCard(db, 'c2'))?.available_minor), 0)

  const first = approved[0]
  if (!first?.ok) throw new Error('no approval')
  const cap = await processor.capture({ authId: first.value.authId, amountMinor: 1_500, idempotencyKey: 'cap1' })
  t.same(cap, { ok: true, value: { capturedMinor: 1_500 } })
  t.equal(Number((await findSimCard(db, 'c1'))?.available_minor), 500, 'the uncaptured rest returns to the card')
  const second = approved[1]
  if (!second?.ok) throw new Error('no approval')
  t.ok((await processor.void({ authId: second.value.authId, idempotencyKey: 'v1' })).ok)
  t.ok((await processor.void({ authId: second.value.authId, idempotencyKey: 'v1' })).ok, 'void replay')
  t.equal(Number((await findSimCard(db, 'c1'))?.available_minor), 2_500, 'a void returns the hold once')
})

t.test('concurrent duplicates of one authorization hold once and answer alike', async (t) => {
  const { db, processor, card } = await setup(t)
  await card('c1', 10_000)
  const rs = await Promise.all(
    Array.from({ length: 6 }, () =>
      processor.authorize({ cardToken: 'c1', amountMinor: 2_500, currency: 'EUR', idempotencyKey: 'same', allowPartial: true }),
    ),
  )
  const ids = new Set(rs.map((r) => (r.ok ? r.value.authId : 'declined')))
  t.equal(ids.size, 1, 'one authorization')
  t.ok(rs.every((r) => r.ok && r.value.approvedMinor === 2_500))
  t.equal(Number((await findSimCard(db, 'c1'))?.available_minor), 7_500, 'debited once')
  const again = await processor.authorize({ cardToken: 'c1', amountMinor: 2_500, currency: 'EUR', idempotencyKey: 'same', allowPartial: true })
  t.same(again, rs[0], 'a later retry gets the stored answer')
})

t.test('declines: unknown card, expired, wrong currency, forced, no credit', async (t) => {
  const { db, processor, card } = await setup(t)
  const auth = (cardToken: string, key: string, extra: Partial<{ currency: string; amountMinor: number }> = {}) =>
    processor.authorize({ cardToken, amountMinor: extra.amountMinor ?? 1_000, currency: extra.currency ?? 'EUR', idempotencyKey: key, allowPartial: true })
  const code = (r: Awaited<ReturnType<typeof auth>>) => (r.ok ? 'ok' : r.reason.code)
  t.equal(code(await auth('nope', 'k0')), 'DECLINED')
  await insertSimCard(db, { token: 'old', brand: 'visa', last4: '1111', currency: 'EUR', availableMinor: 5_000, expMonth: 1, expYear: 2000 })
  t.equal(code(await auth('old', 'k1')), 'CARD_EXPIRED')
  await card('c1', 5_000)
  t.equal(code(await auth('c1', 'k2', { currency: 'USD' })), 'DECLINED')
  t.equal(code(await auth('c1', 'k3', { amountMinor: 6_000_000 })), 'SUSPECTED_FRAUD')
  t.equal(code(await auth('c1', 'k2', { currency: 'USD' })), 'DECLINED', 'a declined key replays its decline')
  await card('empty', 0)
  t.equal(code(await auth('empty', 'k4')), 'INSUFFICIENT_FUNDS')
  await db.updateTable('sim_cards').set({ forced_decline: 'SUSPECTED_FRAUD' }).where('token', '=', 'c1').execute()
  t.equal(code(await auth('c1', 'k5')), 'SUSPECTED_FRAUD')
  t.equal(Number((await findSimCard(db, 'c1'))?.available_minor), 5_000, 'declines take no credit')
})

t.test('captures and voids: concurrent duplicates settle once; refusals change nothing', async (t) => {
  const { db, processor, card } = await setup(t)
  await card('c1', 10_000)
  const hold = async (key: string) => {
    const r = await processor.authorize({ cardToken: 'c1', amountMinor: 3_000, currency: 'EUR', idempotencyKey: key, allowPartial: false })
    if (!r.ok) throw new Error(`no hold: ${r.reason.code}`)
    return r.value.authId
  }
  const a = await hold('h1')
  const b = await hold('h2')
  t.equal(Number((await findSimCard(db, 'c1'))?.available_minor), 4_000)

  const over = await processor.capture({ authId: a, amountMinor: 3_001, idempotencyKey: 'over' })
  t.match(over, { ok: false, reason: { code: 'AMOUNT_OUT_OF_RANGE' } }, 'a capture above the hold is refused')
  t.equal(Number((await findSimCard(db, 'c1'))?.available_minor), 4_000, 'and changes nothing')

  const caps = await Promise.all(Array.from({ length: 6 }, () => processor.capture({ authId: a, amountMinor: 1_000, idempotencyKey: 'cap-a' })))
  t.ok(caps.every((r) => r.ok && r.value.capturedMinor === 1_000), 'every duplicate gets the same answer')
  t.equal(Number((await findSimCard(db, 'c1'))?.available_minor), 6_000, 'the rest of the hold came back once')
  const other = await processor.capture({ authId: a, amountMinor: 500, idempotencyKey: 'cap-a-2' })
  t.match(other, { ok: false, reason: { code: 'DECLINED' } }, 'a second capture under another key is declined')
  t.match(await processor.void({ authId: a, idempotencyKey: 'void-a' }), { ok: false, reason: { code: 'DECLINED' } }, 'a captured hold cannot be voided')

  const voids = await Promise.all(Array.from({ length: 6 }, () => processor.void({ authId: b, idempotencyKey: 'void-b' })))
  t.ok(voids.every((r) => r.ok), 'every duplicate void succeeds')
  t.equal(Number((await findSimCard(db, 'c1'))?.available_minor), 9_000, 'the voided hold came back once')
  t.match(await processor.capture({ authId: b, amountMinor: 100, idempotencyKey: 'cap-b' }), { ok: false, reason: { code: 'DECLINED' } })
  t.equal(Number((await findSimCard(db, 'c1'))?.available_minor), 9_000)
})

t.test('a card with some credit left: a full hold is declined, a partial one gets what is left', async (t) => {
  const { db, processor, card } = await setup(t)
  await card('c1', 1_500)
  const full = await processor.authorize({ cardToken: 'c1', amountMinor: 2_000, currency: 'EUR', idempotencyKey: 'f', allowPartial: false })
  t.match(full, { ok: false, reason: { code: 'INSUFFICIENT_FUNDS' } })
  t.equal(Number((await findSimCard(db, 'c1'))?.available_minor), 1_500, 'the decline took nothing')
  const part = await processor.authorize({ cardToken: 'c1', amountMinor: 2_000, currency: 'EUR', idempotencyKey: 'p', allowPartial: true })
  t.match(part, { ok: true, value: { approvedMinor: 1_500 } })
  t.equal(Number((await findSimCard(db, 'c1'))?.available_minor), 0)
})
