import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { silentLogger } from '@fuelpay/platform'
import { createTestDatabase } from '@fuelpay/platform/test-db'
import {
  generateSigningKey,
  type ReasonCode,
  reason,
  type SaleRecord,
  type SigningKey,
  signSaleRecord,
} from '@fuelpay/proto'
import t from 'tap'
import { createCloudClient } from '../../src/cloud/cloud-client.ts'
import type { Journal } from '../../src/journal/journal.repository.ts'
import { openJournal } from '../../src/journal/journal.open.ts'
import { initialPumpState } from '../../src/pump/pump.machine.ts'
import {
  backoffDelayMs,
  createSaleForwarder,
  FINAL_SALE_REFUSALS,
  isRetryable,
} from '../../src/sales/sale-forwarder.ts'

/**
 * A small stand-in for the cloud's POST /v1/sales on a free port: `answer`
 * gets the request's Idempotency-Key and the sale inside its JWS, and says
 * the status, body and content type. Resolves with the base URL.
 */
async function salesCloud(
  t: { teardown(fn: () => unknown): void },
  answer: (r: { key: string | undefined; sale: SaleRecord }) => [status: number, body: string, contentType?: string],
): Promise<string> {
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (c) => (body += c))
    req.on('end', () => {
      const jws = (JSON.parse(body) as { saleJws: string }).saleJws
      const sale = JSON.parse(Buffer.from(jws.split('.')[1] ?? '', 'base64url').toString()) as SaleRecord
      const [status, out, contentType = 'application/json'] = answer({ key: req.headers['idempotency-key'] as string | undefined, sale })
      res.writeHead(status, { 'content-type': contentType }).end(out)
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => server.close(() => r())))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

/** A journal on a fresh test database, closed and dropped at the test's end. */
async function testJournal(t: { teardown(fn: () => unknown): void }): Promise<Journal> {
  const tdb = await createTestDatabase()
  const { journal, close } = await openJournal({ url: tdb.url, dataDir: tdb.dataDir })
  t.teardown(async () => {
    await close()
    await tdb.cleanup()
  })
  return journal
}

/** The cloud's answer to a sale it settled (nothing captured: the test sales are zero sales). */
const captured = (sessionId: string) => JSON.stringify({ sessionId, state: 'captured', capturedMinor: 0, releasedMinor: 0 })

/** Journals one zero sale (a lapsed authorization) per session id, signed with `key`, else with a dummy JWS. */
async function journalZeroSales(journal: Journal, sessionIds: string[], key?: SigningKey): Promise<void> {
  const pump = initialPumpState({
    pump: 1,
    prices: { diesel: 1799 },
    currency: 'EUR',
    limits: { nozzleTimeoutMs: 1000, noFlowTimeoutMs: 1000, maxSessionMs: 1000 },
  })
  for (const sessionId of sessionIds) {
    await journal.recordSale({
      sessionId,
      pumpState: pump,
      nowMs: 1,
      build: async (seq) => {
        const sale: SaleRecord = {
          sessionId,
          tokenId: `tok-${sessionId}`,
          stationId: 'st1',
          pump: 1,
          vehicleId: 'car7',
          outcome: 'lapsed',
          volumeMilli: 0,
          volumeUnit: 'L',
          amountMinor: 0,
          currency: 'EUR',
          startedAt: 1,
          endedAt: 2,
          seq,
          totalizerStartMilli: 0,
          totalizerEndMilli: 0,
        }
        return { sale, saleJws: key ? await signSaleRecord(sale, key) : 'x.y.z' }
      },
    })
  }
}

t.test('backoff is exponential, jittered and bounded', async (t) => {
  t.equal(
    backoffDelayMs(0, 100, 10_000, () => 0),
    100,
  )
  t.equal(
    backoffDelayMs(3, 100, 10_000, () => 1),
    800,
  )
  t.equal(
    backoffDelayMs(50, 100, 10_000, () => 1),
    10_000,
  )
  for (let a = 0; a < 40; a++) {
    const d = backoffDelayMs(a, 100, 10_000, Math.random)
    t.ok(d >= 100 && d <= 10_000, `attempt ${a}: ${d}`)
  }
})

