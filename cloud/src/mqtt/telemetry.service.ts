import type { PumpStateMessage, StationCommandResultMessage, StationStatusMessage } from '@fuelpay/proto'
import type { CloudDeps } from '../deps.ts'
import { appendOutbox } from '../outbox/outbox.repository.ts'
import { findStation } from '../stations/station.repository.ts'
import { lockSession, updateSession } from '../sessions/session.repository.ts'

/**
 * What the cloud does with station telemetry: keeps the last pump state and
 * station status, moves a session along when its pump took the token or
 * started pumping (and gives its hold the longer lifetime of a session in
 * progress), and writes an outbox event for the console, all in one
 * transaction per message. Telemetry never settles money: only a signed sale
 * does.
 */
export async function handlePumpState(deps: CloudDeps, msg: PumpStateMessage): Promise<void> {
  const station = await findStation(deps.db, msg.stationId)
  if (!station) return
  const at = new Date(deps.nowMs())
  await deps.db.transaction().execute(async (tx) => {
    await tx
      .insertInto('pump_status')
      .values({ station_id: msg.stationId, pump: msg.pump, state: msg.state, session_id: msg.sessionId ?? null, payload: JSON.stringify(msg), updated_at: at })
      .onConflict((oc) =>
        oc.columns(['station_id', 'pump']).doUpdateSet({ state: msg.state, session_id: msg.sessionId ?? null, payload: JSON.stringify(msg), updated_at: at }),
      )
      .execute()
    if (msg.sessionId) {
      const row = await lockSession(tx, msg.sessionId)
      if (row && row.station_id === msg.stationId && row.pump === msg.pump && !row.settle_action) {
        const next =
          msg.state === 'authorized' && row.state === 'held'
            ? 'pump_authorized'
            : (msg.state === 'fueling' || msg.state === 'suspended') && (row.state === 'held' || row.state === 'pump_authorized')
              ? 'fueling'
              : undefined
        if (next) {
          await updateSession(tx, row.id, { state: next, hold_expires_at: new Date(at.getTime() + deps.config.holdTtlMs) })
        }
      }
    }
    await appendOutbox(tx, {
      kind: 'pump.state',
      aggregateId: `${msg.stationId}/${msg.pump}`,
      operatorId: station.operator_id,
      stationId: msg.stationId,
      payload: { ...msg },
    })
  })
  deps.metrics.mqttMessages.inc({ kind: 'pump-state' })
}

export async function handleStationStatus(deps: CloudDeps, msg: StationStatusMessage): Promise<void> {
  const station = await findStation(deps.db, msg.stationId)
  if (!station) return
  const at = new Date(deps.nowMs())
  await deps.db.transaction().execute(async (tx) => {
    await tx
      .insertInto('station_status')
      .values({ station_id: msg.stationId, online: msg.online, backlog: msg.backlog, updated_at: at })
      .onConflict((oc) => oc.column('station_id').doUpdateSet({ online: msg.online, backlog: msg.backlog, updated_at: at }))
      .execute()
    await appendOutbox(tx, { kind: 'station.status', aggregateId: msg.stationId, operatorId: station.operator_id, stationId: msg.stationId, payload: { ...msg } })
  })
  deps.metrics.mqttMessages.inc({ kind: 'station-status' })
}

export async function handleCommandResult(deps: CloudDeps, stationId: string, msg: StationCommandResultMessage): Promise<void> {
  const station = await findStation(deps.db, stationId)
  if (!station) return
  await appendOutbox(deps.db, { kind: 'station.command-result', aggregateId: msg.commandId, operatorId: station.operator_id, stationId, payload: { ...msg } })
  deps.metrics.mqttMessages.inc({ kind: 'station-command-result' })
}
