import { silentLogger } from '@fuelpay/platform'
import Fastify from 'fastify'
import t from 'tap'
import { consolePlugin } from '../../src/console/console.plugin.ts'
import type { ConsoleHub } from '../../src/console/console.hub.ts'
import { openConsole, provisionOperator, startTestCloud, testDatabase } from './helpers.ts'

// Issue 6: slow clients do not slow the service. A console that never reads
// fills its socket, stalls, and is disconnected with 4008; a console that
// reads keeps receiving throughout. The console runs here as its own
// fastify app on the cloud's deps, with small limits so the test is short.
t.test('a client that never reads is disconnected; others keep being served', async (t) => {
  const tdb = await testDatabase(t)
  const cloud = await startTestCloud(t, tdb)
  const op = await provisionOperator(cloud.httpUrl, 'op-slow', ['st-slow'], 99)

  let hub: ConsoleHub | undefined
  const app = Fastify({ loggerInstance: silentLogger() })
  await app.register(
    consolePlugin({
      deps: cloud.deps,
      limits: { highWaterBytes: 64 * 1024, stallMs: 1500, maxQueued: 100_000, retryMs: 20 },
      pollMs: 200,
      onHub: (h) => {
        hub = h
      },
    }),
  )
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const address = app.server.address()
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`

  const good = await openConsole(url, { apiKey: op.apiKey })
  t.teardown(() => good.close())
  const slow = await openConsole(url, { apiKey: op.apiKey })
  t.teardown(() => slow.ws.terminate())
  await good.next('snapshot')
  await slow.next('snapshot')
  // From here on the slow client's process never reads its socket.
  const raw = (slow.ws as unknown as { _socket: import('node:net').Socket })._socket
  raw.pause()
  t.equal(hub?.stats().clients, 2)

  const pad = 'x'.repeat(450)
  const flood = async (from: number, n: number) => {
    const rows = Array.from({ length: n }, (_, i) => {
      const pump = ((from + i) % 99) + 1
      return {
        kind: 'pump.state',
        aggregate_id: `st-slow/${pump}`,
        operator_id: 'op-slow',
        station_id: 'st-slow',
        payload: JSON.stringify({
          v: 1,
          type: 'pump-state',
          msgId: `flood${from + i}xx`,
          ts: Date.now(),
          stationId: 'st-slow',
          pump,
          state: 'fueling',
          grade: 'diesel',
          unitPriceMilli: 1799,
          volumeMilli: from + i,
          amountMinor: from + i,
          currency: 'EUR',
          reason: { code: 'INTERNAL', number: 900, message: pad },
        }),
      }
    })
    await cloud.deps.db.insertInto('outbox').values(rows).execute()
  }

  // Bounded by time, not rounds: how fast events reach the hub depends on the
  // database (PGlite reads slower), and loopback socket buffers hold megabytes
  // before the server sees its own buffer grow.
  let sent = 0
  const giveUpAt = Date.now() + 120_000
  while (Date.now() < giveUpAt && (hub?.stats().clients ?? 0) > 1) {
    await flood(sent, 2000)
    sent += 2000
    await new Promise((r) => setTimeout(r, 400))
  }
  t.equal(hub?.stats().clients, 1, `the slow client was dropped after ${sent} events`)
  const stats = (await app.inject({ url: '/v1/console/stats' })).json() as { dropped?: { stalled: number } }
  t.equal(stats.dropped?.stalled, 1, 'counted as stalled')

  // The reader keeps being served: a marker written now reaches it.
  await cloud.deps.db
    .insertInto('outbox')
    .values({
      kind: 'pump.state',
      aggregate_id: 'st-slow/1',
      operator_id: 'op-slow',
      station_id: 'st-slow',
      payload: JSON.stringify({ v: 1, type: 'pump-state', msgId: 'marker-0001', ts: Date.now(), stationId: 'st-slow', pump: 1, state: 'idle', volumeMilli: 0, amountMinor: 0, currency: 'EUR' }),
    })
    .execute()
  const marker = await good.next('pump', (p) => p.pump.pump === 1 && p.pump.state === 'idle', 30_000)
  t.equal(marker.pump.amountText, '0.00 EUR', 'the good client still receives live frames')
  const lastFueling = good.frames.filter((f) => f.type === 'pump' && f.pump.state === 'fueling').at(-1)
  t.ok(lastFueling, 'the good client received the flood (coalesced)')

  // The slow client, reading again, finds its connection closed by the server.
  raw.resume()
  const closed = await Promise.race([slow.closed, new Promise<{ code: number }>((r) => setTimeout(() => r({ code: -1 }), 10_000))])
  t.ok(closed.code === 4008 || closed.code === 1006, `slow client closed (code ${closed.code})`)
})
