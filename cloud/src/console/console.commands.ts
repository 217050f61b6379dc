import { type ConsoleCommand, type ConsoleServerMessage, FuelpayError, type Reason, reason, type StationCommand } from '@fuelpay/proto'
import type { Db } from '../db/database.ts'
import type { CloudDeps } from '../deps.ts'
import { appendOutbox } from '../outbox/outbox.repository.ts'
import { lockSession, updateSession } from '../sessions/session.repository.ts'
import { finishSettlement } from '../sessions/settlement.service.ts'
import type { ConsoleHub } from './console.hub.ts'
import {
  acknowledgeAlert,
  completeAudit,
  insertAudit,
  insertPrices,
  operatorPump,
  operatorSession,
  operatorStation,
  pumpsSellingGrade,
  sessionLedger,
  settlementFailures,
} from './console.repository.ts'
import type { ConsoleDb } from './console.schema.ts'
import { saleSummary, toConsoleSession, toLedgerEntries } from './console.view.ts'

/**
 * Operator commands: every one is scoped to the operator's own stations
 * (another operator's station reads as UNKNOWN_STATION, their session as
 * SESSION_NOT_FOUND: nothing about it leaks), audited in console_audit
 * before it runs and again with its answer, and answered with ok or a proto
 * reason code.
 *
 * Station commands go out over the cloud's MQTT link (deps.sendStationCommand)
 * and are answered with the station's own station-command-result, which comes
 * back through the outbox to whichever replica holds the console.
 */
export interface CommandContext {
  operatorId: string
  remoteAddress?: string | undefined
}

export interface CommandServices {
  deps: CloudDeps
  hub: ConsoleHub
  /** How long to wait for a station's answer. */
  commandTimeoutMs: number
}

export interface CommandAnswer {
  ok: boolean
  reason?: Reason
  auditId?: number
}

const refuse = (code: Parameters<typeof reason>[0], detail?: string): never => {
  throw new FuelpayError(code, detail)
}

export async function runCommand(svc: CommandServices, ctx: CommandContext, cmd: ConsoleCommand): Promise<CommandAnswer> {
  const db = svc.deps.db as unknown as ConsoleDb
  const { id: clientRequestId, type, ...request } = cmd
  const auditId = await insertAudit(db, {
    operator_id: ctx.operatorId,
    command: type,
    client_request_id: clientRequestId,
    station_id: 'stationId' in cmd ? cmd.stationId : null,
    pump: 'pump' in cmd && cmd.pump !== undefined ? cmd.pump : null,
    session_id: 'sessionId' in cmd ? cmd.sessionId : cmd.type === 'acknowledge-alert' ? alertSession(cmd.alertId) : null,
    remote_address: ctx.remoteAddress?.slice(0, 64) ?? null,
    request,
  })
  let stationCommandId: string | undefined
  const track = (id: string | undefined) => {
    stationCommandId = id
  }
  let answer: CommandAnswer
  try {
    switch (cmd.type) {
      case 'emergency-stop':
      case 'resume-pump':
        await pumpCommand(svc, ctx, cmd, track)
        break
      case 'set-price':
        await setPrice(svc, ctx, cmd, track)
        break
      case 'void-session':
        await voidSession(svc, ctx, cmd, track)
        break
      case 'acknowledge-alert':
        await acknowledge(svc, ctx, cmd, auditId)
        break
    }
    answer = { ok: true, auditId }
  } catch (err) {
    const r = err instanceof FuelpayError ? err.toReason() : reason('INTERNAL')
    if (!(err instanceof FuelpayError)) svc.deps.log.error({ err, type }, 'console command failed')
    answer = { ok: false, reason: r, auditId }
  }
  await completeAudit(db, auditId, { ok: answer.ok, reasonCode: answer.reason?.code, reasonMessage: answer.reason?.message, stationCommandId })
  svc.deps.log.info({ operatorId: ctx.operatorId, command: type, ok: answer.ok, code: answer.reason?.code, auditId }, 'console command')
  return answer
}

