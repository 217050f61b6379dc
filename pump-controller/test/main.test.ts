import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { createTestDatabase } from '@fuelpay/platform/test-db'
import {
  amountForVolume,
  type CompletedMessage,
  exportPrivateJwk,
  generateSigningKey,
  type ProgressMessage,
  type PumpAuthorizedMessage,
  type PumpRejectedMessage,
} from '@fuelpay/proto'
import t from 'tap'
import {
  connectVehicle,
  makeToken,
  startBroker,
  startCloudStub,
  until,
} from './helpers/station-fixture.ts'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

/** The real program as a child process; resolves the "ready" log line. */
function startController(args: string[]) {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'pump-controller/src/main.ts'), ...args],
    {
      cwd: ROOT,
      env: { ...process.env, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  const lines: string[] = []
  const stderr: string[] = []
  createInterface({ input: child.stderr! }).on('line', (l) => stderr.push(l))
  const ready = new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(
          new Error(
            `controller not ready in 60 s:\n${lines.slice(-20).join('\n')}\n${stderr.slice(-20).join('\n')}`,
          ),
        ),
      60_000,
    )
    createInterface({ input: child.stdout! }).on('line', (l) => {
      lines.push(l)
      try {
        const j = JSON.parse(l) as Record<string, unknown>
        if (j.msg === 'pump controller ready') {
          clearTimeout(timer)
          resolve(j)
        }
      } catch {}
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(
        new Error(
          `controller exited ${code}:\n${lines.slice(-20).join('\n')}\n${stderr.slice(-20).join('\n')}`,
        ),
      )
    })
  })
  ready.catch(() => {})
  const exited = once(child, 'exit')
  return {
    child,
    lines,
    ready,
    async kill(signal: NodeJS.Signals) {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill(signal)
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
    },
  }
}

const cloudKey = await generateSigningKey('cloud-k1')
const stationKey = await generateSigningKey('st9-k1')
const broker = await startBroker()
const cloud = await startCloudStub({ brokerUrl: broker.url, cloudKey })
const dir = await mkdtemp(join(tmpdir(), 'fuelpay-pc-main-'))
const keyFile = join(dir, 'station.jwk')
await writeFile(keyFile, JSON.stringify(await exportPrivateJwk(stationKey)))
const tdb = await createTestDatabase()
const car = await connectVehicle(broker.url, 'car7')
const procs: ReturnType<typeof startController>[] = []
t.teardown(async () => {
  for (const p of procs) await p.kill('SIGKILL')
  await car.close()
  await cloud.close()
  await broker.close()
  await tdb.cleanup()
  await rm(dir, { recursive: true, force: true })
})

const args = [
  '--station-id',
  'st9',
  '--cloud-url',
  cloud.url,
  '--broker-url',
  broker.url,
  '--key-file',
  keyFile,
  '--pumps',
  '1:diesel=1799,unleaded95=1859;2:diesel=1799',
  '--data-dir',
  join(dir, 'data'),
  '--sim-auto-lift-ms',
  '100',
  '--sim-flow-rate',
  '2000',
  '--tick-ms',
  '50',
  ...(tdb.url ? ['--database-url', tdb.url] : []),
]

t.test('bad command lines are refused with exit code 2', async (t) => {
  const p = startController(['--station-id', 'st9'])
  const [code] = await once(p.child, 'exit')
  t.equal(code, 2)
})

t.test(
  'killed mid-fueling (SIGKILL), restarted: the sale is completed from the totalizer and delivered once',
  async (t) => {
    const first = startController(args)
    procs.push(first)
    const ready = await first.ready
    t.match(ready.healthUrl, /^http:\/\/127\.0\.0\.1:\d+\/healthz$/)
    const health = await fetch(String(ready.healthUrl)).then(
      (r) => r.json() as Promise<{ ok: boolean; pumps: unknown[] }>,
    )
    t.equal(health.ok, true)
    t.equal(health.pumps.length, 2)
    const metrics = await fetch(String(ready.healthUrl).replace('/healthz', '/metrics')).then((r) =>
      r.text(),
    )
    t.match(metrics, /fuelpay_pc_sales_backlog/)

    const token = await makeToken(cloudKey, {
      stationId: 'st9',
      pump: 1,
      vehicleId: 'car7',
      maxAmountMinor: 5000,
    })
    const requestId = car.authorize('st9', 1, token)
    const ok = await car.waitFor<PumpAuthorizedMessage>(
      (m) => m.type === 'pump-authorized' && m.requestId === requestId,
      20_000,
    )
    await car.waitFor<ProgressMessage>(
      (m) => m.type === 'progress' && m.sessionId === ok.sessionId && m.volumeMilli >= 1000,
      20_000,
    )
    await first.kill('SIGKILL')
    t.equal(cloud.sales.length, 0, 'nothing delivered before the kill')

    const second = startController(args)
    procs.push(second)
    await second.ready
    const done = await car.waitFor<CompletedMessage>(
      (m) => m.type === 'completed' && m.sessionId === ok.sessionId,
      20_000,
    )
    t.ok(done.sale.volumeMilli >= 1000, 'the volume pumped before the kill is sold')
    t.equal(done.sale.amountMinor, amountForVolume(done.sale.volumeMilli, 1799, 'EUR'))
    t.equal(done.sale.totalizerEndMilli - done.sale.totalizerStartMilli, done.sale.volumeMilli)
    await until(
      'sale delivered',
      () => cloud.sales.some((s) => s.idempotencyKey === ok.sessionId),
      20_000,
    )

    // The same token presented again after the restart is refused.
    const replay = car.authorize('st9', 1, token)
    const r = await car.waitFor<PumpRejectedMessage>(
      (m) => m.type === 'pump-rejected' && m.requestId === replay,
      20_000,
    )
    t.equal(r.reason.code, 'TOKEN_REPLAYED')

    await second.kill('SIGTERM')
    t.equal(second.child.exitCode, 0, 'clean shutdown on SIGTERM')
    t.equal(
      cloud.sales.filter((s) => s.idempotencyKey === ok.sessionId).length,
      1,
      'delivered exactly once',
    )
  },
)