t.test('which refusals are retried', async (t) => {
  // The cloud's wire form (cloud errors.ts): a proto reason and the request id.
  const err = (code: ReasonCode) => ({ error: reason(code), requestId: 'req-1' })
  t.equal(isRetryable(503, err('UNAVAILABLE')), true)
  t.equal(isRetryable(500, undefined), true)
  t.equal(isRetryable(429, err('RATE_LIMITED')), true)
  t.equal(isRetryable(409, err('IDEMPOTENCY_IN_PROGRESS')), true)
  t.equal(isRetryable(409, err('SESSION_STATE_CONFLICT')), false)
  t.equal(isRetryable(401, err('UNAUTHENTICATED')), true)
  t.equal(isRetryable(401, err('SALE_SIGNATURE_INVALID')), false)
  t.equal(isRetryable(422, err('SALE_MISMATCH')), false)
  // Final: the cloud read the sale and says it is bad, each with its own status.
  for (const code of FINAL_SALE_REFUSALS) {
    const status = {
      SALE_SIGNATURE_INVALID: 401,
      TOKEN_MALFORMED: 400,
      SALE_ARITHMETIC_INVALID: 422,
      SALE_MISMATCH: 422,
      WRONG_STATION: 403,
      SESSION_NOT_FOUND: 404,
      SESSION_STATE_CONFLICT: 409,
      IDEMPOTENCY_KEY_REUSED: 422,
    }[code]
    t.equal(isRetryable(status, err(code)), false, `${code} is final`)
    t.equal(
      isRetryable(status, { error: reason(code) }),
      false,
      `${code} without request id is final`,
    )
  }
  // Not final: anything that does not say the sale is bad, or does not come from the cloud.
  t.equal(isRetryable(403, undefined), true, 'an empty 403 (a proxy)')
  t.equal(isRetryable(404, { raw: '<html>Not Found</html>' }), true, "a proxy's 404 page")
  t.equal(isRetryable(403, { error: 'forbidden' }), true, 'an error body of another shape')
  t.equal(isRetryable(404, err('NOT_FOUND')), true, 'no such route: a wrong cloud URL')
  t.equal(isRetryable(403, err('FORBIDDEN')), true, 'a station credential problem')
  t.equal(isRetryable(404, err('UNKNOWN_STATION')), true, 'not provisioned (yet)')
  t.equal(isRetryable(400, err('SCHEMA_INVALID')), true, 'request-level: versions or a proxy')
  t.equal(isRetryable(413, err('PAYLOAD_TOO_LARGE')), true)
  t.equal(isRetryable(418, undefined), true)
  t.equal(
    isRetryable(422, { error: { ...reason('SALE_MISMATCH'), number: 1 } }),
    true,
    'a code with the wrong number is not the cloud',
  )
  t.equal(
    isRetryable(400, err('SALE_MISMATCH')),
    true,
    'a code with another status is not the cloud',
  )
  t.equal(
    isRetryable(422, { ...err('SALE_MISMATCH'), extra: true }),
    true,
    "extra fields: not the cloud's error body",
  )
})

t.test(
  'sales are delivered in seq order, retried while the cloud is down, once each',
  async (t) => {
    const key = await generateSigningKey('st1-k1')
    const journal = await testJournal(t)
    // A small stand-in for POST /v1/sales: down for the first N calls, then accepting.
    let down = 5
    const received: { key: string | undefined; seq: number }[] = []
    const attempts: number[] = []
    const url = await salesCloud(t, ({ key, sale }) => {
      attempts.push(sale.seq)
      if (down > 0) {
        down--
        return [503, JSON.stringify({ error: { code: 'UNAVAILABLE', number: 902, message: 'down' } })]
      }
      if (sale.sessionId === 'ses-bad') {
        return [422, JSON.stringify({ error: { code: 'SALE_MISMATCH', number: 509, message: 'no' } })]
      }
      received.push({ key, seq: sale.seq })
      return [200, captured(sale.sessionId)]
    })
    const ids = ['ses-1', 'ses-2', 'ses-bad', 'ses-4']
    await journalZeroSales(journal, ids, key)
    const backlogs: number[] = []
    let rejected = 0
    const fwd = createSaleForwarder({
      journal,
      cloud: createCloudClient({ baseUrl: url, stationId: 'st1', key, timeoutMs: 2000 }),
      log: silentLogger(),
      baseDelayMs: 10,
      maxDelayMs: 50,
      onBacklog: (n) => backlogs.push(n),
      onRejected: () => rejected++,
    })
    fwd.start()
    t.ok(await fwd.drained(20_000), 'backlog drained')
    await fwd.stop()
    t.same(
      received.map((r) => r.key),
      ['ses-1', 'ses-2', 'ses-4'],
      'in order, idempotency key = session id',
    )
    t.same(
      attempts.slice(0, 6),
      [1, 1, 1, 1, 1, 1],
      'the head of the queue is retried, nothing overtakes it',
    )
    t.equal(rejected, 1, 'a sale refused for good is set aside')
    t.equal(backlogs[0], 4, 'backlog visible')
    const sales = await journal.listSales()
    t.same(
      sales.map((s) => s.state),
      ['acked', 'acked', 'rejected', 'acked'],
    )
    t.equal(sales[0]?.attempts, 5)
  },
)

