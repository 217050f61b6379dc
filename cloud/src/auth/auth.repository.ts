import type { Db } from '../db/database.ts'

export function findVehicleKey(db: Db, vehicleId: string, kid: string) {
  return db
    .selectFrom('vehicle_keys')
    .innerJoin('vehicles', 'vehicles.id', 'vehicle_keys.vehicle_id')
    .select(['vehicle_keys.public_jwk', 'vehicle_keys.revoked_at', 'vehicles.account_id', 'vehicles.fleet_id'])
    .where('vehicle_keys.vehicle_id', '=', vehicleId)
    .where('vehicle_keys.kid', '=', kid)
    .executeTakeFirst()
}

export function findStationKey(db: Db, stationId: string, kid: string) {
  return db
    .selectFrom('station_keys')
    .select(['public_jwk', 'revoked_at'])
    .where('station_id', '=', stationId)
    .where('kid', '=', kid)
    .executeTakeFirst()
}

/** A station's key with the station's operator, in one read (authentication needs both). */
export function findStationKeyWithOwner(db: Db, stationId: string, kid: string) {
  return db
    .selectFrom('station_keys')
    .innerJoin('stations', 'stations.id', 'station_keys.station_id')
    .select(['station_keys.public_jwk', 'station_keys.revoked_at', 'stations.operator_id'])
    .where('station_keys.station_id', '=', stationId)
    .where('station_keys.kid', '=', kid)
    .executeTakeFirst()
}

export function findOperatorByKeyHash(db: Db, hash: string) {
  return db.selectFrom('operators').select(['id']).where('api_key_hash', '=', hash).executeTakeFirst()
}

export function findVehicle(db: Db, id: string) {
  return db
    .selectFrom('vehicles')
    .select(['id', 'account_id', 'fleet_id'])
    .where('id', '=', id)
    .executeTakeFirst()
}

export function findStationOwner(db: Db, id: string) {
  return db.selectFrom('stations').select(['id', 'operator_id']).where('id', '=', id).executeTakeFirst()
}

/**
 * Records an assertion's jti; false when it was seen before (a replay).
 * Rows outlive the assertion's own expiry, so a replay is caught for as long
 * as the assertion could verify.
 */
export async function rememberAssertion(
  db: Db,
  subject: string,
  jti: string,
  expiresAt: Date,
): Promise<boolean> {
  const row = await db
    .insertInto('seen_assertions')
    .values({ subject, jti, expires_at: expiresAt })
    .onConflict((oc) => oc.columns(['subject', 'jti']).doNothing())
    .returning('jti')
    .executeTakeFirst()
  return row !== undefined
}

export async function forgetExpiredAssertions(db: Db, before: Date): Promise<number> {
  const r = await db.deleteFrom('seen_assertions').where('expires_at', '<', before).executeTakeFirst()
  return Number(r.numDeletedRows)
}
