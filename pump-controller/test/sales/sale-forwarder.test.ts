import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { silentLogger } from '@fuelpay/platform'
import { createTestDatabase } from '@fuelpay/platform/test-db'
import { generateSigningKey, type SaleRecord, signSaleRecord } from '@fuelpay/proto'
import t from 'tap'
import { createCloudClient } from '../../src/cloud/cloud-client.ts'
import { openJournal } from '../../src/journal/journal.open.ts'
import { initialPumpState } from '../../src/pump/pump.machine.ts'
import { backoffDelayMs, createSaleForwarder, isRetryable } from '../../src/sales/sale-forwarder.ts'

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
  const err = (code: string) => ({ error: { code, number: 1, message: '' } })
  t.equal(isRetryable(503, err('UNAVAILABLE')), true)
  t.equal(isRetryable(500, undefined), true)
  t.equal(isRetryable(429, err('RATE_LIMITED')), true)
  t.equal(isRetryable(409, err('IDEMPOTENCY_IN_PROGRESS')), true)
  t.equal(isRetryable(409, err('SESSION_STATE_CONFLICT')), false)
  t.equal(isRetryable(401, err('UNAUTHENTICATED')), true)
  t.equal(isRetryable(401, err('SALE_SIGNATURE_INVALID')), false)
  t.equal(isRetryable(422, err('SALE_MISMATCH')), false)
  t.equal(isRetryable(400, err('SCHEMA_INVALID')), false)
})

t.test(
  'sales are delivered in seq order, retried while the cloud is down, once each',
  async (t) => {
    const key = await generateSigningKey('st1-k1')
    const tdb = await createTestDatabase()
    const { journal, close } = await openJournal({ url: tdb.url, dataDir: tdb.dataDir })
    t.teardown(async () => {
      await close()
      await tdb.cleanup()
    })
    // A small stand-in for POST /v1/sales: down for the first N calls, then accepting.
    let down = 5
    const received: { key: string | undefined; seq: number }[] = []
    const attempts: number[] = []
    const server = createServer((req, res) => {
      let body = ''
      req.on('data', (c) => (body += c))
      req.on('end', () => {
        const sale = JSON.parse(
          Buffer.from(
            (JSON.parse(body) as { saleJws: string }).saleJws.split('.')[1] ?? '',
            'base64url',
          ).toString(),
        ) as SaleRecord
        attempts.push(sale.seq)
        if (down > 0) {
          down--
          res
            .writeHead(503)
            .end(JSON.stringify({ error: { code: 'UNAVAILABLE', number: 902, message: 'down' } }))
          return
        }
        if (sale.sessionId === 'ses-bad') {
          res
            .writeHead(422)
            .end(JSON.stringify({ error: { code: 'SALE_MISMATCH', number: 509, message: 'no' } }))
          return
        }
        received.push({ key: req.headers['idempotency-key'] as string | undefined, seq: sale.seq })
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            sessionId: sale.sessionId,
            state: 'captured',
            capturedMinor: 0,
            releasedMinor: 0,
          }),
        )
      })
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    t.teardown(() => new Promise<void>((r) => server.close(() => r())))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const pump = initialPumpState({
      pump: 1,
      prices: { diesel: 1799 },
      currency: 'EUR',
      limits: { nozzleTimeoutMs: 1000, noFlowTimeoutMs: 1000, maxSessionMs: 1000 },
    })
    const ids = ['ses-1', 'ses-2', 'ses-bad', 'ses-4']
    for (const sessionId of ids) {
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
          return { sale, saleJws: await signSaleRecord(sale, key) }
        },
      })
    }
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
  const tdb = await createTestDatabase()
  const { journal, close } = await openJournal({ url: tdb.url, dataDir: tdb.dataDir })
  t.teardown(async () => {
    await close()
    await tdb.cleanup()
  })
  const pump = initialPumpState({
    pump: 1,
    prices: { diesel: 1799 },
    currency: 'EUR',
    limits: { nozzleTimeoutMs: 1000, noFlowTimeoutMs: 1000, maxSessionMs: 1000 },
  })
  await journal.recordSale({
    sessionId: 'ses-n',
    pumpState: pump,
    nowMs: 1,
    build: async (seq) => ({
      sale: {
        sessionId: 'ses-n',
        tokenId: 'tok-nnnnn',
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
      },
      saleJws: 'x.y.z',
    }),
  })
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
