import { sql } from 'kysely'
import type { Db } from '../db/database.ts'

/**
 * The double-entry ledger. Debits are positive, credits negative; an entry's
 * postings sum to zero (checked here before writing, and again by a deferred
 * trigger at commit). Postings are never updated or deleted (a trigger
 * refuses it): a hold is a pending entry, settled by new capture and release
 * entries.
 *
 * Ledger accounts:
 * - `customer_hold:{account}` / `merchant_hold:{station}`: money on hold
 * - `customer:{account}`: what the card owes (captured)
 * - `merchant:{station}`: what fuelpay owes the station (captured)
 */
export const ledgerAccounts = {
  customerHold: (accountId: string) => `customer_hold:${accountId}`,
  merchantHold: (stationId: string) => `merchant_hold:${stationId}`,
  customer: (accountId: string) => `customer:${accountId}`,
  merchant: (stationId: string) => `merchant:${stationId}`,
}

export interface EntryInput {
  sessionId: string | null
  kind: 'hold' | 'capture' | 'release' | 'late_capture'
  currency: string
  postings: { account: string; amountMinor: number }[]
}

export async function postEntry(db: Db, entry: EntryInput): Promise<number> {
  if (balancedPostings(entry).length === 0) return 0
  // The entry and its postings in one statement (one round trip); the
  // deferred balance trigger still checks the entry at commit.
  const r = await sql<{ id: number }>`WITH ${entryCtes('entry', undefined, [entry])} SELECT id FROM entry_e`.execute(db)
  const row = r.rows[0]
  if (!row) throw new Error(`journal entry ${entry.kind} not written`)
  return Number(row.id)
}

/** The entry's non-zero postings; throws when they do not sum to zero. */
function balancedPostings(entry: EntryInput): EntryInput['postings'] {
  const postings = entry.postings.filter((p) => p.amountMinor !== 0)
  const sum = postings.reduce((s, p) => s + p.amountMinor, 0)
  if (sum !== 0 || postings.some((p) => !Number.isSafeInteger(p.amountMinor))) {
    throw new Error(`refusing unbalanced journal entry ${entry.kind} (sum ${sum})`)
  }
  return postings
}

/**
 * Journal entries and their postings as two common table expressions,
 * `<name>_e` (RETURNING id, kind) and `<name>_p`, to ride in a larger
 * statement. The entries are inserted by one INSERT ... SELECT ordered as
 * given, so their ids keep that order (a capture before its release). With
 * `gate` (the name of an earlier CTE) they are written once per row of it,
 * so none when the gating change did not happen. Entries without non-zero
 * postings are left out; kinds must differ (postings are matched by kind).
 *
 * @example sql`WITH s AS (UPDATE ... RETURNING id), ${entryCtes('hold', 's', [entry])} SELECT count(*) FROM s`
 */
export function entryCtes(name: string, gate: string | undefined, entries: EntryInput[]) {
  const written = entries.map((entry) => ({ entry, postings: balancedPostings(entry) })).filter((w) => w.postings.length > 0)
  if (new Set(written.map((w) => w.entry.kind)).size !== written.length) throw new Error('entryCtes: one entry per kind')
  const e = sql.id(`${name}_e`)
  const p = sql.id(`${name}_p`)
  const from = gate ? sql`${sql.id(gate)}, ` : sql``
  if (written.length === 0) {
    // Nothing to write: CTEs of the same names that insert no row.
    return sql`${e} AS (SELECT NULL::bigint AS id, NULL::text AS kind WHERE false), ${p} AS (SELECT 1 WHERE false)`
  }
  const heads = sql.join(
    written.map((w, i) => sql`(${i}::int, ${w.entry.sessionId}::text, ${w.entry.kind}::text, ${w.entry.currency}::text)`),
  )
  const lines = sql.join(
    written.flatMap((w) => w.postings.map((x) => sql`(${w.entry.kind}::text, ${x.account}::text, ${x.amountMinor}::bigint)`)),
  )
  return sql`${e} AS (
      INSERT INTO journal_entries (session_id, kind, currency)
      SELECT v.session_id, v.kind, v.currency FROM ${from}(VALUES ${heads}) AS v(ord, session_id, kind, currency)
      ORDER BY v.ord RETURNING id, kind
    ), ${p} AS (
      INSERT INTO postings (entry_id, ledger_account, amount_minor)
      SELECT ${e}.id, l.account, l.amount FROM ${e} JOIN (VALUES ${lines}) AS l(kind, account, amount) ON l.kind = ${e}.kind
    )`
}

/** A hold: the customer's money is pending towards the station. */
export function holdPostings(accountId: string, stationId: string, amountMinor: number) {
  return [
    { account: ledgerAccounts.customerHold(accountId), amountMinor: amountMinor },
    { account: ledgerAccounts.merchantHold(stationId), amountMinor: -amountMinor },
  ]
}

