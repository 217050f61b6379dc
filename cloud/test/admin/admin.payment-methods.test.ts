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
