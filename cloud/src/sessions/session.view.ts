import { reason, type Receipt, type SessionState, type SessionView, isReasonCode } from '@fuelpay/proto'
import type { SessionRow } from './session.repository.ts'

const iso = (d: Date | string) => new Date(d).toISOString()

/**
 * The unit price recorded with the hold for the grade a sale names, when the
 * station sold at another (an operator changed the price meanwhile); else undefined.
 */
export function authorizedPriceIfDifferent(row: Pick<SessionRow, 'prices'>, sale: { grade?: string; unitPriceMilli?: number }): number | undefined {
  const authorized = sale.grade ? (row.prices as Record<string, number> | null)?.[sale.grade] : undefined
  return Number.isInteger(authorized) && Number.isInteger(sale.unitPriceMilli) && authorized !== sale.unitPriceMilli ? authorized : undefined
}

export function toSessionView(row: SessionRow): SessionView {
  const view: SessionView = {
    sessionId: row.id,
    state: row.state as SessionState,
    stationId: row.station_id,
    pump: row.pump,
    vehicleId: row.vehicle_id,
    currency: row.currency as SessionView['currency'],
    holdAmountMinor: Number(row.hold_amount_minor),
    capturedMinor: Number(row.captured_minor),
    releasedMinor: Number(row.released_minor),
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  }
  if (row.reason_code && isReasonCode(row.reason_code)) {
    view.reason = reason(row.reason_code, row.reason_message ?? undefined)
  }
  return view
}

export function toReceipt(
  row: SessionRow,
  station: { name: string },
  pm: { id: string; brand: string; last4: string; name: string | null },
): Receipt {
  const sale = (row.sale ?? {}) as { grade?: string; unitPriceMilli?: number; volumeMilli?: number }
  const receipt: Receipt = {
    receiptId: row.receipt_id ?? `r_${row.id}`,
    sessionId: row.id,
    stationId: row.station_id,
    stationName: station.name,
    pump: row.pump,
    vehicleId: row.vehicle_id,
    volumeMilli: Number(sale.volumeMilli ?? 0),
    volumeUnit: row.volume_unit,
    amountMinor: Number(row.captured_minor),
    currency: row.currency as Receipt['currency'],
    paymentMethod: { id: pm.id, brand: pm.brand, last4: pm.last4, ...(pm.name ? { name: pm.name } : {}) },
    capturedAt: iso(row.settled_at ?? row.updated_at),
  }
  if (sale.grade) receipt.grade = sale.grade as Receipt['grade']
  if (sale.unitPriceMilli) receipt.unitPriceMilli = sale.unitPriceMilli
  return receipt
}
