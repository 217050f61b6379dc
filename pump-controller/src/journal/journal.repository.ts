import type { SaleRecord } from '@fuelpay/proto'
import type { Kysely } from 'kysely'
import type { PumpSession, PumpState } from '../pump/pump.machine.ts'
import type { JournalTables } from './journal.schema.ts'

/**
 * The journal's operations. Each one that changes more than one row runs in
 * one transaction, so a controller killed between two writes never leaves a
 * token used without its session or a sale without its sequence number.
 *
 * @example
 *   const journal = createJournal(db)
 *   const r = await journal.recordAuthorization({ session, pumpState, keepUntilMs, nowMs })
 *   if (r === 'replayed') reject('TOKEN_REPLAYED')
 */
export interface Journal {
  loadPumps(): Promise<Map<number, PumpState>>
  savePump(state: PumpState, nowMs: number): Promise<void>
  isTokenUsed(tokenId: string): Promise<boolean>
  /** The session a vehicle's request id already opened (duplicate delivery), if any. */
  findSessionByRequest(vehicleId: string, requestId: string): Promise<PumpSession | undefined>
  /**
   * The used token, the session and the pump state, in one transaction.
   * `revoked`: the cloud voided the session first (see revokeSession); nothing is written.
   */
  recordAuthorization(input: {
    session: PumpSession
    pumpState: PumpState
    keepUntilMs: number
    nowMs: number
  }): Promise<'ok' | 'replayed' | 'revoked'>
  /**
   * Records that the cloud voided a session this station has not seen, so
   * that its token, presented later, is refused. Idempotent (the first
   * command id is kept). `seen`: the station already has the session
   * (it ended here); nothing is written.
   *
   * Optional only so that journals written before it (the simulators'
   * in-memory one) keep working: without it the controller keeps
   * revocations in memory, which loses them on restart.
   *
   * @example await journal.revokeSession({ sessionId, commandId, keepUntilMs: now + 3_660_000, nowMs: now })
   */
  revokeSession?(input: {
    sessionId: string
    commandId: string
    keepUntilMs: number
    nowMs: number
  }): Promise<'revoked' | 'seen'>
  /** Whether revokeSession recorded the session (and it is not purged yet). */
  isSessionRevoked?(sessionId: string): Promise<boolean>
  /**
   * Writes a session's one sale with the next station-wide seq; `sign` makes
   * the signed form once seq is known. Idempotent on the session: a second
   * call returns the sale already written.
   */
  recordSale(input: {
    sessionId: string
    build: (seq: number) => Promise<{ sale: SaleRecord; saleJws: string }>
    pumpState: PumpState
    nowMs: number
  }): Promise<StoredSale & { existed: boolean }>
  nextPendingSale(): Promise<StoredSale | undefined>
  markSaleAcked(seq: number, response: unknown, nowMs: number): Promise<void>
  markSaleRejected(seq: number, error: string): Promise<void>
  noteSaleAttempt(seq: number, error: string): Promise<void>
  backlog(): Promise<number>
  listSales(): Promise<StoredSale[]>
  /** Forgets used token ids and session revocations whose tokens can no longer verify. */
  purgeUsedTokens(nowMs: number): Promise<number>
  getValue<T>(key: string): Promise<T | undefined>
  setValue(key: string, value: unknown, nowMs: number): Promise<void>
}

export interface StoredSale {
  seq: number
  sessionId: string
  sale: SaleRecord
  saleJws: string
  state: 'pending' | 'acked' | 'rejected'
  attempts: number
  lastError: string | null
  createdAt: number
  ackedAt: number | null
}

const json = (v: unknown) => JSON.stringify(v)
const parse = <T>(v: unknown): T => (typeof v === 'string' ? (JSON.parse(v) as T) : (v as T))

