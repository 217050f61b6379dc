import t from 'tap'
import { ADMIN, authorize, call, makeCloud, provision } from '../helpers.ts'

t.test('a voice code that says less than 4 letters or digits once spoken is refused and changes nothing', async (t) => {
  const cloud = await makeCloud(t)
  const w = await provision(cloud)
  const setCode = (voiceCode: string | null) => call(cloud.app, { method: 'POST', url: `/v1/admin/accounts/${w.accountId}/voice-code`, auth: ADMIN, payload: { voiceCode } })
  t.equal((await setCode('Blue Falcon')).status, 200)
  const before = await cloud.db.selectFrom('accounts').select('voice_code_hash').where('id', '=', w.accountId).executeTakeFirstOrThrow()

  // Spaces and punctuation are not said: '....' would be the empty code, matched by any '.'.
  for (const code of ['....', '    ', '-- --', 'a b.', 'x, y, z']) {
    const r = await setCode(code)
    t.equal(r.status, 400, `${JSON.stringify(code)}: ${r.raw}`)
    t.equal(r.body.error.code, 'SCHEMA_INVALID')
  }
  const after = await cloud.db.selectFrom('accounts').select('voice_code_hash').where('id', '=', w.accountId).executeTakeFirstOrThrow()
  t.equal(after.voice_code_hash, before.voice_code_hash, 'the old code stands')
  t.equal((await authorize(cloud, w, { voiceCode: '.', amountMinor: 1000 })).body.error?.code, 'VOICE_CODE_WRONG')
  t.equal((await setCode('a-b-c-d')).status, 200, 'four letters, however punctuated')
  t.equal((await authorize(cloud, w, { voiceCode: 'ABCD', amountMinor: 1000 })).status, 201)
  t.equal((await setCode(null)).status, 200, 'null still removes the code')
})
