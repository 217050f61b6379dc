import { sql } from 'kysely'
import type { PumpStateMessage, StationCommandResultMessage, StationStatusMessage } from '@fuelpay/proto'
import type { CloudDeps } from '../deps.ts'
import { appendOutbox, outboxCte } from '../outbox/outbox.repository.ts'
import { findStation } from '../stations/station.repository.ts'

/**
 * What the cloud does with station telemetry: keeps the last pump state and
 * station status, moves a session along when its pump took the token or
 * started pumping (and gives its hold the longer lifetime of a session in
 * progress), and writes an outbox event for the console. Telemetry never
 * settles money: only a signed sale does.
 *
 * A pump state is one statement (every pump sends several per session, so
 * this is the cloud's most frequent write): nothing is written for an
 * unknown station, nor for a message already handled (its msgId is kept:
 * a QoS 1 redelivery, or each cloud replica hearing it), nor for one a
 * newer state overtook (OVERTAKEN_WITHIN_MS); the session moves only if it is this station's and
 * pump's, undecided, and in a state the pump's news moves on (the update's
 * own conditions, re-checked under the row lock it takes).
 */
/**
 * A pump state older (by the station's clock) than the kept one is dropped
 * only if the kept one arrived this recently: two messages handled at once,
 * or by two cloud replicas, may commit in either order. Later than that an
 * older stamp means the station's clock was set back, and the news is newer.
 */
const OVERTAKEN_WITHIN_MS = 2000

export async function handlePumpState(deps: CloudDeps, msg: PumpStateMessage): Promise<void> {
  const at = new Date(deps.nowMs())
  const payload = JSON.stringify(msg)
  const moves = msg.state === 'authorized' ? 'pump_authorized' : msg.state === 'fueling' || msg.state === 'suspended' ? 'fueling' : undefined
  const movesFrom = moves === 'pump_authorized' ? ['held'] : ['held', 'pump_authorized']
  const session =
    msg.sessionId && moves
      ? sql`, moved AS (
        UPDATE sessions SET state = ${moves}::text, hold_expires_at = ${new Date(at.getTime() + deps.config.holdTtlMs)}::timestamptz, updated_at = now()
        WHERE id = ${msg.sessionId}::text AND station_id = ${msg.stationId}::text AND pump = ${msg.pump}::int
          AND settle_action IS NULL AND state = ANY(${movesFrom}::text[]) AND EXISTS (SELECT 1 FROM st)
      )`
      : sql``
  await sql`
    WITH st AS (SELECT operator_id FROM stations WHERE id = ${msg.stationId}::text), status AS (
      INSERT INTO pump_status (station_id, pump, state, session_id, payload, updated_at, msg_id, sent_at_ms)
      SELECT ${msg.stationId}::text, ${msg.pump}::int, ${msg.state}::text, ${msg.sessionId ?? null}::text, ${payload}::jsonb, ${at}::timestamptz,
        ${msg.msgId}::text, ${msg.ts}::bigint FROM st
      ON CONFLICT (station_id, pump) DO UPDATE SET state = EXCLUDED.state, session_id = EXCLUDED.session_id, payload = EXCLUDED.payload,
        updated_at = EXCLUDED.updated_at, msg_id = EXCLUDED.msg_id, sent_at_ms = EXCLUDED.sent_at_ms
      WHERE pump_status.msg_id IS DISTINCT FROM EXCLUDED.msg_id
        AND NOT (EXCLUDED.sent_at_ms < pump_status.sent_at_ms AND pump_status.updated_at > EXCLUDED.updated_at - ${OVERTAKEN_WITHIN_MS} * interval '1 millisecond')
      RETURNING 1
    )${session}, ${outboxCte('event', 'status', {
      kind: 'pump.state',
      aggregateId: `${msg.stationId}/${msg.pump}`,
      operatorId: sql<string>`(SELECT operator_id FROM st)`,
      stationId: msg.stationId,
      payload: { ...msg },
    })}
    SELECT 1`.execute(deps.db)
  deps.metrics.mqttMessages.inc({ kind: 'pump-state' })
}

/** A station's status (online, sales backlog): kept, and an outbox event for the console; one statement, nothing for an unknown station. */
export async function handleStationStatus(deps: CloudDeps, msg: StationStatusMessage): Promise<void> {
  const at = new Date(deps.nowMs())
  await sql`
    WITH st AS (SELECT operator_id FROM stations WHERE id = ${msg.stationId}::text), status AS (
      INSERT INTO station_status (station_id, online, backlog, updated_at, msg_id)
      SELECT ${msg.stationId}::text, ${msg.online}::boolean, ${msg.backlog}::bigint, ${at}::timestamptz, ${msg.msgId}::text FROM st
      ON CONFLICT (station_id) DO UPDATE SET online = EXCLUDED.online, backlog = EXCLUDED.backlog, updated_at = EXCLUDED.updated_at, msg_id = EXCLUDED.msg_id
      WHERE station_status.msg_id IS DISTINCT FROM EXCLUDED.msg_id
      RETURNING 1
    ), ${outboxCte('event', 'status', {
      kind: 'station.status',
      aggregateId: msg.stationId,
      operatorId: sql<string>`(SELECT operator_id FROM st)`,
      stationId: msg.stationId,
      payload: { ...msg },
    })}
    SELECT 1`.execute(deps.db)
  deps.metrics.mqttMessages.inc({ kind: 'station-status' })
}

export async function handleCommandResult(deps: CloudDeps, stationId: string, msg: StationCommandResultMessage): Promise<void> {
  const station = await findStation(deps.db, stationId)
  if (!station) return
  await appendOutbox(deps.db, { kind: 'station.command-result', aggregateId: msg.commandId, operatorId: station.operator_id, stationId, payload: { ...msg } })
  deps.metrics.mqttMessages.inc({ kind: 'station-command-result' })
}
