import { sql } from 'kysely'
import type { Db } from '../db/database.ts'
import { refuse } from '../errors/errors.ts'
import { refuseRepairing } from '../keys/paired-key.ts'

export interface StationInput {
  id: string
  operatorId: string
  name: string
  lat: number
  lon: number
  geofenceRadiusM: number
  currency: string
  volumeUnit: 'L' | 'gal'
  beaconMajor?: number | undefined
  publicJwk: { kid: string } & Record<string, unknown>
  pumps: { pump: number; inService?: boolean | undefined; grades: { grade: string; unitPriceMilli: number }[] }[]
}

export interface PumpView {
  pump: number
  inService: boolean
  grades: { grade: string; unitPriceMilli: number }[]
}

/**
 * Creates or updates a station with its key, pumps and prices in one
 * transaction. A station of another operator is refused FORBIDDEN (checked
 * by the upsert itself, so two registrations racing for one new id cannot
 * both win), and a kid already paired must name the same unrevoked key
 * (refuseRepairing); either way nothing is changed. Prices are history: a changed price is a new row, an
 * unchanged one writes nothing, a grade no longer listed is withdrawn.
 */
export async function upsertStation(db: Db, s: StationInput): Promise<void> {
  await db.transaction().execute(async (tx) => {
    const values = {
      operator_id: s.operatorId,
      name: s.name,
      lat: s.lat,
      lon: s.lon,
      geofence_radius_m: s.geofenceRadiusM,
      currency: s.currency,
      volume_unit: s.volumeUnit,
      beacon_major: s.beaconMajor ?? null,
    }
    const mine = await tx
      .insertInto('stations')
      .values({ id: s.id, ...values })
      .onConflict((oc) => oc.column('id').doUpdateSet(values).where('stations.operator_id', '=', s.operatorId))
      .returning('id')
      .executeTakeFirst()
    if (!mine) throw refuse('FORBIDDEN', 'station belongs to another operator')
    const added = await tx
      .insertInto('station_keys')
      .values({ station_id: s.id, kid: s.publicJwk.kid, public_jwk: JSON.stringify(s.publicJwk) })
      .onConflict((oc) => oc.columns(['station_id', 'kid']).doNothing())
      .returning('kid')
      .executeTakeFirst()
    if (!added) {
      const held = await tx
        .selectFrom('station_keys')
        .select(['public_jwk', 'revoked_at'])
        .where('station_id', '=', s.id)
        .where('kid', '=', s.publicJwk.kid)
        .executeTakeFirstOrThrow()
      refuseRepairing(held, s.publicJwk)
    }
    const current = await currentPrices(tx as unknown as Db, s.id)
    for (const p of s.pumps) {
      await tx
        .insertInto('pumps')
        .values({ station_id: s.id, pump: p.pump, in_service: p.inService ?? true })
        .onConflict((oc) => oc.columns(['station_id', 'pump']).doUpdateSet({ in_service: p.inService ?? true }))
        .execute()
      const listed = new Set<string>()
      for (const g of p.grades) {
        listed.add(g.grade)
        if (current.get(`${p.pump}/${g.grade}`) === g.unitPriceMilli) continue
        await tx
          .insertInto('pump_prices')
          .values({ station_id: s.id, pump: p.pump, grade: g.grade, unit_price_milli: g.unitPriceMilli })
          .execute()
      }
      for (const key of current.keys()) {
        const [pumpText, grade] = key.split('/') as [string, string]
        if (Number(pumpText) === p.pump && !listed.has(grade)) {
          await tx
            .insertInto('pump_prices')
            .values({ station_id: s.id, pump: p.pump, grade, unit_price_milli: null })
            .execute()
        }
      }
    }
  })
}

async function currentPrices(db: Db, stationId: string): Promise<Map<string, number>> {
  const rows = await sql<{ pump: number; grade: string; unit_price_milli: number | null }>`
    SELECT DISTINCT ON (pump, grade) pump, grade, unit_price_milli
    FROM pump_prices WHERE station_id = ${stationId}
    ORDER BY pump, grade, id DESC`.execute(db)
  const out = new Map<string, number>()
  for (const r of rows.rows) if (r.unit_price_milli !== null) out.set(`${r.pump}/${r.grade}`, Number(r.unit_price_milli))
  return out
}