t.test('a network failure (nothing listening) is retried, not lost', async (t) => {
  const key = await generateSigningKey('st1-k1')
  const journal = await testJournal(t)
  await journalZeroSales(journal, ['ses-n'])
  let failures = 0
  const fwd = createSaleForwarder({
    journal,
    cloud: createCloudClient({
      baseUrl: 'http://127.0.0.1:1',
      stationId: 'st1',
      key,
      timeoutMs: 500,
    }),
    log: silentLogger(),
    baseDelayMs: 10,
    maxDelayMs: 20,
    onAttemptFailed: () => failures++,
  })
  fwd.start()
  const end = Date.now() + 10_000
  while (failures < 3 && Date.now() < end) await new Promise((r) => setTimeout(r, 20))
  await fwd.stop()
  t.ok(failures >= 3, 'retried')
  t.equal(await journal.backlog(), 1, 'still pending')
  t.match((await journal.listSales())[0]?.lastError, /network/)
})

t.test(
  "a proxy's 403 and 404 are retried, never rejected; the queue says it is stuck",
  async (t) => {
    const key = await generateSigningKey('st1-k1')
    const journal = await testJournal(t)
    // A misconfigured proxy in front of the cloud: 403 and 404 pages for a while, then the cloud.
    const proxyAnswers: [number, string][] = [
      [403, ''],
      [404, '<html><body>Not Found</body></html>'],
      [403, '{"message":"Forbidden"}'],
      [404, JSON.stringify({ error: reason('NOT_FOUND') })],
    ]
    const seen: string[] = []
    const url = await salesCloud(t, ({ key }) => {
      seen.push(key as string)
      const proxy = proxyAnswers.shift()
      if (proxy) return [proxy[0], proxy[1], 'text/html']
      if (key === 'ses-bad') return [422, JSON.stringify({ error: reason('SALE_MISMATCH'), requestId: 'r1' })]
      return [200, captured(key as string)]
    })
    await journalZeroSales(journal, ['ses-1', 'ses-bad', 'ses-3'], key)
    const failingSeen: (number | undefined)[] = []
    const fwd = createSaleForwarder({
      journal,
      cloud: createCloudClient({ baseUrl: url, stationId: 'st1', key, timeoutMs: 2000 }),
      log: silentLogger(),
      baseDelayMs: 10,
      maxDelayMs: 20,
      onAttemptFailed: () => failingSeen.push(fwd.failing?.attempts),
    })
    fwd.start()
    t.ok(await fwd.drained(20_000), 'backlog drained once the proxy lets it through')
    await fwd.stop()
    t.same(seen.slice(0, 5), ['ses-1', 'ses-1', 'ses-1', 'ses-1', 'ses-1'], 'the head is retried')
    t.same(failingSeen, [1, 2, 3, 4], 'failing counts the attempts in a row')
    t.equal(fwd.failing, undefined, 'and clears once a sale goes through')
    const sales = await journal.listSales()
    t.same(
      sales.map((s) => [s.sessionId, s.state]),
      [
        ['ses-1', 'acked'],
        ['ses-bad', 'rejected'],
        ['ses-3', 'acked'],
      ],
      "only the cloud's own refusal of a sale sets it aside; the queue moves on",
    )
  },
)
