import { type ConsoleAlert, formatAmount, isCurrency, MAX_AMOUNT_MINOR } from '@fuelpay/proto'

/**
 * Alerts are derived, not stored: each replica computes them from the same
 * database rows (station and pump status, sessions), so every replica's
 * consoles agree without a shared alert table. The one alert an operator
 * must clear by hand, a declined late capture, is derived the same way from
 * its outbox event (`session.settlement-failed`) less the operators'
 * acknowledgements (console_alert_acks). `computeAlerts` is pure;
 * `diffAlerts` turns two computations into the raise/clear frames to send.
 */
export interface AlertThresholds {
  /** A hold at a pump that has not started fuelling for this long is "authorization stuck". */
  stuckAuthorizationMs: number
  /** A decided capture/void not confirmed by the processor for this long is "settlement failed". */
  settlementStuckMs: number
  /** Unsent completed sales at a station from which "sales backlog" is raised. */
  backlogAlertAt: number
}

export const DEFAULT_ALERT_THRESHOLDS: AlertThresholds = {
  stuckAuthorizationMs: 3 * 60_000,
  settlementStuckMs: 30_000,
  backlogAlertAt: 3,
}

export interface AlertInputs {
  stations: { id: string; online: boolean; backlog: number; updated_at: Date | string }[]
  pumps: { station_id: string; pump: number; state: string; payload: Record<string, unknown>; updated_at: Date | string }[]
  sessions: { id: string; station_id: string; pump: number; state: string; settle_action: string | null; created_at: Date | string; updated_at: Date | string }[]
  /** Unacknowledged `session.settlement-failed` events of sessions not since captured, newest per session. */
  settlementFailures?: SettlementFailure[]
}

export interface SettlementFailure {
  eventId: number
  sessionId: string
  stationId: string
  pump: number
  /** The session's currency: the event's own is preferred when valid. */
  currency: string
  payload: Record<string, unknown>
  createdAt: Date | string
}

const REASON_CODE = /^[A-Z][A-Z0-9_]{0,39}$/

/** The alert for a declined late capture; the event payload is checked, never trusted for shape. */
export function settlementFailedAlert(f: SettlementFailure): ConsoleAlert {
  const p = f.payload
  const code = typeof p.reason === 'string' && REASON_CODE.test(p.reason) ? p.reason : 'DECLINED'
  const currency = isCurrency(p.currency) ? p.currency : isCurrency(f.currency) ? f.currency : undefined
  const amount =
    typeof p.amountMinor === 'number' && Number.isSafeInteger(p.amountMinor) && p.amountMinor >= 0 && p.amountMinor <= MAX_AMOUNT_MINOR ? p.amountMinor : undefined
  const amountText = amount !== undefined && currency ? formatAmount(amount, currency) : undefined
  return {
    id: `settlement-failed:${f.sessionId}`,
    kind: 'settlement-failed',
    severity: 'critical',
    stationId: f.stationId,
    pump: f.pump,
    sessionId: f.sessionId,
    message: `Session ${f.sessionId} at ${f.stationId} pump ${f.pump}: late capture${amountText ? ` of ${amountText}` : ''} declined (${code}); fuel was pumped and not paid for`.slice(0, 300),
    reasonCode: code,
    ...(amount !== undefined && amountText ? { amountMinor: amount, amountText } : {}),
    since: iso(f.createdAt),
    active: true,
  }
}

const iso = (d: Date | string) => new Date(d).toISOString()

export function computeAlerts(inputs: AlertInputs, nowMs: number, th: AlertThresholds): Map<string, ConsoleAlert> {
  const out = new Map<string, ConsoleAlert>()
  const add = (a: Omit<ConsoleAlert, 'active'>) => out.set(a.id, { ...a, message: a.message.slice(0, 300), active: true })
  const offline = new Set<string>()
  for (const s of inputs.stations) {
    if (!s.online) {
      offline.add(s.id)
      add({ id: `station-offline:${s.id}`, kind: 'station-offline', severity: 'critical', stationId: s.id, message: `Station ${s.id} is offline`, since: iso(s.updated_at) })
    }
    if (Number(s.backlog) >= th.backlogAlertAt) {
      add({
        id: `sales-backlog:${s.id}`,
        kind: 'sales-backlog',
        severity: 'warning',
        stationId: s.id,
        message: `Station ${s.id} has ${Number(s.backlog)} sales not yet delivered`,
        since: iso(s.updated_at),
      })
    }
  }
  for (const p of inputs.pumps) {
    if (p.state !== 'fault') continue
    const why = (p.payload.reason as { message?: unknown } | undefined)?.message
    add({
      id: `pump-fault:${p.station_id}:${p.pump}`,
      kind: 'pump-fault',
      severity: 'critical',
      stationId: p.station_id,
      pump: p.pump,
      message: `Pump ${p.pump} at ${p.station_id} is faulted${typeof why === 'string' ? `: ${why}` : ''}`,
      since: iso(p.updated_at),
    })
  }
  for (const s of inputs.sessions) {
    if (s.settle_action) {
      if (nowMs - new Date(s.updated_at).getTime() >= th.settlementStuckMs) {
        add({
          id: `settlement-failed:${s.id}`,
          kind: 'settlement-failed',
          severity: 'critical',
          stationId: s.station_id,
          pump: s.pump,
          sessionId: s.id,
          message: `Session ${s.id}: ${s.settle_action} not confirmed by the payment processor`,
          since: iso(s.updated_at),
        })
      }
    } else if ((s.state === 'held' || s.state === 'pump_authorized') && nowMs - new Date(s.created_at).getTime() >= th.stuckAuthorizationMs) {
      add({
        id: `authorization-stuck:${s.id}`,
        kind: 'authorization-stuck',
        severity: 'warning',
        stationId: s.station_id,
        pump: s.pump,
        sessionId: s.id,
        message: `Session ${s.id} at pump ${s.pump} is ${s.state === 'held' ? 'held' : 'authorized'} but no fuel has flowed`,
        since: iso(s.created_at),
      })
    }
  }
  // After the stuck-settlement alerts: a declined capture is settled, so the two never
  // meet for one session, but if they did the decline is what the operator must see.
  for (const f of inputs.settlementFailures ?? []) {
    const a = settlementFailedAlert(f)
    out.set(a.id, a)
  }
  return out
}

/** Frames that move a console from `prev` to `next`: new or changed alerts, and clears. */
export function diffAlerts(prev: Map<string, ConsoleAlert>, next: Map<string, ConsoleAlert>): ConsoleAlert[] {
  const out: ConsoleAlert[] = []
  for (const [id, a] of next) {
    const p = prev.get(id)
    if (!p || p.message !== a.message || p.severity !== a.severity) out.push(a)
  }
  for (const [id, a] of prev) if (!next.has(id)) out.push({ ...a, active: false })
  return out
}
