import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { silentLogger } from '@fuelpay/platform'
import { generateSigningKey, verifyClientAssertion } from '@fuelpay/proto'
import t from 'tap'
import { createCloudClient } from '../../src/cloud/cloud.client.ts'
import { STATION } from '../helpers/fakes.ts'

// A real HTTP server on port 0 standing in for the cloud's routes.
async function server(handler: (req: IncomingMessage, body: string, res: ServerResponse) => void) {
  const srv = createServer((req, res) => {
    let body = ''
    req.on('data', (d) => {
      body += d
    })
    req.on('end', () => handler(req, body, res))
  })
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, close: () => new Promise<void>((r) => srv.close(() => r())) }
}

t.test('signs each call, retries a POST with the same idempotency key, validates answers', async (t) => {
  const key = await generateSigningKey('car-key-1')
  const seen: { key?: string; auth?: string }[] = []
  const urls: string[] = []
  let attempts = 0
  const srv = await server((req, body, res) => {
    urls.push(req.url ?? '')
    seen.push({ key: req.headers['idempotency-key'] as string, auth: req.headers.authorization as string })
    if (req.url?.startsWith('/v1/stations/near')) {
      res.setHeader('content-type', 'application/json')
      return res.end(JSON.stringify([STATION]))
    }
    if (req.url === '/v1/fuel-authorizations') {
      if (++attempts < 3) {
        res.statusCode = 503
        return res.end(JSON.stringify({ error: { code: 'UNAVAILABLE', number: 902, message: 'busy' } }))
      }
      res.statusCode = 402
      t.same(JSON.parse(body), { stationId: 'st-berlin-1', pump: 2 })
      return res.end(JSON.stringify({ error: { code: 'INSUFFICIENT_FUNDS', number: 400, message: 'declined: insufficient funds' }, requestId: 'r1' }))
    }
    if (req.url === '/v1/receipts/s1') return res.end('{"not":"a receipt"}')
    res.statusCode = 500
    res.end('<html>oops</html>')
  })
  t.teardown(srv.close)
  const cloud = createCloudClient({ baseUrl: srv.url, vehicleId: 'car7', key, log: silentLogger(), retryDelayMs: 1 })
  const near = await cloud.stationsNear({ lat: 52.52, lon: 13.405 })
  t.same(near, { ok: true, value: [STATION] })
  await cloud.stationsNear({ lat: 52.52000812345678, lon: 1e-7 })
  t.same(urls.slice(0, 2), ['/v1/stations/near?lat=52.5200000&lon=13.4050000', '/v1/stations/near?lat=52.5200081&lon=0.0000001'], 'coordinates go as 7 decimals, never as an exponent')
  const auth = seen[0]?.auth?.replace(/^Bearer /, '')
  const v = await verifyClientAssertion(auth, { keysFor: () => key.publicKey as never, nowMs: Date.now() })
  t.match(v, { ok: true, value: { role: 'vehicle', id: 'car7' } }, 'bearer is a client assertion signed by the car key')

  const hold = await cloud.requestFuelAuthorization({ stationId: 'st-berlin-1', pump: 2 }, 'idem-key-0001')
  t.match(hold, { ok: false, reason: { code: 'INSUFFICIENT_FUNDS' } })
  t.equal(attempts, 3)
  t.same(seen.slice(2).map((s) => s.key), ['idem-key-0001', 'idem-key-0001', 'idem-key-0001'], 'every retry reuses the key made before sending')

  t.match(await cloud.receipt('s1'), { ok: false, reason: { code: 'SCHEMA_INVALID' } }, 'a wrong shape is refused')
  t.match(await cloud.getSession('s1'), { ok: false, reason: { code: 'BAD_JSON' } }, 'HTML is refused')
})

t.test('an unreachable or silent cloud is a bounded failure', async (t) => {
  const key = await generateSigningKey('car-key-2')
  const srv = await server(() => {
    /* never answers */
  })
  t.teardown(srv.close)
  const silent = createCloudClient({ baseUrl: srv.url, vehicleId: 'car7', key, log: silentLogger(), requestTimeoutMs: 100, maxAttempts: 2, retryDelayMs: 1 })
  t.match(await silent.stationJwks('st1'), { ok: false, reason: { code: 'TIMEOUT' } })
  const gone = createCloudClient({ baseUrl: 'http://127.0.0.1:1', vehicleId: 'car7', key, log: silentLogger(), maxAttempts: 1 })
  t.match(await gone.mqttCredentials('idem-key-0002'), { ok: false, reason: { code: 'UNAVAILABLE' } })
})