/** Sends a station command and waits for the station's answer; refuses with its reason. */
async function viaStation(svc: CommandServices, stationId: string, command: StationCommand, track: (id: string) => void): Promise<void> {
  const send = svc.deps.sendStationCommand
  if (!send) refuse('UNAVAILABLE', 'the cloud has no broker link')
  const commandId = await (send as NonNullable<typeof send>)(stationId, command).catch((err: Error) =>
    refuse('UNAVAILABLE', `could not publish the command: ${err.message}`.slice(0, 200)),
  )
  track(commandId)
  const outcome = await svc.hub.commandResult(commandId, svc.commandTimeoutMs)
  if (!outcome) refuse('TIMEOUT', `station ${stationId} did not confirm within ${svc.commandTimeoutMs} ms; the command may still apply`)
  if (!outcome?.ok) {
    const r = outcome?.reason
    refuse(r?.code ?? 'INTERNAL', r?.message)
  }
}

async function pumpCommand(
  svc: CommandServices,
  ctx: CommandContext,
  cmd: Extract<ConsoleCommand, { type: 'emergency-stop' | 'resume-pump' }>,
  track: (id: string) => void,
) {
  if (!(await operatorStation(svc.deps.db, ctx.operatorId, cmd.stationId))) refuse('UNKNOWN_STATION')
  if (!(await operatorPump(svc.deps.db, ctx.operatorId, cmd.stationId, cmd.pump))) refuse('UNKNOWN_PUMP')
  await viaStation(svc, cmd.stationId, { op: cmd.type === 'emergency-stop' ? 'emergency-stop' : 'resume', pump: cmd.pump }, track)
}

/**
 * The station first, the cloud's price list after: a price the pumps do not
 * charge must never reach a pump authorization (the sale would not match it).
 */
async function setPrice(svc: CommandServices, ctx: CommandContext, cmd: Extract<ConsoleCommand, { type: 'set-price' }>, track: (id: string) => void) {
  const db = svc.deps.db
  const station = await operatorStation(db, ctx.operatorId, cmd.stationId)
  if (!station) return refuse('UNKNOWN_STATION')
  if (cmd.pump !== undefined && !(await operatorPump(db, ctx.operatorId, cmd.stationId, cmd.pump))) refuse('UNKNOWN_PUMP')
  const selling = await pumpsSellingGrade(db, cmd.stationId, cmd.grade)
  const targets = cmd.pump !== undefined ? selling.filter((p) => p === cmd.pump) : selling
  if (targets.length === 0) refuse('UNKNOWN_GRADE', `no pump at ${cmd.stationId} sells ${cmd.grade}`)
  await viaStation(
    svc,
    cmd.stationId,
    { op: 'set-price', ...(cmd.pump !== undefined ? { pump: cmd.pump } : {}), grade: cmd.grade, unitPriceMilli: cmd.unitPriceMilli },
    track,
  )
  await db.transaction().execute(async (tx) => {
    await insertPrices(tx, cmd.stationId, targets, cmd.grade, cmd.unitPriceMilli)
    await appendOutbox(tx, {
      kind: 'console.prices',
      aggregateId: cmd.stationId,
      operatorId: ctx.operatorId,
      stationId: cmd.stationId,
      payload: { stationId: cmd.stationId, pumps: targets, grade: cmd.grade, unitPriceMilli: cmd.unitPriceMilli },
    })
  })
  await svc.hub.wake()
}

/**
 * Voids a session whose fuel never flowed. A hold the pump never took
 * (`held`) is voided here and the station told to forget it; a session at
 * an authorized pump is cancelled by the station, whose zero sale then voids
 * the hold through the one settlement path. If the station answers that no
 * pump has the session, no fuel can flow for it, and the cloud voids it.
 * Once fuel flows, only an emergency stop ends it (FUEL_ALREADY_FLOWING).
 */
