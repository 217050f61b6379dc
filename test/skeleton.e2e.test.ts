import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { startWorld } from './helpers/fixture.ts'
import { startProgram } from './helpers/processes.ts'

// Issue 2, walking skeleton: one paid fueling through separate real
// processes (cloud with its broker, a pump controller, a vehicle agent) on a
// real database, English text command, ending in a receipt and a balanced ledger.
t.test('a driver pays for pump 2 by text command, across real processes', async (t) => {
  const world = await startWorld({ autoLiftMs: 200 })
  t.teardown(world.close)
  await world.startController()

  const agent = startProgram('vehicle-agent/src/main.ts', [
    '--vehicle-id', world.vehicle.id,
    '--cloud-url', world.httpUrl,
    '--key-file', world.vehicle.keyFile,
    '--state-dir', join(world.dir, 'agent-state'),
    '--lat', String(world.station.lat),
    '--lon', String(world.station.lon),
    '--yes',
    'say', 'pay for pump 2 with 40 euros of diesel',
  ])
  t.teardown(() => agent.kill())
  const code = await agent.exited(90_000)
  const out = agent.lines.join('\n')
  t.equal(code, 0, `agent exits 0 on a paid fueling\n${out}\n${agent.stderr.join('\n')}`)
  t.match(out, /40\.00 EUR/, 'the hold amount is read back')
  t.match(out, /visa|4242/i, 'the receipt names the card')
  const pending = JSON.parse(await readFile(join(world.dir, 'agent-state', `${world.vehicle.id}.pending.json`), 'utf8'))
  t.same(pending.pending, [], 'the hold was kept while it was used and forgotten once the session ended')

  // The cloud's own ledger check: every journal entry balanced, captures within holds.
  const res = await fetch(`${world.httpUrl}/v1/admin/ledger/verify`, { headers: { authorization: `Bearer ${world.adminToken}` } })
  t.equal(res.status, 200)
  const verify = (await res.json()) as { ok: boolean; entries: number; unbalancedEntries: number[]; mismatchedSessions: string[] }
  t.equal(verify.ok, true, 'ledger balances and matches the sessions')
  t.ok(verify.entries >= 2, 'a hold and a capture were posted')
  t.same(verify.unbalancedEntries, [])
})
