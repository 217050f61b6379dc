import { generateSigningKey } from '@fuelpay/proto'
import t from 'tap'
import { createCloudClient } from '../../src/cloud/cloud-client.ts'

const key = await generateSigningKey('st1-k1')
const answering = (status: number, body: string, type = 'application/json') =>
  createCloudClient({
    baseUrl: 'http://cloud.invalid',
    stationId: 'st1',
    key,
    fetch: async () => new Response(body, { status, headers: { 'content-type': type } }),
  })

t.test('jwks: a 200 that is not a key set is an error, not a document', async (t) => {
  const good = { keys: [key.publicJwk] }
  t.same(await answering(200, JSON.stringify(good)).jwks(), good)
  for (const [what, body, type] of [
    ['a captive portal page', '<html><body>login</body></html>', 'text/html'],
    ['an empty body', '', 'text/plain'],
    ['an empty object', '{}', 'application/json'],
    ['a JSON error', '{"error":{"code":"NOPE"}}', 'application/json'],
    ['keys not an array', '{"keys":{}}', 'application/json'],
  ] as const)
    await t.rejects(answering(200, body, type).jwks(), /not a key set/, what)
  await t.rejects(answering(503, '{}').jwks(), /503/, 'a 503 is an error as before')
})