async function voidSession(svc: CommandServices, ctx: CommandContext, cmd: Extract<ConsoleCommand, { type: 'void-session' }>, track: (id: string) => void) {
  const { deps } = svc
  const row = await operatorSession(deps.db, ctx.operatorId, cmd.sessionId)
  if (!row) return refuse('SESSION_NOT_FOUND')
  if (row.settled_at || row.settle_action) refuse('SESSION_STATE_CONFLICT', `session is ${row.state}${row.settle_action ? ` (${row.settle_action} pending)` : ''}`)
  if (row.state === 'fueling' || row.state === 'completed') refuse('FUEL_ALREADY_FLOWING', 'fuel has flowed: use an emergency stop')
  if (row.state === 'pump_authorized') {
    try {
      await viaStation(svc, row.station_id, { op: 'void-session', sessionId: row.id }, track)
      return
    } catch (err) {
      if (!(err instanceof FuelpayError && err.code === 'SESSION_NOT_FOUND')) throw err
    }
  } else if (row.state !== 'held') {
    refuse('SESSION_STATE_CONFLICT', `session is ${row.state}`)
  }
  await deps.db.transaction().execute(async (tx) => {
    const locked = await lockSession(tx, row.id)
    if (!locked || locked.settled_at || locked.settle_action) refuse('SESSION_STATE_CONFLICT', 'session changed meanwhile')
    if (locked?.state !== 'held' && locked?.state !== 'pump_authorized') refuse('SESSION_STATE_CONFLICT', `session is ${locked?.state}`)
    await updateSession(tx, row.id, { settle_action: 'void', settle_amount_minor: 0, reason_code: 'CANCELLED', reason_message: `voided by operator ${ctx.operatorId}` })
  })
  if (row.state === 'held' && deps.sendStationCommand) {
    // Best effort: a pump that has not seen the token yet should refuse it later.
    await deps.sendStationCommand(row.station_id, { op: 'void-session', sessionId: row.id }).then(track, (err) =>
      deps.log.warn({ err, sessionId: row.id }, 'could not tell the station to void the session'),
    )
  }
  try {
    await finishSettlement(deps, row.id)
  } catch (err) {
    const code = err instanceof FuelpayError && err.code === 'PROCESSOR_TIMEOUT' ? 'PROCESSOR_TIMEOUT' : 'UNAVAILABLE'
    refuse(code, 'void recorded; the payment processor will be retried')
  }
}

const SETTLEMENT_FAILED = 'settlement-failed:'

/** The session a `settlement-failed:<sessionId>` alert id names, else null. */
function alertSession(alertId: string): string | null {
  if (!alertId.startsWith(SETTLEMENT_FAILED)) return null
  const id = alertId.slice(SETTLEMENT_FAILED.length)
  return /^[A-Za-z0-9_-]{1,64}$/.test(id) ? id : null
}

/**
 * Clears a declined late capture's alert (the operator has dealt with the
 * unpaid fuel). Only that alert is cleared by hand: the others describe a
 * live condition and clear with it, so acknowledging one is NOT_FOUND, as is
 * an alert of another operator or one not (or no longer) raised. Every
 * replica's consoles see the clear through the outbox.
 */
async function acknowledge(svc: CommandServices, ctx: CommandContext, cmd: Extract<ConsoleCommand, { type: 'acknowledge-alert' }>, auditId: number) {
  const db = svc.deps.db as unknown as ConsoleDb
  const sessionId = alertSession(cmd.alertId)
  if (!sessionId) return refuse('NOT_FOUND', 'only settlement-failed alerts are acknowledged; the others clear with their condition')
  const row = await operatorSession(svc.deps.db, ctx.operatorId, sessionId)
  if (!row) return refuse('NOT_FOUND', 'no such alert')
  const raised = (await settlementFailures(db, [ctx.operatorId])).find((f) => f.sessionId === sessionId)
  if (!raised) return refuse('NOT_FOUND', 'no such alert is raised')
  await db.transaction().execute(async (tx) => {
    await acknowledgeAlert(tx, { alertId: cmd.alertId, operatorId: ctx.operatorId, sessionId, eventId: raised.eventId, auditId })
    await appendOutbox(tx as unknown as Db, {
      kind: 'console.alert-acknowledged',
      aggregateId: cmd.alertId,
      operatorId: ctx.operatorId,
      stationId: row.station_id,
      payload: { alertId: cmd.alertId, sessionId, eventId: raised.eventId, auditId },
    })
  })
  await svc.hub.wake()
}

export async function sessionDetail(
  svc: CommandServices,
  ctx: CommandContext,
  id: string,
  sessionId: string,
): Promise<Extract<ConsoleServerMessage, { type: 'session-detail' | 'error' }>> {
  const row = await operatorSession(svc.deps.db, ctx.operatorId, sessionId)
  if (!row) return { type: 'error', id, reason: reason('SESSION_NOT_FOUND') }
  const sale = saleSummary(row)
  return {
    type: 'session-detail',
    id,
    session: toConsoleSession(row),
    volumeUnit: row.volume_unit,
    ...(sale ? { sale } : {}),
    ledger: toLedgerEntries(await sessionLedger(svc.deps.db, row.id)),
  }
}
