import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { silentLogger } from '@fuelpay/platform'
import { fail, ok, type ReasonCode, sessionIdFor } from '@fuelpay/proto'
import t from 'tap'
import { fileKeyStore, HOLD_REPLAY_WINDOW_MS, settlePending } from '../../src/cloud/pending.ts'

async function dir(t: { teardown(fn: () => unknown): void }) {
  const d = await mkdtemp(join(tmpdir(), 'fp-pending-'))
  t.teardown(() => rm(d, { recursive: true, force: true }))
  return d
}

t.test('the file keeps what was kept and not done, across reopening; an unreadable one is moved aside', async (t) => {
  const file = join(await dir(t), 'sub', 'car.pending.json')
  const a = await fileKeyStore(file)
  t.same(a.pending(), [], 'no file: nothing pending')
  // Not awaited one by one: the writes are ordered, the last state wins.
  await Promise.all([a.keep('fuel-authorization', 'k1', { at: 1 }), a.keep('cancel-session', 'k2', { sessionId: 's1' }), a.done('cancel-session', 'k2')])
  await a.keep('fuel-authorization', 'k1', { at: 1, sessionId: 's9' })
  const b = await fileKeyStore(file)
  t.same(b.pending(), [{ key: 'k1', purpose: 'fuel-authorization', body: { at: 1, sessionId: 's9' } }], 'a kept key replaced, a done one gone')
  await b.done('fuel-authorization', 'k1')
  t.same((await fileKeyStore(file)).pending(), [])
  await writeFile(file, '{"version":1,"pending":[{"key":"k1","purpo')
  const c = await fileKeyStore(file)
  t.same(c.pending(), [], 'an unreadable file does not keep the car from paying')
  const aside = (await readdir(join(file, '..'))).filter((f) => f.startsWith('car.pending.json.unreadable-'))
  t.equal(aside.length, 1, 'it is moved aside, not overwritten')
  t.equal(await readFile(join(file, '..', aside[0] as string), 'utf8'), '{"version":1,"pending":[{"key":"k1","purpo')
})

t.test('settling: unknown session asked again then cancelled; transient failures stay; refusals and stale requests go', async (t) => {
  const file = join(await dir(t), 'car.pending.json')
  const keys = await fileKeyStore(file)
  const now = 10 * HOLD_REPLAY_WINDOW_MS
  const request = { stationId: 'st1', pump: 2 }
  await keys.keep('fuel-authorization', 'asked', { request, at: now - 1000 })
  await keys.keep('fuel-authorization', 'granted', { request, at: now - 1000, sessionId: 's-granted' })
  await keys.keep('fuel-authorization', 'stale', { request, at: now - HOLD_REPLAY_WINDOW_MS - 1 })
  await keys.keep('fuel-authorization', 'refused', { request, at: now - 1000 })
  await keys.keep('cancel-session', 'down', { sessionId: 's-down' })
  const calls: string[] = []
  const cancelAnswer: Record<string, ReasonCode | 'ok'> = { 's-asked': 'ok', 's-granted': 'FUEL_ALREADY_FLOWING', 's-down': 'UNAVAILABLE' }
  const cloud = {
    requestFuelAuthorization: async (_r: unknown, key: string) => {
      calls.push(`hold ${key}`)
      return key === 'refused' ? fail('INSUFFICIENT_FUNDS') : ok({ sessionId: `s-${key}` } as never)
    },
    cancelSession: async (sessionId: string, key: string) => {
      calls.push(`cancel ${sessionId} ${key}`)
      const a = cancelAnswer[sessionId] ?? 'ok'
      return a === 'ok' ? ok({} as never) : fail(a)
    },
    getSession: async () => fail('SESSION_NOT_FOUND'),
  }
  let n = 0
  const r = await settlePending({ vehicleId: 'car7', keys, cloud, log: silentLogger(), ids: () => `new${++n}`, nowMs: () => now })
  t.same(r.cancelled, ['s-asked'])
  t.same(calls, ['cancel s-down down', 'hold asked', 'cancel s-asked new1', 'cancel s-granted new2', 'hold refused'], 'the stale request is not asked again')
  t.same(
    keys.pending().map((p) => p.key),
    ['down'],
    'only the cancel the cloud could not answer is left, under its own key',
  )
  t.same(JSON.parse(await readFile(file, 'utf8')).pending.map((p: { key: string }) => p.key), ['down'], 'and that is what the file says')
})

t.test('settling: a hold asked for with a voice code (not kept) and no known session is cancelled by the session id its key made', async (t) => {
  const file = join(await dir(t), 'car.pending.json')
  const keys = await fileKeyStore(file)
  const now = 10 * HOLD_REPLAY_WINDOW_MS
  const request = { stationId: 'st1', pump: 2 }
  await keys.keep('fuel-authorization', 'coded', { request, at: now - 1000, voiceCodeOmitted: true })
  await keys.keep('fuel-authorization', 'coded-granted', { request, at: now - 1000, voiceCodeOmitted: true, sessionId: 's-coded' })
  const calls: string[] = []
  const cloud = {
    requestFuelAuthorization: async (_r: unknown, key: string) => {
      calls.push(`hold ${key}`)
      return fail('IDEMPOTENCY_KEY_REUSED')
    },
    cancelSession: async (sessionId: string) => {
      calls.push(`cancel ${sessionId}`)
      return ok({} as never)
    },
    getSession: async () => fail('SESSION_NOT_FOUND'),
  }
  const r = await settlePending({ vehicleId: 'car7', keys, cloud, log: silentLogger(), ids: () => 'new', nowMs: () => now })
  const derived = sessionIdFor('car7', 'coded')
  t.same(calls, [`cancel ${derived}`, 'cancel s-coded'], 'not sent again without its code: cancelled by the session id its key made; the granted one by its session')
  t.same(r.cancelled, [derived, 's-coded'])
  t.same(keys.pending(), [])
})

