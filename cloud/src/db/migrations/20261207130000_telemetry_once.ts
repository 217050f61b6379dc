import { type Kysely, sql } from 'kysely'

/**
 * Which station message a pump's and a station's kept status came from
 * (mqtt/telemetry.service.ts): a message seen again (a QoS 1 redelivery, or
 * every cloud replica hearing it) changes nothing and tells the console
 * nothing, and a pump state overtaken by a newer one is not written over it.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE pump_status ADD COLUMN msg_id text, ADD COLUMN sent_at_ms bigint`.execute(db)
  await sql`ALTER TABLE station_status ADD COLUMN msg_id text`.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE pump_status DROP COLUMN msg_id, DROP COLUMN sent_at_ms`.execute(db)
  await sql`ALTER TABLE station_status DROP COLUMN msg_id`.execute(db)
}
