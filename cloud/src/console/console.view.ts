import {
  type ConsoleGradePrice,
  type ConsoleLedgerEntry,
  type ConsolePump,
  type ConsoleSession,
  type Currency,
  formatAmount,
  formatUnitPrice,
  formatVolume,
  type Grade,
  isCurrency,
  isReasonCode,
  PUMP_STATES,
  type PumpStateMessage,
  type PumpStateName,
  reason,
  type SessionState,
  type VolumeUnit,
} from '@fuelpay/proto'
import type { SessionRow } from '../sessions/session.repository.ts'
import { authorizedPriceIfDifferent } from '../sessions/session.view.ts'

/**
 * Pure mapping from rows and telemetry to the console's wire shapes
 * (proto console.ts). Every amount is formatted here, from integers, with
 * proto's formatters: the page only shows text.
 */

const iso = (d: Date | string) => new Date(d).toISOString()

function currencyOf(c: string): Currency {
  // Stations are provisioned with a known currency; a row that is not is shown, not crashed on.
  return isCurrency(c) ? c : 'EUR'
}

export interface PumpMeta {
  stationId: string
  pump: number
  inService: boolean
  currency: string
  volumeUnit: VolumeUnit
  grades: { grade: string; unitPriceMilli: number }[]
}

export function gradePrices(meta: Pick<PumpMeta, 'currency' | 'volumeUnit' | 'grades'>): ConsoleGradePrice[] {
  return meta.grades.slice(0, 16).map((g) => ({
    grade: g.grade as Grade,
    unitPriceMilli: g.unitPriceMilli,
    priceText: formatUnitPrice(g.unitPriceMilli, currencyOf(meta.currency), meta.volumeUnit),
  }))
}

/** A pump from its metadata and its last pump-state message (absent: never reported -> offline). */
export function toConsolePump(meta: PumpMeta, state: PumpStateMessage | undefined, updatedAt?: Date | string): ConsolePump {
  const currency = currencyOf(state?.currency ?? meta.currency)
  const volumeMilli = state?.volumeMilli ?? 0
  const amountMinor = state?.amountMinor ?? 0
  const name: PumpStateName = state && (PUMP_STATES as readonly string[]).includes(state.state) ? state.state : 'offline'
  const pump: ConsolePump = {
    stationId: meta.stationId,
    pump: meta.pump,
    inService: meta.inService,
    state: name,
    volumeMilli,
    volumeText: formatVolume(volumeMilli, meta.volumeUnit),
    amountMinor,
    amountText: formatAmount(amountMinor, currency),
    currency,
    grades: gradePrices(meta),
  }
  if (state?.sessionId) pump.sessionId = state.sessionId
  if (state?.grade) pump.grade = state.grade
  if (state?.unitPriceMilli) pump.unitPriceMilli = state.unitPriceMilli
  if (state?.reason) pump.reason = state.reason
  if (updatedAt) pump.updatedAt = iso(updatedAt)
  return pump
}

export function toConsoleSession(row: SessionRow): ConsoleSession {
  const currency = currencyOf(row.currency)
  const hold = Number(row.hold_amount_minor)
  const captured = Number(row.captured_minor)
  const s: ConsoleSession = {
    sessionId: row.id,
    state: row.state as SessionState,
    stationId: row.station_id,
    pump: row.pump,
    vehicleId: row.vehicle_id,
    currency,
    holdAmountMinor: hold,
    holdText: formatAmount(hold, currency),
    capturedMinor: captured,
    capturedText: formatAmount(captured, currency),
    releasedMinor: Number(row.released_minor),
    settling: row.settle_action !== null && row.settled_at === null,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  }
  if (row.reason_code) {
    s.reasonCode = row.reason_code.slice(0, 40)
    s.reasonMessage = (row.reason_message ?? (isReasonCode(row.reason_code) ? reason(row.reason_code).message : '')).slice(0, 500)
  }
  return s
}

export function toLedgerEntries(
  entries: { id: number; kind: string; currency: string; created_at: Date | string; postings: { ledger_account: string; amount_minor: number }[] }[],
): ConsoleLedgerEntry[] {
  return entries.map((e) => {
    const currency = currencyOf(e.currency)
    return {
      entryId: Number(e.id),
      kind: e.kind.slice(0, 40),
      createdAt: iso(e.created_at),
      postings: e.postings.slice(0, 16).map((p) => ({
        account: p.ledger_account.slice(0, 160),
        amountMinor: Number(p.amount_minor),
        amountText: formatAmount(Number(p.amount_minor), currency),
      })),
    }
  })
}

/** A session's sale for the console; the price it was sold at, and the hold's price when that differed. */
export function saleSummary(row: SessionRow) {
  const sale = row.sale as { outcome?: string; grade?: string; volumeMilli?: number; amountMinor?: number; unitPriceMilli?: number } | null
  if (!sale || typeof sale.outcome !== 'string') return undefined
  const volumeMilli = Number(sale.volumeMilli ?? 0)
  const amountMinor = Number(sale.amountMinor ?? 0)
  const currency = currencyOf(row.currency)
  const sold = Number.isInteger(sale.unitPriceMilli) && Number(sale.unitPriceMilli) > 0 ? Number(sale.unitPriceMilli) : undefined
  const authorized = sold !== undefined ? authorizedPriceIfDifferent(row, sale) : undefined
  return {
    outcome: sale.outcome.slice(0, 40),
    ...(sale.grade ? { grade: sale.grade as Grade } : {}),
    volumeMilli,
    volumeText: formatVolume(volumeMilli, row.volume_unit),
    amountMinor,
    amountText: formatAmount(amountMinor, currency),
    ...(sold !== undefined ? { priceText: formatUnitPrice(sold, currency, row.volume_unit) } : {}),
    ...(authorized !== undefined ? { authorizedPriceText: formatUnitPrice(authorized, currency, row.volume_unit) } : {}),
  }
}
