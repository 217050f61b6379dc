import t from 'tap'
import { VOICE_CODE_LOCK_MS, VOICE_CODE_TRIES } from '../../src/sessions/authorization.service.ts'
import { ADMIN, authorize, call, makeCloud, provision } from '../helpers.ts'

/** A voice code cannot be guessed: wrong codes lock the account, concurrent guesses included. */

t.test('wrong voice codes lock the account; a right code after the lock resets the count', async (t) => {
  const cloud = await makeCloud(t)
  const w = await provision(cloud)
  const set = await call(cloud.app, { method: 'POST', url: `/v1/admin/accounts/${w.accountId}/voice-code`, auth: ADMIN, payload: { voiceCode: '0042' } })
  t.equal(set.status, 200, set.raw)
  const codeOf = async (voiceCode: string) => (await authorize(cloud, w, { voiceCode, amountMinor: 1000 })).body.error?.code ?? 'OK'

  for (let i = 1; i <= VOICE_CODE_TRIES; i++) t.equal(await codeOf(String(i).padStart(4, '0')), 'VOICE_CODE_WRONG', `wrong code ${i}`)
  t.equal(await codeOf('0042'), 'RATE_LIMITED', 'locked: even the right code is not checked')
  t.equal(await codeOf('0043'), 'RATE_LIMITED')

  cloud.clock.now += VOICE_CODE_LOCK_MS + 1000
  t.equal(await codeOf('0044'), 'VOICE_CODE_WRONG', 'after the lock, one more try ...')
  t.equal(await codeOf('0042'), 'RATE_LIMITED', '... which locks it again')

  cloud.clock.now += VOICE_CODE_LOCK_MS + 1000
  t.equal(await codeOf('0042'), 'OK', 'the right code after the lock')
  t.equal(await codeOf('9999'), 'VOICE_CODE_WRONG', 'and the count starts again')
  t.equal(await codeOf('0042'), 'OK')
  const account = await cloud.db.selectFrom('accounts').selectAll().where('id', '=', w.accountId).executeTakeFirstOrThrow()
  t.equal(account.voice_code_failures, 0)
})

t.test('concurrent guesses each take a try: no more than the limit are checked', async (t) => {
  const cloud = await makeCloud(t)
  const w = await provision(cloud)
  await call(cloud.app, { method: 'POST', url: `/v1/admin/accounts/${w.accountId}/voice-code`, auth: ADMIN, payload: { voiceCode: '0042' } })
  const guesses = Array.from({ length: 20 }, (_, i) => String(1000 + i))
  const codes = await Promise.all(guesses.map(async (voiceCode) => (await authorize(cloud, w, { voiceCode, amountMinor: 1000 })).body.error?.code))
  t.equal(codes.filter((c) => c === 'VOICE_CODE_WRONG').length, VOICE_CODE_TRIES, 'exactly the limit was checked')
  t.equal(codes.filter((c) => c === 'RATE_LIMITED').length, 20 - VOICE_CODE_TRIES)
  t.equal((await cloud.db.selectFrom('sessions').select('id').execute()).length, 0, 'no session was made')
})

t.test('setting a new voice code lifts the lock', async (t) => {
  const cloud = await makeCloud(t)
  const w = await provision(cloud)
  const setCode = (voiceCode: string) => call(cloud.app, { method: 'POST', url: `/v1/admin/accounts/${w.accountId}/voice-code`, auth: ADMIN, payload: { voiceCode } })
  await setCode('0042')
  const codeOf = async (voiceCode: string) => (await authorize(cloud, w, { voiceCode, amountMinor: 1000 })).body.error?.code ?? 'OK'
  for (let i = 1; i <= VOICE_CODE_TRIES; i++) await codeOf(String(i).padStart(4, '0'))
  t.equal(await codeOf('0042'), 'RATE_LIMITED')
  t.equal((await setCode('7777')).status, 200)
  t.equal(await codeOf('7777'), 'OK', 'the driver who reset the code pays at once')
})
