import type { Db } from '../db/database.ts'
import { refuse } from '../errors/errors.ts'

export function upsertAccount(db: Db, a: { id: string; name: string; defaultHoldMinor?: number | undefined }) {
  const values = { name: a.name, default_hold_minor: a.defaultHoldMinor ?? null }
  return db
    .insertInto('accounts')
    .values({ id: a.id, ...values })
    .onConflict((oc) => oc.column('id').doUpdateSet(values))
    .execute()
}

export function findAccount(db: Db, id: string) {
  return db.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirst()
}

export function setVoiceCodeHash(db: Db, accountId: string, hash: string | null) {
  // A new code starts with a clean slate: the wrong tries of the old one (and their lock) go.
  return db.updateTable('accounts').set({ voice_code_hash: hash, voice_code_failures: 0, voice_code_locked_until: null }).where('id', '=', accountId).executeTakeFirst()
}

/**
 * Adds a payment method; the first one, or one marked default, becomes the
 * default. Answers the method's id: a token the account already has is that
 * method (nothing changes); a token on another account is refused FORBIDDEN,
 * since this account's cars would then spend that account's card.
 */
export async function insertPaymentMethod(
  db: Db,
  pm: { id: string; accountId: string; processorToken: string; brand: string; last4: string; name?: string | undefined; isDefault?: boolean | undefined },
): Promise<string> {
  try {
    return await insertOnce(db, pm)
  } catch (err) {
    // The same token inserted at the same moment (the unique index): decided as if it had come first.
    if ((err as { code?: string }).code !== '23505') throw err
    const holder = await db.selectFrom('payment_methods').select(['id', 'account_id']).where('processor_token', '=', pm.processorToken).executeTakeFirst()
    if (!holder) throw err
    if (holder.account_id !== pm.accountId) throw refuse('FORBIDDEN', 'the payment method belongs to another account')
    return holder.id
  }
}

function insertOnce(db: Db, pm: Parameters<typeof insertPaymentMethod>[1]): Promise<string> {
  return db.transaction().execute(async (tx) => {
    const existing = await tx.selectFrom('payment_methods').select('id').where('account_id', '=', pm.accountId).forUpdate().execute()
    const holder = await tx.selectFrom('payment_methods').select(['id', 'account_id']).where('processor_token', '=', pm.processorToken).executeTakeFirst()
    if (holder && holder.account_id !== pm.accountId) throw refuse('FORBIDDEN', 'the payment method belongs to another account')
    if (holder) return holder.id
    const isDefault = pm.isDefault === true || existing.length === 0
    if (isDefault) {
      await tx.updateTable('payment_methods').set({ is_default: false }).where('account_id', '=', pm.accountId).execute()
    }
    await tx
      .insertInto('payment_methods')
      .values({
        id: pm.id,
        account_id: pm.accountId,
        processor_token: pm.processorToken,
        brand: pm.brand,
        last4: pm.last4,
        name: pm.name ?? null,
        is_default: isDefault,
      })
      .execute()
    return pm.id
  })
}

export function listPaymentMethods(db: Db, accountId: string) {
  return db
    .selectFrom('payment_methods')
    .selectAll()
    .where('account_id', '=', accountId)
    .orderBy('is_default', 'desc')
    .orderBy('created_at')
    .execute()
}

export function findPaymentMethod(db: Db, id: string) {
  return db.selectFrom('payment_methods').selectAll().where('id', '=', id).executeTakeFirst()
}
