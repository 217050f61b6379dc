import type { AddressInfo } from 'node:net'
import { createServer } from 'node:net'
import { connectMqtt } from '@fuelpay/platform'
import { Aedes } from 'aedes'
import t from 'tap'
import { linkFromClient } from '../../src/index.ts'

// Every wait is bounded: a broker that never acknowledges a subscription
// must not hang the station's start or its reconnect, and a refused
// subscription is an error, not silence.
const broker = await Aedes.createBroker()
broker.authorizeSubscribe = (_client, sub, done) => {
  if (sub.topic.startsWith('silent/')) return // never answers
  if (sub.topic.startsWith('refused/')) return done(null, null) // SUBACK with 128
  done(null, sub)
}
const server = createServer({ noDelay: true }, broker.handle)
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`
const client = await connectMqtt(url, { clientId: 'sub-test', clean: true })
const link = linkFromClient(client)
t.teardown(async () => {
  await client.endAsync(true)
  await new Promise<void>((r) => broker.close(() => r()))
  await new Promise<void>((r) => server.close(() => r()))
})

t.test('granted: resolves', async (t) => {
  await t.resolves(link.subscribe(['fine/a']))
})

t.test('refused: rejects naming the filter', async (t) => {
  await t.rejects(link.subscribe(['refused/a']), { message: /^subscribe refused\/a failed: Subscribe error/ })
})

t.test('never answered: rejects after its bound', async (t) => {
  await t.rejects(link.subscribe(['silent/a']), { message: /^no SUBACK within 10000 ms for silent\/a$/ })
})
