import { sql } from 'kysely'
import type { Db } from '../db/database.ts'
import { refuse } from '../errors/errors.ts'
import { refuseRepairing } from '../keys/paired-key.ts'

/**
 * Creates or updates a vehicle and pairs its public key (a new kid adds a
 * key; old keys keep working until revoked). A vehicle of another account is
 * refused FORBIDDEN, and a kid already paired must name the same unrevoked
 * key (refuseRepairing); either way nothing is changed. The account is
 * checked by the upsert itself, so two registrations racing for one new id
 * cannot both win.
 */
export async function upsertVehicle(
  db: Db,
  v: { id: string; accountId: string; fleetId?: string | undefined; name?: string | undefined; publicJwk: { kid: string } & Record<string, unknown> },
): Promise<void> {
  await db.transaction().execute(async (tx) => {
    const values = { account_id: v.accountId, fleet_id: v.fleetId ?? null, name: v.name ?? null }
    const mine = await tx
      .insertInto('vehicles')
      .values({ id: v.id, ...values })
      .onConflict((oc) => oc.column('id').doUpdateSet(values).where('vehicles.account_id', '=', v.accountId))
      .returning('id')
      .executeTakeFirst()
    if (!mine) throw refuse('FORBIDDEN', 'vehicle is paired to another account')
    const added = await tx
      .insertInto('vehicle_keys')
      .values({ vehicle_id: v.id, kid: v.publicJwk.kid, public_jwk: JSON.stringify(v.publicJwk) })
      .onConflict((oc) => oc.columns(['vehicle_id', 'kid']).doNothing())
      .returning('kid')
      .executeTakeFirst()
    if (!added) {
      const held = await tx
        .selectFrom('vehicle_keys')
        .select(['public_jwk', 'revoked_at'])
        .where('vehicle_id', '=', v.id)
        .where('kid', '=', v.publicJwk.kid)
        .executeTakeFirstOrThrow()
      refuseRepairing(held, v.publicJwk)
    }
  })
}

export function findVehicleById(db: Db, id: string) {
  return db.selectFrom('vehicles').selectAll().where('id', '=', id).executeTakeFirst()
}

/** Revokes a vehicle's key for good (a second revocation keeps the first time); false when the vehicle has no such key. */
export async function revokeVehicleKey(db: Db, vehicleId: string, kid: string, at: Date): Promise<boolean> {
  const row = await db
    .updateTable('vehicle_keys')
    .set({ revoked_at: sql<Date>`coalesce(revoked_at, ${at})` })
    .where('vehicle_id', '=', vehicleId)
    .where('kid', '=', kid)
    .returning('kid')
    .executeTakeFirst()
  return row !== undefined
}
