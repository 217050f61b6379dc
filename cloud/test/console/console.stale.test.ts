import { silentLogger } from '@fuelpay/platform'
import Fastify from 'fastify'
import type { KyselyPlugin } from 'kysely'
import t from 'tap'
import { consolePlugin } from '../../src/console/console.plugin.ts'
import { openConsole, provisionOperator, startTestCloud, testDatabase } from './helpers.ts'

// What an operator sees when the cloud cannot read its database: the live
// feed stops, so the console must not go on showing its last numbers as
// live. It is closed (1013, try again later), the page shows STALE and
// reconnects; a reconnect gets a fresh snapshot once the database is back.
// The console runs on its own app over the cloud's database seen through a
// plugin that fails (`down`) or stalls (`slowMs`) every query.
t.test('the console while the database is down or slow', async (t) => {
  const tdb = await testDatabase(t)
  const cloud = await startTestCloud(t, tdb)
  const op = await provisionOperator(cloud.httpUrl, 'op-stale', ['st-stale'])

  let down = false
  let slowMs = 0
  const outage: KyselyPlugin = {
    transformQuery(args) {
      if (down) throw new Error('connect ECONNREFUSED 127.0.0.1:5432')
      return args.node
    },
    transformResult: async (args) => {
      if (slowMs) await new Promise((r) => setTimeout(r, slowMs))
      return args.result
    },
  }
  const db = cloud.deps.db.withPlugin(outage)
  const app = Fastify({ loggerInstance: silentLogger() })
  await app.register(consolePlugin({ deps: { ...cloud.deps, db }, handle: { db, kind: 'postgres' }, pollMs: 100, alertSweepMs: 200 }))
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const address = app.server.address()
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`

  await t.test('an open console is closed, not left "live", while the database cannot be read', async (t) => {
    const c = await openConsole(url, { apiKey: op.apiKey })
    t.teardown(() => c.close())
    await c.next('snapshot')
    down = true
    t.teardown(() => {
      down = false
    })
    const closed = await Promise.race([c.closed, new Promise<undefined>((r) => setTimeout(() => r(undefined), 5000))])
    t.equal(closed?.code, 1013, 'closed with try-again-later')
    t.equal((await c.next('error')).reason.code, 'UNAVAILABLE', 'and told why')

    down = false
    const again = await openConsole(url, { apiKey: op.apiKey })
    t.teardown(() => again.close())
    const snap = await again.next('snapshot')
    t.same(
      snap.stations.map((s) => s.id),
      ['st-stale'],
      'a fresh snapshot once the database is back',
    )
  })

  await t.test('a hello the database cannot check in time is not an unaccepted key', async (t) => {
    slowMs = 6000
    t.teardown(() => {
      slowMs = 0
    })
    const c = await openConsole(url, { apiKey: op.apiKey })
    t.teardown(() => c.close())
    // 4001 would make the page forget the key and sign the operator out.
    t.equal((await c.closed).code, 1013, 'closed with try-again-later, not 4001')
    t.equal((await c.next('error')).reason.code, 'UNAVAILABLE')
  })
})