/** Sets a price on one pump or every pump of a station (a new history row). */
export async function setPrice(db: Db, stationId: string, pump: number | undefined, grade: string, unitPriceMilli: number) {
  let q = db.selectFrom('pumps').select('pump').where('station_id', '=', stationId)
  if (pump !== undefined) q = q.where('pump', '=', pump)
  const pumps = await q.execute()
  for (const p of pumps) {
    await db.insertInto('pump_prices').values({ station_id: stationId, pump: p.pump, grade, unit_price_milli: unitPriceMilli }).execute()
  }
  return pumps.length
}

export function findStation(db: Db, id: string) {
  return db.selectFrom('stations').selectAll().where('id', '=', id).executeTakeFirst()
}

export async function stationPumps(db: Db, stationIds: string[]): Promise<Map<string, PumpView[]>> {
  const out = new Map<string, PumpView[]>()
  if (stationIds.length === 0) return out
  const pumps = await db
    .selectFrom('pumps')
    .selectAll()
    .where('station_id', 'in', stationIds)
    .orderBy('station_id')
    .orderBy('pump')
    .execute()
  const prices = await sql<{ station_id: string; pump: number; grade: string; unit_price_milli: number | null }>`
    SELECT DISTINCT ON (station_id, pump, grade) station_id, pump, grade, unit_price_milli
    FROM pump_prices WHERE station_id = ANY(${stationIds})
    ORDER BY station_id, pump, grade, id DESC`.execute(db)
  for (const p of pumps) {
    const list = out.get(p.station_id) ?? []
    list.push({
      pump: p.pump,
      inService: p.in_service,
      grades: prices.rows
        .filter((r) => r.station_id === p.station_id && r.pump === p.pump && r.unit_price_milli !== null)
        .map((r) => ({ grade: r.grade, unitPriceMilli: Number(r.unit_price_milli) })),
    })
    out.set(p.station_id, list)
  }
  return out
}

/** Stations whose position lies in a lat/lon box (the caller refines by distance). */
export function stationsInBox(db: Db, box: { minLat: number; maxLat: number; minLon: number; maxLon: number }, limit: number) {
  return db
    .selectFrom('stations')
    .selectAll()
    .where('lat', '>=', box.minLat)
    .where('lat', '<=', box.maxLat)
    .where('lon', '>=', box.minLon)
    .where('lon', '<=', box.maxLon)
    .limit(limit)
    .execute()
}

export function stationPublicKeys(db: Db, stationId: string) {
  return db
    .selectFrom('station_keys')
    .select(['kid', 'public_jwk'])
    .where('station_id', '=', stationId)
    .where('revoked_at', 'is', null)
    .orderBy('created_at', 'desc')
    .execute()
}

export function listOperatorStations(db: Db, operatorId: string, opts: { limit: number; after?: string | undefined }) {
  let q = db.selectFrom('stations').selectAll().where('operator_id', '=', operatorId)
  if (opts.after) q = q.where('id', '>', opts.after)
  return q.orderBy('id').limit(opts.limit).execute()
}

/**
 * Revokes a station's key for good (a second revocation keeps the first
 * time); false when the station has no such key. Sales the station signed
 * with it and has not delivered will be refused SALE_SIGNATURE_INVALID.
 */
export async function revokeStationKey(db: Db, stationId: string, kid: string, at: Date): Promise<boolean> {
  const row = await db
    .updateTable('station_keys')
    .set({ revoked_at: sql<Date>`coalesce(revoked_at, ${at})` })
    .where('station_id', '=', stationId)
    .where('kid', '=', kid)
    .returning('kid')
    .executeTakeFirst()
  return row !== undefined
}

export function setPumpInService(db: Db, stationId: string, pump: number, inService: boolean) {
  return db
    .updateTable('pumps')
    .set({ in_service: inService })
    .where('station_id', '=', stationId)
    .where('pump', '=', pump)
    .executeTakeFirst()
}