function toSale(r: JournalTables['pc_sales']): StoredSale {
  return {
    seq: Number(r.seq),
    sessionId: r.session_id,
    sale: parse<SaleRecord>(r.sale),
    saleJws: r.sale_jws,
    state: r.state as StoredSale['state'],
    attempts: r.attempts,
    lastError: r.last_error,
    createdAt: Number(r.created_at),
    ackedAt: r.acked_at === null ? null : Number(r.acked_at),
  }
}

async function upsertPump(
  db: Kysely<JournalTables>,
  state: PumpState,
  nowMs: number,
): Promise<void> {
  await db
    .insertInto('pc_pumps')
    .values({ pump: state.pump, state: json(state), updated_at: nowMs })
    .onConflict((oc) => oc.column('pump').doUpdateSet({ state: json(state), updated_at: nowMs }))
    .execute()
}

export function createJournal(db: Kysely<JournalTables>): Journal {
  return {
    async loadPumps() {
      const rows = await db.selectFrom('pc_pumps').selectAll().execute()
      return new Map(rows.map((r) => [r.pump, parse<PumpState>(r.state)]))
    },
    savePump: (state, nowMs) => upsertPump(db, state, nowMs),
    async isTokenUsed(tokenId) {
      const r = await db
        .selectFrom('pc_used_tokens')
        .select('token_id')
        .where('token_id', '=', tokenId)
        .executeTakeFirst()
      return r !== undefined
    },
    async findSessionByRequest(vehicleId, requestId) {
      const r = await db
        .selectFrom('pc_used_tokens')
        .innerJoin('pc_sessions', 'pc_sessions.session_id', 'pc_used_tokens.session_id')
        .select('pc_sessions.data')
        .where('pc_used_tokens.vehicle_id', '=', vehicleId)
        .where('pc_used_tokens.request_id', '=', requestId)
        .executeTakeFirst()
      return r ? parse<PumpSession>(r.data) : undefined
    },
    async recordAuthorization({ session, pumpState, keepUntilMs, nowMs }) {
      return db
        .transaction()
        .execute(async (tx) => {
          const revoked = await tx
            .selectFrom('pc_revoked_sessions')
            .select('session_id')
            .where('session_id', '=', session.sessionId)
            .executeTakeFirst()
          if (revoked) return 'revoked' as const
          const inserted = await tx
            .insertInto('pc_used_tokens')
            .values({
              token_id: session.tokenId,
              session_id: session.sessionId,
              vehicle_id: session.vehicleId,
              request_id: session.requestId,
              pump: pumpState.pump,
              keep_until: keepUntilMs,
              used_at: nowMs,
            })
            .onConflict((oc) => oc.column('token_id').doNothing())
            .returning('token_id')
            .executeTakeFirst()
          if (!inserted) return 'replayed' as const
          const existing = await tx
            .selectFrom('pc_sessions')
            .select('session_id')
            .where('session_id', '=', session.sessionId)
            .executeTakeFirst()
          // A session id is the cloud's; a second token for the same session is a replay of it.
          if (existing) throw new SessionReplayed()
          await tx
            .insertInto('pc_sessions')
            .values({
              session_id: session.sessionId,
              pump: pumpState.pump,
              vehicle_id: session.vehicleId,
              token_id: session.tokenId,
              request_id: session.requestId,
              state: pumpState.name,
              data: json(session),
              created_at: nowMs,
              updated_at: nowMs,
            })
            .execute()
          await upsertPump(tx, pumpState, nowMs)
          return 'ok' as const
        })
        .catch((e: unknown) => {
          if (e instanceof SessionReplayed) return 'replayed' as const
          throw e
        })
    },
    async revokeSession({ sessionId, commandId, keepUntilMs, nowMs }) {
      return db.transaction().execute(async (tx) => {
        const seen = await tx
          .selectFrom('pc_sessions')
          .select('session_id')
          .where('session_id', '=', sessionId)
          .executeTakeFirst()
        if (seen) return 'seen' as const
        await tx
          .insertInto('pc_revoked_sessions')
          .values({
            session_id: sessionId,
            command_id: commandId,
            keep_until: keepUntilMs,
            revoked_at: nowMs,
          })
          .onConflict((oc) => oc.column('session_id').doNothing())
          .execute()
        return 'revoked' as const
      })
    },
    async isSessionRevoked(sessionId) {
      const r = await db
        .selectFrom('pc_revoked_sessions')
        .select('session_id')
        .where('session_id', '=', sessionId)
        .executeTakeFirst()
      return r !== undefined
    },
    async recordSale({ sessionId, build, pumpState, nowMs }) {
      return db.transaction().execute(async (tx) => {
        const existing = await tx
          .selectFrom('pc_sales')
          .selectAll()
          .where('session_id', '=', sessionId)
          .executeTakeFirst()
        if (existing) {
          await upsertPump(tx, pumpState, nowMs)
          return { ...toSale(existing), existed: true }
        }
        const max = await tx
          .selectFrom('pc_sales')
          .select((eb) => eb.fn.max('seq').as('max'))
          .executeTakeFirst()
        const seq = Number(max?.max ?? 0) + 1
        const { sale, saleJws } = await build(seq)
        const row = {
          seq,
          session_id: sessionId,
          sale: json(sale),
          sale_jws: saleJws,
          state: 'pending',
          attempts: 0,
          last_error: null,
          response: null,
          created_at: nowMs,
          acked_at: null,
        }
        await tx.insertInto('pc_sales').values(row).execute()
        await tx
          .updateTable('pc_sessions')
          .set({ state: 'ended', updated_at: nowMs })
          .where('session_id', '=', sessionId)
          .execute()
        await upsertPump(tx, pumpState, nowMs)
        return { ...toSale({ ...row, sale }), existed: false }
      })
    },
    async nextPendingSale() {
      const r = await db
        .selectFrom('pc_sales')
        .selectAll()
        .where('state', '=', 'pending')
        .orderBy('seq')
        .limit(1)
        .executeTakeFirst()
      return r ? toSale(r) : undefined
    },
    async markSaleAcked(seq, response, nowMs) {
      await db
        .updateTable('pc_sales')
        .set({
          state: 'acked',
          response: json(response ?? null),
          acked_at: nowMs,
          last_error: null,
        })
        .where('seq', '=', seq)
        .execute()
    },
    async markSaleRejected(seq, error) {
      await db
        .updateTable('pc_sales')
        .set({ state: 'rejected', last_error: error.slice(0, 500) })
        .where('seq', '=', seq)
        .execute()
    },
    async noteSaleAttempt(seq, error) {
      await db
        .updateTable('pc_sales')
        .set((eb) => ({ attempts: eb('attempts', '+', 1), last_error: error.slice(0, 500) }))
        .where('seq', '=', seq)
        .execute()
    },
    async backlog() {
      const r = await db
        .selectFrom('pc_sales')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('state', '=', 'pending')
        .executeTakeFirst()
      return Number(r?.n ?? 0)
    },
    async listSales() {
      const rows = await db.selectFrom('pc_sales').selectAll().orderBy('seq').execute()
      return rows.map(toSale)
    },
    async purgeUsedTokens(nowMs) {
      const r = await db
        .deleteFrom('pc_used_tokens')
        .where('keep_until', '<', nowMs)
        .executeTakeFirst()
      const v = await db
        .deleteFrom('pc_revoked_sessions')
        .where('keep_until', '<', nowMs)
        .executeTakeFirst()
      return Number(r.numDeletedRows) + Number(v.numDeletedRows)
    },
    async getValue<T>(key: string) {
      const r = await db
        .selectFrom('pc_kv')
        .select('value')
        .where('key', '=', key)
        .executeTakeFirst()
      return r ? parse<T>(r.value) : undefined
    },
    async setValue(key, value, nowMs) {
      await db
        .insertInto('pc_kv')
        .values({ key, value: json(value), updated_at: nowMs })
        .onConflict((oc) => oc.column('key').doUpdateSet({ value: json(value), updated_at: nowMs }))
        .execute()
    },
  }
}

class SessionReplayed extends Error {}
