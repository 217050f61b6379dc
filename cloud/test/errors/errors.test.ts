import { ErrorBody, FuelpayError, REASON_CODES, REASONS, validate } from '@fuelpay/proto'
import { openDatabase } from '@fuelpay/platform'
import { createTestDatabase, postgresReachable } from '@fuelpay/platform/test-db'
import { sql } from 'kysely'
import t from 'tap'
import { errorResponse, refuse } from '../../src/errors/errors.ts'

t.test('every reason code becomes a valid error body with its HTTP status', async (t) => {
  for (const code of REASON_CODES) {
    const r = errorResponse(refuse(code), 'req1')
    t.equal(r.status, REASONS[code].httpStatus, code)
    t.equal(r.body.error.code, code)
    t.equal(r.body.error.number, REASONS[code].number)
    t.ok(validate(ErrorBody, r.body).ok, `${code} body matches ErrorBody`)
    t.equal(r.internal, false)
  }
})

t.test('framework errors map to stable codes and internal errors say nothing', async (t) => {
  const json = errorResponse(Object.assign(new Error('x'), { code: 'FST_ERR_CTP_INVALID_JSON_BODY', statusCode: 400 }))
  t.equal(json.body.error.code, 'BAD_JSON')
  const big = errorResponse(Object.assign(new Error('x'), { code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 }))
  t.equal(big.body.error.code, 'PAYLOAD_TOO_LARGE')
  const schema = errorResponse(Object.assign(new Error('body/pump must be integer'), { validation: [{}], statusCode: 400 }))
  t.equal(schema.body.error.code, 'SCHEMA_INVALID')
  t.match(schema.body.error.message, 'pump')
  const boom = errorResponse(new Error('secret connection string postgres://u:p@h'))
  t.equal(boom.status, 500)
  t.equal(boom.internal, true)
  t.notMatch(JSON.stringify(boom.body), 'postgres://', 'internal detail does not leak')
  t.ok(refuse('TIMEOUT') instanceof FuelpayError)
})

t.test('a database that is down or restarting is 503 UNAVAILABLE (retry), not a 500 internal error', { skip: !(await postgresReachable()) }, async (t) => {
  // Nothing listens on port 1: the pool's own connect error.
  const nowhere = await openDatabase({ url: 'postgres://fuelpay@127.0.0.1:1/none', poolSize: 1 })
  t.teardown(nowhere.close)
  const refused = await sql`select 1`.execute(nowhere.db).then(() => undefined, (e: unknown) => e)
  // A query the server ends midway (a restart or an administrator).
  process.env.FUELPAY_TEST_DB = 'postgres'
  const tdb = await createTestDatabase()
  const h = await openDatabase({ url: tdb.url, poolSize: 2 })
  t.teardown(async () => {
    await h.close()
    await tdb.cleanup()
  })
  const slow = sql`select pg_sleep(10)`.execute(h.db).then(() => undefined, (e: unknown) => e)
  const until = Date.now() + 5000
  let ended = 0
  while (ended === 0 && Date.now() < until) {
    const r = await sql<{ n: number }>`select count(pg_terminate_backend(pid))::int as n from pg_stat_activity where query like 'select pg_sleep(10)%' and pid <> pg_backend_pid()`.execute(h.db)
    ended = r.rows[0]?.n ?? 0
  }
  t.equal(ended, 1, 'the server ended the running query')
  for (const [name, err] of [['connection refused', await refused], ['ended by the server', await slow]] as const) {
    t.ok(err, `${name}: the query failed`)
    const r = errorResponse(err, 'req1')
    t.equal(r.status, 503, name)
    t.equal(r.body.error.code, 'UNAVAILABLE', name)
    t.same([r.internal, r.unavailable], [false, true], name)
    t.ok(validate(ErrorBody, r.body).ok)
  }
  // On a pool of its own: h's next query may still be handed the connection the server is ending.
  const fresh = await openDatabase({ url: tdb.url, poolSize: 1 })
  t.teardown(fresh.close)
  const bug = errorResponse(await sql`select * from no_such_table`.execute(fresh.db).then(() => undefined, (e: unknown) => e))
  t.same([bug.status, bug.internal, bug.unavailable], [500, true, false], 'a query error of our own stays internal')
})
