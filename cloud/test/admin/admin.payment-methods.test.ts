import t from 'tap'
import { ADMIN, authorize, call, makeCloud, provision } from '../helpers.ts'

t.test("a processor token already on another account is refused: that account's cars would spend this card", async (t) => {
  const cloud = await makeCloud(t)
  const { app, db } = cloud
  const victim = await provision(cloud)
  const thief = await provision(cloud, { forcedDecline: 'DECLINED' })
  const add = (accountId: string, processorToken: string) =>
    call(app, { method: 'POST', url: `/v1/admin/accounts/${accountId}/payment-methods`, auth: ADMIN, payload: { processorToken, brand: 'visa', last4: '4242', isDefault: true } })

  const stolen = await add(thief.accountId, victim.cardToken)
  t.equal(stolen.status, 403, stolen.raw)
  t.equal(stolen.body.error.code, 'FORBIDDEN')
  const methods = await db.selectFrom('payment_methods').select(['id', 'is_default']).where('account_id', '=', thief.accountId).execute()
  t.same(methods, [{ id: thief.paymentMethodId, is_default: true }], 'nothing was added and the default stands')
  t.equal((await authorize(cloud, thief, { amountMinor: 1000 })).body.error?.code, 'DECLINED', "the thief's car still pays with its own card")

  // The same token again on its own account is the method it already has, not a second one.
  const again = await add(victim.accountId, victim.cardToken)
  t.equal(again.status, 201, again.raw)
  t.equal(again.body.id, victim.paymentMethodId)
  t.equal((await db.selectFrom('payment_methods').select('id').where('account_id', '=', victim.accountId).execute()).length, 1)
})

t.test('one card added to two accounts at the same moment: one gets it, the other is refused', async (t) => {
  const cloud = await makeCloud(t)
  const { app, db } = cloud
  const a = await provision(cloud)
  const b = await provision(cloud)
  const card = await call(app, { method: 'POST', url: '/v1/admin/sim-processor/cards', auth: ADMIN, payload: { brand: 'visa', last4: '1111', availableMinor: 10_000, currency: 'EUR', expMonth: 12, expYear: 2030 } })
  t.equal(card.status, 201, card.raw)
  const token = card.body.token as string
  for (let round = 0; round < 5; round++) {
    await db.deleteFrom('payment_methods').where('processor_token', '=', token).execute()
    const answers = await Promise.all(
      [a, b, a].map((w) =>
        call(app, { method: 'POST', url: `/v1/admin/accounts/${w.accountId}/payment-methods`, auth: ADMIN, payload: { processorToken: token, brand: 'visa', last4: '1111' } }),
      ),
    )
    const held = await db.selectFrom('payment_methods').select(['id', 'account_id']).where('processor_token', '=', token).execute()
    t.equal(held.length, 1, `round ${round}: the card is on one account`)
    const owner = held[0]?.account_id
    t.same(
      answers.map((r, i) => ([a, b, a][i]?.accountId === owner ? [r.status, r.body.id] : [r.status, r.body.error?.code])),
      [a, b, a].map((w) => (w.accountId === owner ? [201, held[0]?.id] : [403, 'FORBIDDEN'])),
      `round ${round}: its owner hears its id (twice for a), the other FORBIDDEN`,
    )
  }
})
