/**
 * The properties a run must keep whatever the load and faults (design:
 * Failure handling, Settle). Pure: the run gathers facts from the pumps, the
 * controllers' sales and the cloud, and these functions judge them.
 *
 * @example checkInvariants({ sales, cloudSessions, pumps, ledger }).every((i) => i.ok)
 */
export interface InvariantResult {
  name: string
  ok: boolean
  detail: string
}

/** A sale as the station signed it (from the controller's journal or the car's copy). */
export interface SaleFact {
  sessionId: string
  stationId: string
  pump: number
  outcome: string
  volumeMilli: number
  amountMinor: number
}

/** A session as the cloud holds it at the end of the run. */
export interface CloudSessionFact {
  sessionId: string
  state: string
  holdAmountMinor: number
  capturedMinor: number
  /** How many captures the cloud recorded for the session (ledger or processor). */
  captures: number
  /** Volume the cloud captured for, when it records it. */
  volumeMilli?: number
  /** Where the cloud says the session fuelled, when it records it (else the station's sale says). */
  stationId?: string
  pump?: number
}

export interface PumpFact {
  stationId: string
  pump: number
  totalizerStartMilli: number
  totalizerEndMilli: number
  /** The pump's state at the end (controller's view). */
  state: string
}

export interface LedgerFact {
  balanced: boolean
  detail: string
}

/** What the run itself did: the invariants above say nothing about sessions that never ran. */
export interface RunFact {
  /** Sessions that took a car and a pump. */
  started: number
  /** Sessions that ran to an end the script could judge (settled, declined). */
  finished: number
  /** Session scripts that threw: their sessions went unchecked. */
  crashed: number
  /** Sessions still running when the drain gave up. */
  inFlight: number
  /** Sales still in a station's store-and-forward queue at the end. */
  undelivered: number
}

export interface Facts {
  sales: SaleFact[]
  cloudSessions: CloudSessionFact[]
  pumps: PumpFact[]
  ledger: LedgerFact
  run: RunFact
  /** Sessions the cloud still holds open (not final) after the drain. */
  openSessions?: number
}

const FINAL_STATES = new Set(['captured', 'voided', 'expired', 'failed', 'declined'])
const SAMPLE = 5

function sample(items: string[]): string {
  return items.length > SAMPLE
    ? `${items.slice(0, SAMPLE).join('; ')}; ... (${items.length})`
    : items.join('; ')
}

/** Every sale with fuel in it is captured exactly once, for min(sale, hold); fuel-less ones are not captured. */
export function capturedExactlyOnce(f: Facts): InvariantResult {
  const cloud = new Map(f.cloudSessions.map((s) => [s.sessionId, s]))
  const bad: string[] = []
  let checked = 0
  const seen = new Set<string>()
  for (const sale of f.sales) {
    if (seen.has(sale.sessionId)) {
      bad.push(`${sale.sessionId}: two sales for one session`)
      continue
    }
    seen.add(sale.sessionId)
    const c = cloud.get(sale.sessionId)
    checked++
    if (!c) {
      bad.push(`${sale.sessionId}: unknown to the cloud`)
      continue
    }
    if (sale.volumeMilli > 0) {
      const expect = Math.min(sale.amountMinor, c.holdAmountMinor)
      if (c.state !== 'captured') bad.push(`${sale.sessionId}: ${c.state}, not captured`)
      else if (c.captures !== 1) bad.push(`${sale.sessionId}: captured ${c.captures} times`)
      else if (c.capturedMinor !== expect)
        bad.push(`${sale.sessionId}: captured ${c.capturedMinor}, expected ${expect}`)
    } else if (c.captures !== 0 || c.capturedMinor !== 0) {
      bad.push(`${sale.sessionId}: no fuel but captured ${c.capturedMinor}`)
    }
  }
  for (const c of f.cloudSessions) {
    if (seen.has(c.sessionId)) continue
    if (c.captures > 1) bad.push(`${c.sessionId}: captured ${c.captures} times`)
    // Any sign of money taken counts: a capture the ledger count missed is still one.
    if (c.captures > 0 || c.capturedMinor > 0 || c.state === 'captured')
      bad.push(`${c.sessionId}: captured ${c.capturedMinor} without a station sale`)
  }
  return {
    name: 'every completed sale captured exactly once',
    ok: bad.length === 0,
    detail: bad.length ? sample(bad) : `${checked} sales checked`,
  }
}

