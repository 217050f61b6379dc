import fc from 'fast-check'
import { fail } from '@fuelpay/proto'
import { sql } from 'kysely'
import t from 'tap'
import { verifyLedger } from '../../src/ledger/ledger.repository.ts'
import type { PaymentProcessor } from '../../src/processor/payment-processor.ts'
import { unusedHoldLifetimeMs } from '../../src/sessions/authorization.service.ts'
import { expireSessions } from '../../src/sessions/settlement.service.ts'
import { authorize, call, makeCloud, provision, reportSale, saleFor, vehicleAuth } from '../helpers.ts'

/**
 * Model test with a flaky processor: any call may time out before doing its
 * work or after doing it, and sweeps (two replicas' at once) race the sales.
 * Once the processor is healthy again, the stations have delivered every
 * sale and the sweeper has run out of work, nothing may be held or charged
 * that the ledger does not show: every session settled, every processor
 * authorization closed, the card charged exactly the captures, the ledger
 * balanced, no session captured twice.
 */
type Fault = 'ok' | 'before' | 'after'
type Cmd =
  | { op: 'authorize'; amountMinor: number }
  | { op: 'sale'; pick: number; volumeMilli: number; copies: number; sweep: boolean }
  | { op: 'cancel'; pick: number }
  | { op: 'expire'; sweeps: number }

const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  fc.record({ op: fc.constant('authorize' as const), amountMinor: fc.integer({ min: 100, max: 9000 }) }),
  fc.record({
    op: fc.constant('sale' as const),
    pick: fc.nat(),
    volumeMilli: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 60_000 })),
    copies: fc.integer({ min: 1, max: 2 }),
    sweep: fc.boolean(),
  }),
  fc.record({ op: fc.constant('cancel' as const), pick: fc.nat() }),
  fc.record({ op: fc.constant('expire' as const), sweeps: fc.integer({ min: 1, max: 2 }) }),
)

/** Wraps the processor: each call takes the next fault of the script (then 'ok' for ever). */
function flaky(p: PaymentProcessor, state: { script: Fault[] }): PaymentProcessor {
  const wrap =
    <I, O>(fn: (i: I) => Promise<O>) =>
    async (i: I): Promise<O> => {
      const f = state.script.shift() ?? 'ok'
      if (f === 'before') return fail('PROCESSOR_TIMEOUT') as O
      const r = await fn(i)
      return f === 'after' ? (fail('PROCESSOR_TIMEOUT') as O) : r
    }
  return { authorize: wrap((i) => p.authorize(i)), capture: wrap((i) => p.capture(i)), void: wrap((i) => p.void(i)) }
}

t.test('settlement model with a processor that times out, before or after doing the work', async (t) => {
  fc.configureGlobal({ interruptAfterTimeLimit: 200_000 })
  const faults = { script: [] as Fault[] }
  const cloud = await makeCloud(t, { processor: (p) => flaky(p, faults) })
  let run = 0
  await fc.assert(
    fc.asyncProperty(
      fc.array(cmd, { minLength: 1, maxLength: 10 }),
      fc.array(fc.constantFrom<Fault>('ok', 'ok', 'before', 'after'), { maxLength: 30 }),
      async (cmds, script) => {
        const startMinor = 60_000
        const w = await provision(cloud, { suffix: `f${++run}`, availableMinor: startMinor })
        faults.script = [...script]
        // Each run on the real time (sessions' created_at is the database's): earlier runs' clock jumps would age them.
        cloud.clock.now = Date.now()
        const auths: { sessionId: string; token: string }[] = []
        const sales: string[] = []
        for (const c of cmds) {
          if (c.op === 'authorize') {
            const r = await authorize(cloud, w, { amountMinor: c.amountMinor, grade: 'diesel' })
            if (r.status === 201) auths.push(r.body)
          } else if (c.op === 'sale' && auths.length > 0) {
            const a = auths[c.pick % auths.length] as { sessionId: string; token: string }
            const sale = await saleFor(w, a, { volumeMilli: c.volumeMilli })
            sales.push(sale.jws)
            await Promise.all([
              ...Array.from({ length: c.copies }, () => reportSale(cloud, w, sale.jws)),
              ...(c.sweep ? [expireSessions(cloud.deps), expireSessions(cloud.deps)] : []),
            ])
          } else if (c.op === 'cancel' && auths.length > 0) {
            const a = auths[c.pick % auths.length] as { sessionId: string }
            await call(cloud.app, { method: 'POST', url: `/v1/sessions/${a.sessionId}/cancel`, auth: await vehicleAuth(w, cloud.clock.now) })
          } else if (c.op === 'expire') {
            cloud.clock.now += unusedHoldLifetimeMs(cloud.deps.config) + 1000
            await Promise.all(Array.from({ length: c.sweeps }, () => expireSessions(cloud.deps)))
          }
        }
        // The processor is healthy again; each station delivers until acknowledged; the sweeper drains.
        faults.script = []
        for (const jws of sales) {
          for (let i = 0; i < 3; i++) {
            const r = await reportSale(cloud, w, jws)
            if (r.status < 500) break
          }
        }
        for (let i = 0; i < 6; i++) {
          cloud.clock.now += 2 * 3_600_000
          await expireSessions(cloud.deps, { limit: 1000 })
        }

        const rows = await cloud.db.selectFrom('sessions').selectAll().where('account_id', '=', w.accountId).execute()
        const problems: string[] = []
        for (const r of rows) if (!r.settled_at) problems.push(`${r.id} unsettled: ${r.state}/${r.settle_action}`)
        const open = await cloud.db.selectFrom('sim_authorizations').select(['id', 'idempotency_key', 'state']).where('card_token', '=', w.cardToken).where('state', '=', 'authorized').execute()
        for (const a of open) problems.push(`processor still holds ${a.idempotency_key}`)
        const captured = rows.reduce((s, r) => s + Number(r.captured_minor), 0)
        const card = await cloud.db.selectFrom('sim_cards').select('available_minor').where('token', '=', w.cardToken).executeTakeFirstOrThrow()
        if (Number(card.available_minor) !== startMinor - captured) problems.push(`card ${card.available_minor} != ${startMinor} - ${captured}`)
        const twice = await sql<{ session_id: string }>`
          SELECT session_id FROM journal_entries WHERE kind IN ('capture', 'late_capture') GROUP BY session_id HAVING count(*) > 1`.execute(cloud.db)
        for (const x of twice.rows) problems.push(`captured twice: ${x.session_id}`)
        const ledger = await verifyLedger(cloud.db)
        const ours = new Set(rows.map((r) => r.id))
        if (ledger.unbalancedEntries.length > 0 || ledger.mismatchedSessions.some((id) => ours.has(id)))
          problems.push(`ledger: ${JSON.stringify(ledger)}`)
        if (problems.length > 0) {
          const seen = rows.map((r) => `${r.id}: ${r.state}/${r.settle_action} ${r.reason_code} (${r.reason_message}) auth=${r.processor_auth_id}`)
          const entries = await cloud.db.selectFrom('journal_entries').select(['session_id', 'kind']).where('session_id', 'in', [...ours]).orderBy('id').execute()
          throw new Error([...problems, ...seen, JSON.stringify(entries), JSON.stringify({ cmds, script })].join('\n'))
        }
        return true
      },
    ),
    {
      numRuns: Number(process.env.FUELPAY_MODEL_RUNS ?? 8),
      seed: process.env.FUELPAY_MODEL_SEED ? Number(process.env.FUELPAY_MODEL_SEED) : undefined,
    },
  )
  t.pass('every run ended with nothing held that the ledger does not show')
})
