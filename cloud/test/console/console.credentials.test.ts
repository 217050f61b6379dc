import { silentLogger } from '@fuelpay/platform'
import Fastify from 'fastify'
import t from 'tap'
import { consolePlugin } from '../../src/console/console.plugin.ts'
import { adminPost, fakeStation, openConsole, provisionOperator, startTestCloud, testDatabase } from './helpers.ts'

// Re-provisioning an operator replaces its API key (POST /v1/admin/operators
// with its id): a console opened with the old key must not keep its feed and
// commands until it happens to reconnect.
t.test('a console whose API key was replaced loses its commands and its feed', async (t) => {
  const tdb = await testDatabase(t)
  const cloud = await startTestCloud(t, tdb)
  const op = await provisionOperator(cloud.httpUrl, 'op-rot', ['st-rot'])
  const station = await fakeStation(cloud, 'st-rot')
  t.teardown(() => station.close())
  const replaceKey = async () => (await adminPost<{ apiKey: string }>(cloud.httpUrl, '/v1/admin/operators', { id: 'op-rot', name: 'op-rot Fuels' })).apiKey
  const auditCount = async () =>
    Number((await cloud.deps.db.selectFrom('console_audit' as never).select((eb) => eb.fn.countAll().as('n')).executeTakeFirst() as { n: number } | undefined)?.n ?? 0)

  // The console on its own app, checking its key every 200 ms.
  const app = Fastify({ loggerInstance: silentLogger() })
  await app.register(consolePlugin({ deps: cloud.deps, pollMs: 200, keyRecheckMs: 200 }))
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const address = app.server.address()
  const fastUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`

  await t.test('a command sent with a replaced key is refused, not sent, and the socket closed with 4001', async (t) => {
    const old = await openConsole(cloud.httpUrl, { apiKey: op.apiKey })
    t.teardown(() => old.close())
    await old.next('snapshot')
    const fresh = await replaceKey()
    t.not(fresh, op.apiKey)
    const audits = await auditCount()
    old.send({ type: 'emergency-stop', id: 'after-rotation', stationId: 'st-rot', pump: 1 })
    t.equal((await old.next('error')).reason.code, 'UNAUTHENTICATED')
    t.equal((await old.closed).code, 4001)
    t.notOk(old.frames.some((f) => f.type === 'result'), 'no result: the command did not run')
    t.equal(station.commands.length, 0, 'nothing reached the station')
    t.equal(await auditCount(), audits, 'nothing audited as run')
    const again = await openConsole(cloud.httpUrl, { apiKey: fresh })
    t.teardown(() => again.close())
    t.equal((await again.next('welcome')).operatorId, 'op-rot', 'the new key works')
  })

  await t.test('a session detail asked with a replaced key is refused', async (t) => {
    const old = await openConsole(cloud.httpUrl, { apiKey: await replaceKey() })
    t.teardown(() => old.close())
    await old.next('snapshot')
    await replaceKey()
    old.send({ type: 'session-detail', id: 'd1', sessionId: 'any-session' })
    t.equal((await old.next('error')).reason.code, 'UNAUTHENTICATED')
    t.equal((await old.closed).code, 4001)
  })

  await t.test('an idle console is cut from the live feed once its key is replaced', async (t) => {
    const old = await openConsole(fastUrl, { apiKey: await replaceKey() })
    t.teardown(() => old.close())
    await old.next('snapshot')
    await replaceKey()
    t.equal((await old.closed).code, 4001, 'closed without sending anything')
    const pumpFrames = old.frames.filter((f) => f.type === 'pump').length
    await station.pumpState({ pump: 1, state: 'fueling', volumeMilli: 1000, amountMinor: 180, currency: 'EUR' })
    await new Promise((r) => setTimeout(r, 500))
    t.equal(old.frames.filter((f) => f.type === 'pump').length, pumpFrames, 'no pump frames after the key was replaced')
  })
})