/**
 * Each pump's totalizer moved by exactly the volume the cloud captured for
 * sales at that pump. Compared per pump, not in one sum: a sale booked to
 * the wrong pump, or one pump's loss hiding another's surplus, would cancel out.
 */
export function totalizersMatchCaptures(f: Facts): InvariantResult {
  const key = (stationId: string | undefined, pump: number | undefined) => `${stationId}/${pump}`
  const pumped = new Map<string, number>()
  let pumpedTotal = 0
  for (const p of f.pumps) {
    const d = p.totalizerEndMilli - p.totalizerStartMilli
    pumped.set(key(p.stationId, p.pump), d)
    pumpedTotal += d
  }
  const bySession = new Map(f.sales.map((s) => [s.sessionId, s]))
  const captured = new Map<string, number>()
  let capturedTotal = 0
  for (const c of f.cloudSessions) {
    if (c.state !== 'captured') continue
    const sale = bySession.get(c.sessionId)
    const v = c.volumeMilli ?? sale?.volumeMilli ?? 0
    const k = key(c.stationId ?? sale?.stationId, c.pump ?? sale?.pump)
    captured.set(k, (captured.get(k) ?? 0) + v)
    capturedTotal += v
  }
  const bad: string[] = []
  for (const k of new Set([...pumped.keys(), ...captured.keys()])) {
    const p = pumped.get(k) ?? 0
    const c = captured.get(k) ?? 0
    if (p !== c) bad.push(`${k}: pumped ${p} mL, captured ${c} mL`)
  }
  return {
    name: 'sum of pump totalizer deltas = captured volume',
    ok: bad.length === 0,
    detail: `pumped ${pumpedTotal} mL, captured ${capturedTotal} mL over ${f.pumps.length} pumps${bad.length ? `; ${sample(bad)}` : ''}`,
  }
}

export function ledgerBalanced(f: Facts): InvariantResult {
  return { name: 'ledger balanced', ok: f.ledger.balanced, detail: f.ledger.detail }
}

/** A pump left authorized (or still fueling) after the drain would sell fuel nobody pays for. */
export function noPumpLeftAuthorized(f: Facts): InvariantResult {
  const bad = f.pumps.filter(
    (p) => p.state === 'authorized' || p.state === 'fueling' || p.state === 'suspended',
  )
  return {
    name: 'no pump left authorized',
    ok: bad.length === 0,
    detail: bad.length
      ? sample(bad.map((p) => `${p.stationId}/${p.pump} ${p.state}`))
      : `${f.pumps.length} pumps idle or completed`,
  }
}

/** Every session the cloud knows reached a final state once the run drained. */
export function everySessionSettled(f: Facts): InvariantResult {
  const open = f.cloudSessions.filter((s) => !FINAL_STATES.has(s.state))
  const extra = f.openSessions ?? 0
  return {
    name: 'every session settled',
    ok: open.length === 0 && extra === 0,
    detail:
      open.length + extra
        ? sample(
            open
              .map((s) => `${s.sessionId} ${s.state}`)
              .concat(extra ? [`${extra} more open in the cloud`] : []),
          )
        : `${f.cloudSessions.length} sessions final`,
  }
}

/**
 * The run did what it was asked: sessions ran and were all judged. A run
 * where nothing started, every script crashed, or the drain gave up would
 * otherwise hold every invariant above with nothing to check.
 */
export function runCarriedThrough(f: Facts): InvariantResult {
  const r = f.run
  const bad: string[] = []
  if (r.started === 0) bad.push('no session started')
  else if (r.finished === 0) bad.push(`none of ${r.started} sessions finished`)
  if (r.crashed > 0) bad.push(`${r.crashed} session scripts crashed`)
  if (r.inFlight > 0) bad.push(`${r.inFlight} sessions still in flight after the drain`)
  if (r.undelivered > 0) bad.push(`${r.undelivered} sales undelivered after the drain`)
  return {
    name: 'sessions ran and were all judged',
    ok: bad.length === 0,
    detail: bad.length ? bad.join('; ') : `${r.started} started, ${r.finished} finished`,
  }
}

export function checkInvariants(f: Facts): InvariantResult[] {
  return [
    capturedExactlyOnce(f),
    totalizersMatchCaptures(f),
    ledgerBalanced(f),
    noPumpLeftAuthorized(f),
    everySessionSettled(f),
    runCarriedThrough(f),
  ]
}
