import t from 'tap'
import { idempotencyClaim } from '../../src/idempotency/answer-sealing.ts'
import { ADMIN, call, idem, makeCloud, provision, vehicleAuth } from '../helpers.ts'

t.test('stored answers are sealed: the table holds neither the key nor the secrets an answer carries; a replay opens it', async (t) => {
  const cloud = await makeCloud(t)
  const w = await provision(cloud)
  const rows = () => cloud.db.selectFrom('idempotency_keys').select(['key', 'response']).execute()

  // A car's broker password (valid for a day).
  const key = idem()
  const first = await call(cloud.app, { method: 'POST', url: '/v1/mqtt-credentials', auth: await vehicleAuth(w), key })
  t.equal(first.status, 200, first.raw)
  const password = first.body.password as string
  // A new operator's API key.
  const opKey = idem()
  const op = await call(cloud.app, { method: 'POST', url: '/v1/admin/operators', auth: ADMIN, key: opKey, payload: { id: 'op-sealed', name: 'Sealed Fuels' } })
  t.equal(op.status, 201, op.raw)
  const apiKey = op.body.apiKey as string
  const table = JSON.stringify(await rows())
  t.notOk(table.includes(password), 'no broker password in the table')
  t.notOk(table.includes(apiKey), 'no API key in the table')
  t.notOk(table.includes(key) || table.includes(opKey), 'no idempotency key in the table')

  const again = await call(cloud.app, { method: 'POST', url: '/v1/mqtt-credentials', auth: await vehicleAuth(w), key })
  t.equal(again.headers['idempotent-replayed'], 'true')
  t.equal(again.raw, first.raw, 'the replay is the answer, byte for byte')
  const opAgain = await call(cloud.app, { method: 'POST', url: '/v1/admin/operators', auth: ADMIN, key: opKey, payload: { id: 'op-sealed', name: 'Sealed Fuels' } })
  t.equal(opAgain.raw, op.raw)
})

t.test('a claim opens only what it sealed; an answer stored before sealing is read as it is', async (t) => {
  const a = idempotencyClaim('vehicle:car7', 'key-0123456789abcdef')
  const sealed = a.seal('{"ok":true}')
  t.equal(a.open(sealed), '{"ok":true}')
  t.not(a.seal('{"ok":true}'), sealed, 'a fresh nonce each time')
  t.throws(() => idempotencyClaim('vehicle:car8', 'key-0123456789abcdef').open(sealed), 'another scope does not open it')
  t.throws(() => idempotencyClaim('vehicle:car7', 'key-0123456789abcdeX').open(sealed), 'nor another key')
  t.equal(a.open('{"legacy":1}'), '{"legacy":1}')
  t.not(a.key, idempotencyClaim('vehicle:car8', 'key-0123456789abcdef').key, 'the stored key depends on the scope')
})