t.test('settling: a hold the cloud is still placing (requested) is cancelled once it is held, not dropped', async (t) => {
  const now = 10 * HOLD_REPLAY_WINDOW_MS
  const request = { stationId: 'st1', pump: 2 }
  const derived = sessionIdFor('car7', 'coded')
  /** The cloud holds the session from the `heldFrom`-th cancel on (`fueling` from the start when 0). */
  const run = async (heldFrom: number) => {
    const keys = await fileKeyStore(join(await dir(t), 'car.pending.json'))
    await keys.keep('fuel-authorization', 'coded', { request, at: now - 1000, voiceCodeOmitted: true })
    let cancels = 0
    const state = () => (heldFrom === 0 ? 'fueling' : cancels >= heldFrom ? 'held' : 'requested')
    const calls: string[] = []
    const cloud = {
      requestFuelAuthorization: async () => fail('IDEMPOTENCY_KEY_REUSED'),
      cancelSession: async (sessionId: string) => {
        calls.push(`cancel ${sessionId}`)
        cancels++
        return state() === 'held' ? ok({} as never) : fail('SESSION_STATE_CONFLICT', `session is ${state()}`)
      },
      getSession: async () => ok({ state: state() } as never),
    }
    const waits: number[] = []
    const r = await settlePending({ vehicleId: 'car7', keys, cloud, log: silentLogger(), ids: () => 'c1', nowMs: () => now, wait: async (ms) => void waits.push(ms), stillPlacingTries: 3 })
    return { r, calls, waits, keys }
  }
  const soon = await run(3)
  t.same(soon.calls, [`cancel ${derived}`, `cancel ${derived}`, `cancel ${derived}`], 'asked again while the cloud placed the hold')
  t.same(soon.waits, [2000, 2000])
  t.same(soon.r.cancelled, [derived], 'and cancelled once held')
  t.same(soon.keys.pending(), [])

  const never = await run(100)
  t.same(never.r.cancelled, [])
  t.same(never.keys.pending().map((p) => p.purpose).sort(), ['cancel-session', 'fuel-authorization'], 'still placing after the tries: kept for the next start, not forgotten')

  const conflict = await run(0)
  t.same(conflict.r.cancelled, [], 'a session past requested that cannot be cancelled (the pump took it) is left to its sale')
  t.same(conflict.keys.pending(), [])
})

t.test('settling: a hold placed between a refused cancel and the look at its session is cancelled, not dropped', async (t) => {
  const now = 10 * HOLD_REPLAY_WINDOW_MS
  const derived = sessionIdFor('car7', 'coded')
  const keys = await fileKeyStore(join(await dir(t), 'car.pending.json'))
  await keys.keep('fuel-authorization', 'coded', { request: { stationId: 'st1', pump: 2 }, at: now - 1000, voiceCodeOmitted: true })
  // The processor answers right after the first cancel was refused: the session reads `held`.
  let state = 'requested'
  const calls: string[] = []
  const cloud = {
    requestFuelAuthorization: async () => fail('IDEMPOTENCY_KEY_REUSED'),
    cancelSession: async () => {
      calls.push('cancel')
      if (state === 'requested') return fail('SESSION_STATE_CONFLICT', 'session is requested')
      state = 'voided'
      return ok({} as never)
    },
    getSession: async () => {
      if (state === 'requested') state = 'held'
      return ok({ state } as never)
    },
  }
  const r = await settlePending({ vehicleId: 'car7', keys, cloud, log: silentLogger(), ids: () => 'c1', nowMs: () => now, wait: async () => {}, stillPlacingTries: 3 })
  t.same(calls, ['cancel', 'cancel'])
  t.equal(state, 'voided', 'the hold was released')
  t.same(r.cancelled, [derived])
  t.same(keys.pending(), [])
})

t.test('settling: a cloud that cannot say what a refused cancel meant keeps the hold for the next start', async (t) => {
  const now = 10 * HOLD_REPLAY_WINDOW_MS
  const keys = await fileKeyStore(join(await dir(t), 'car.pending.json'))
  await keys.keep('fuel-authorization', 'coded', { request: { stationId: 'st1', pump: 2 }, at: now - 1000, voiceCodeOmitted: true })
  const cloud = {
    requestFuelAuthorization: async () => fail('IDEMPOTENCY_KEY_REUSED'),
    cancelSession: async () => fail('SESSION_STATE_CONFLICT', 'session is requested'),
    getSession: async () => fail('UNAVAILABLE'),
  }
  const r = await settlePending({ vehicleId: 'car7', keys, cloud, log: silentLogger(), ids: () => 'c1', nowMs: () => now, wait: async () => {}, stillPlacingTries: 3 })
  t.same(r.cancelled, [])
  t.same(keys.pending().map((p) => p.purpose).sort(), ['cancel-session', 'fuel-authorization'])
})
