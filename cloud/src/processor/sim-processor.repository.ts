import type { Db } from '../db/database.ts'

export function insertSimCard(
  db: Db,
  card: {
    token: string
    brand: string
    last4: string
    currency: string
    availableMinor: number
    expMonth: number
    expYear: number
    forcedDecline?: string | null
  },
) {
  return db
    .insertInto('sim_cards')
    .values({
      token: card.token,
      brand: card.brand,
      last4: card.last4,
      currency: card.currency,
      available_minor: card.availableMinor,
      exp_month: card.expMonth,
      exp_year: card.expYear,
      forced_decline: card.forcedDecline ?? null,
    })
    .execute()
}

export function findSimCard(db: Db, token: string) {
  return db.selectFrom('sim_cards').selectAll().where('token', '=', token).executeTakeFirst()
}

export function setSimCardDecline(db: Db, token: string, decline: string | null) {
  return db.updateTable('sim_cards').set({ forced_decline: decline }).where('token', '=', token).execute()
}
