import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { silentLogger } from '@fuelpay/platform'
import t from 'tap'
import { createCloudClient } from '../vehicle-agent/src/cloud/cloud.client.ts'
import { fileKeyStore } from '../vehicle-agent/src/cloud/pending.ts'
import { adminGet, readVehicleKey, startWorld } from './helpers/fixture.ts'
import { startProgram } from './helpers/processes.ts'

// A car's agent that stops while it holds money on the driver's card (a
// crash, the car switched off) must not leave that hold to the cloud's
// expiry sweeper: the next start cancels it. Real cloud process, real
// database, the agent's own pending file and its command line.
t.test('an agent restarted after a crash cancels the holds its last run left', async (t) => {
  const world = await startWorld()
  t.teardown(world.close)
  const stateDir = join(world.dir, 'agent-state')
  const file = join(stateDir, `${world.vehicle.id}.pending.json`)
  const cloud = createCloudClient({ baseUrl: world.httpUrl, vehicleId: world.vehicle.id, key: await readVehicleKey(world.vehicle), log: silentLogger() })
  const request = (pump: number) => ({
    stationId: world.station.id,
    pump,
    amountMinor: 3000,
    position: { lat: world.station.lat, lon: world.station.lon },
  })

  // The last run, as the agent does it, stopped at two points:
  const keys = await fileKeyStore(file)
  // after the hold was granted (its session known), before the pump was used;
  const granted = 'crash-after-hold-0001'
  await keys.keep('fuel-authorization', granted, { request: request(1), at: Date.now() })
  const a = await cloud.requestFuelAuthorization(request(1), granted)
  if (!a.ok) throw new Error(`hold refused: ${a.reason.code}`)
  await keys.keep('fuel-authorization', granted, { request: request(1), at: Date.now(), sessionId: a.value.sessionId })
  // and while asking: the cloud placed the hold, the answer never reached the agent.
  const asking = 'crash-while-asking-0002'
  await keys.keep('fuel-authorization', asking, { request: request(2), at: Date.now() })
  const b = await cloud.requestFuelAuthorization(request(2), asking)
  if (!b.ok) throw new Error(`hold refused: ${b.reason.code}`)
  for (const id of [a.value.sessionId, b.value.sessionId]) {
    t.equal((await adminGet(world.httpUrl, world.adminToken, `/v1/sessions/${id}`)).state, 'held', 'money is held on the card')
  }

  const run = () =>
    startProgram('vehicle-agent/src/main.ts', [
      '--vehicle-id', world.vehicle.id,
      '--cloud-url', world.httpUrl,
      '--key-file', world.vehicle.keyFile,
      '--state-dir', stateDir,
      'say', 'hello',
    ])
  const first = run()
  t.teardown(() => first.kill())
  await first.exited(60_000)
  t.match(first.lines.join('\n'), /cancelled 2 unused hold\(s\) from the last run/, first.stderr.join('\n'))
  for (const [id, hold] of [[a.value.sessionId, a.value.holdAmountMinor], [b.value.sessionId, b.value.holdAmountMinor]] as const) {
    const s = await adminGet(world.httpUrl, world.adminToken, `/v1/sessions/${id}`)
    t.match(s, { state: 'voided', capturedMinor: 0, releasedMinor: hold }, `session ${id} voided, its hold released`)
  }
  const sessions = await adminGet<{ items: unknown[] }>(world.httpUrl, world.adminToken, `/v1/sessions?limit=50`)
  t.equal(sessions.items.length, 2, 'asking again under the same key placed no new hold')
  t.same(JSON.parse(await readFile(file, 'utf8')).pending, [], 'nothing left pending')

  const second = run()
  t.teardown(() => second.kill())
  await second.exited(60_000)
  t.notMatch(second.lines.join('\n'), /cancelled/, 'the next start has nothing to cancel')
})
