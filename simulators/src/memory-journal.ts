import type { Journal, PumpSession, PumpState, StoredSale } from '@fuelpay/pump-controller'

/**
 * The pump controller's `Journal` kept in memory, for load runs with many
 * stations in one process: a PGlite per station costs tens of MB and seconds
 * to open, and a PostgreSQL database per station runs the server out of
 * connections. It keeps the contract of the real one (journal.repository.ts):
 * a token id is used once, a session has one sale, a session the cloud
 * voided first is refused, seq is station-wide and gapless, and values go in and come out as copies (as through a database),
 * so the controller cannot depend on sharing objects with its journal.
 * What it does not give is durability across a process restart, which a
 * simulator run does not exercise (the controller's own tests do).
 *
 * @example const journal = createMemoryJournal(); createPumpController({ ..., journal })
 */
export function createMemoryJournal(): Journal & { sales(): StoredSale[] } {
  const copy = <T>(v: T): T => (v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T))
  const pumps = new Map<number, PumpState>()
  const used = new Map<
    string,
    { sessionId: string; vehicleId: string; requestId: string; keepUntil: number }
  >()
  const sessions = new Map<string, PumpSession>()
  const byRequest = new Map<string, string>()
  const sales: StoredSale[] = []
  const bySession = new Map<string, StoredSale>()
  const kv = new Map<string, unknown>()
  const revoked = new Map<string, { commandId: string; keepUntil: number }>()
  // One writer at a time, as a transaction would serialise them.
  let chain: Promise<unknown> = Promise.resolve()
  const serial = <T>(fn: () => Promise<T> | T): Promise<T> => {
    const p = chain.then(fn, fn)
    chain = p.catch(() => {})
    return p
  }
  return {
    sales: () => sales.map(copy),
    async loadPumps() {
      return new Map([...pumps].map(([k, v]) => [k, copy(v)]))
    },
    async savePump(state) {
      pumps.set(state.pump, copy(state))
    },
    async isTokenUsed(tokenId) {
      return used.has(tokenId)
    },
    async findSessionByRequest(vehicleId, requestId) {
      const id = byRequest.get(`${vehicleId}\u0000${requestId}`)
      const s = id === undefined ? undefined : sessions.get(id)
      return s ? copy(s) : undefined
    },
    recordAuthorization({ session, pumpState, keepUntilMs }) {
      return serial(() => {
        if (used.has(session.tokenId) || sessions.has(session.sessionId)) return 'replayed' as const
        // The cloud voided this session before the car presented its token here.
        if (revoked.has(session.sessionId)) return 'revoked' as const
        used.set(session.tokenId, {
          sessionId: session.sessionId,
          vehicleId: session.vehicleId,
          requestId: session.requestId,
          keepUntil: keepUntilMs,
        })
        sessions.set(session.sessionId, copy(session))
        byRequest.set(`${session.vehicleId}\u0000${session.requestId}`, session.sessionId)
        pumps.set(pumpState.pump, copy(pumpState))
        return 'ok' as const
      })
    },
    revokeSession({ sessionId, commandId, keepUntilMs }) {
      return serial(() => {
        if (sessions.has(sessionId)) return 'seen' as const
        if (!revoked.has(sessionId)) revoked.set(sessionId, { commandId, keepUntil: keepUntilMs })
        return 'revoked' as const
      })
    },
    async isSessionRevoked(sessionId) {
      return revoked.has(sessionId)
    },
    recordSale({ sessionId, build, pumpState, nowMs }) {
      return serial(async () => {
        const existing = bySession.get(sessionId)
        pumps.set(pumpState.pump, copy(pumpState))
        if (existing) return { ...copy(existing), existed: true }
        const seq = sales.length + 1
        const { sale, saleJws } = await build(seq)
        const row: StoredSale = {
          seq,
          sessionId,
          sale: copy(sale),
          saleJws,
          state: 'pending',
          attempts: 0,
          lastError: null,
          createdAt: nowMs,
          ackedAt: null,
        }
        sales.push(row)
        bySession.set(sessionId, row)
        return { ...copy(row), existed: false }
      })
    },
    async nextPendingSale() {
      const s = sales.find((x) => x.state === 'pending')
      return s ? copy(s) : undefined
    },
    async markSaleAcked(seq, _response, nowMs) {
      const s = sales[seq - 1]
      if (s) Object.assign(s, { state: 'acked', ackedAt: nowMs, lastError: null })
    },
    async markSaleRejected(seq, error) {
      const s = sales[seq - 1]
      if (s) Object.assign(s, { state: 'rejected', lastError: error.slice(0, 500) })
    },
    async noteSaleAttempt(seq, error) {
      const s = sales[seq - 1]
      if (s) Object.assign(s, { attempts: s.attempts + 1, lastError: error.slice(0, 500) })
    },
    async backlog() {
      let n = 0
      for (const s of sales) if (s.state === 'pending') n++
      return n
    },
    async listSales() {
      return sales.map(copy)
    },
    async purgeUsedTokens(nowMs) {
      let n = 0
      for (const [k, v] of used)
        if (v.keepUntil < nowMs) {
          used.delete(k)
          n++
        }
      for (const [k, v] of revoked)
        if (v.keepUntil < nowMs) {
          revoked.delete(k)
          n++
        }
      return n
    },
    async getValue<T>(key: string) {
      return copy(kv.get(key)) as T | undefined
    },
    async setValue(key, value) {
      kv.set(key, copy(value))
    },
  }
}