/** Capture: the captured part leaves the hold and becomes a real debt and payable. */
export function capturePostings(accountId: string, stationId: string, amountMinor: number) {
  return [
    { account: ledgerAccounts.merchantHold(stationId), amountMinor: amountMinor },
    { account: ledgerAccounts.customerHold(accountId), amountMinor: -amountMinor },
    { account: ledgerAccounts.customer(accountId), amountMinor: amountMinor },
    { account: ledgerAccounts.merchant(stationId), amountMinor: -amountMinor },
  ]
}

/**
 * Late capture (a forced post): the hold was already released, so the
 * captured amount goes straight from the customer to the station, through no
 * hold account.
 */
export function lateCapturePostings(accountId: string, stationId: string, amountMinor: number) {
  return [
    { account: ledgerAccounts.customer(accountId), amountMinor: amountMinor },
    { account: ledgerAccounts.merchant(stationId), amountMinor: -amountMinor },
  ]
}

/** Release: the uncaptured part of the hold goes away. */
export function releasePostings(accountId: string, stationId: string, amountMinor: number) {
  return [
    { account: ledgerAccounts.merchantHold(stationId), amountMinor: amountMinor },
    { account: ledgerAccounts.customerHold(accountId), amountMinor: -amountMinor },
  ]
}

export interface LedgerReport {
  ok: boolean
  entries: number
  postings: number
  unbalancedEntries: number[]
  /** Sessions whose ledger disagrees with the session row (held, captured, released). */
  mismatchedSessions: string[]
}

/**
 * Verifies the whole ledger: every entry balances, and for each session the
 * hold, capture and release entries equal the session's amounts, and a settled
 * session has nothing left on hold. A late-captured session released its
 * whole hold and captured at most that hold on top of it.
 */
export async function verifyLedger(db: Db): Promise<LedgerReport> {
  const counts = await sql<{ entries: number; postings: number }>`
    SELECT (SELECT count(*) FROM journal_entries)::int AS entries, (SELECT count(*) FROM postings)::int AS postings`.execute(db)
  const unbalanced = await sql<{ entry_id: number }>`
    SELECT e.id AS entry_id FROM journal_entries e LEFT JOIN postings p ON p.entry_id = e.id
    GROUP BY e.id HAVING COALESCE(SUM(p.amount_minor), 0) <> 0 OR count(p.id) = 0`.execute(db)
  const mismatched = await sql<{ id: string }>`
    WITH per AS (
      SELECT e.session_id,
        COALESCE(SUM(p.amount_minor) FILTER (WHERE e.kind = 'hold' AND p.amount_minor > 0), 0) AS held,
        COALESCE(SUM(p.amount_minor) FILTER (WHERE e.kind IN ('capture', 'late_capture') AND p.ledger_account LIKE 'customer:%'), 0) AS captured,
        COALESCE(SUM(p.amount_minor) FILTER (WHERE e.kind = 'release' AND p.amount_minor > 0), 0) AS released,
        COALESCE(SUM(p.amount_minor) FILTER (WHERE p.ledger_account LIKE 'customer_hold:%'), 0) AS on_hold
      FROM journal_entries e JOIN postings p ON p.entry_id = e.id
      WHERE e.session_id IS NOT NULL GROUP BY e.session_id
    )
    SELECT s.id FROM sessions s LEFT JOIN per ON per.session_id = s.id
    WHERE COALESCE(per.held, 0) <> s.hold_amount_minor
       OR COALESCE(per.captured, 0) <> s.captured_minor
       OR COALESCE(per.released, 0) <> s.released_minor
       OR (s.settle_action IS DISTINCT FROM 'late_capture' AND s.captured_minor + s.released_minor > s.hold_amount_minor)
       OR (s.settle_action = 'late_capture' AND (s.released_minor <> s.hold_amount_minor OR s.captured_minor > s.hold_amount_minor))
       OR (s.settled_at IS NOT NULL AND COALESCE(per.on_hold, 0) <> 0)
       OR (s.settled_at IS NOT NULL AND s.settle_action IS DISTINCT FROM 'late_capture' AND s.captured_minor + s.released_minor <> s.hold_amount_minor)
    LIMIT 1000`.execute(db)
  const c = counts.rows[0] ?? { entries: 0, postings: 0 }
  const report = {
    entries: Number(c.entries),
    postings: Number(c.postings),
    unbalancedEntries: unbalanced.rows.map((r) => Number(r.entry_id)),
    mismatchedSessions: mismatched.rows.map((r) => r.id),
  }
  return { ok: report.unbalancedEntries.length === 0 && report.mismatchedSessions.length === 0, ...report }
}

/** Balances of the ledger accounts whose name starts with `prefix` (for reads and tests). */
export async function accountBalances(db: Db, prefix: string) {
  const rows = await sql<{ ledger_account: string; balance: number }>`
    SELECT ledger_account, SUM(amount_minor) AS balance FROM postings
    WHERE ledger_account LIKE ${`${prefix}%`} GROUP BY ledger_account ORDER BY ledger_account`.execute(db)
  return rows.rows.map((r) => ({ account: r.ledger_account, balanceMinor: Number(r.balance) }))
}
