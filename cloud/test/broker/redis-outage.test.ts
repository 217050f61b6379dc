import { spawn, spawnSync } from 'node:child_process'
import { createServer } from 'node:net'
import t from 'tap'
import { createRedisBackends } from '../../src/broker/broker.ts'
import { brokerKeys, startBroker } from './helpers.ts'

const hasRedis = spawnSync('redis-server', ['--version']).status === 0

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })

/** A Redis of this test's own, on `port`; resolves once it answers. */
async function startRedis(port: number) {
  const p = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  for (let i = 0; i < 50 && spawnSync('redis-cli', ['-p', String(port), 'ping']).stdout?.toString().trim() !== 'PONG'; i++) await new Promise((r) => setTimeout(r, 100))
  const stop = () =>
    new Promise<void>((resolve) => {
      if (p.exitCode !== null || p.signalCode !== null) return resolve()
      p.once('exit', () => resolve())
      p.kill('SIGKILL')
    })
  return { stop }
}

const until = async (what: string, ok: () => boolean, ms = 15_000) => {
  const end = Date.now() + ms
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

t.test('Redis goes away and comes back: the broker stays up, says so, and is ready again', { skip: hasRedis ? false : 'no redis-server' }, async (t) => {
  const port = await freePort()
  let redis = await startRedis(port)
  t.teardown(() => redis.stop())
  const errors: string[] = []
  const backends = createRedisBackends({ url: `redis://127.0.0.1:${port}/0`, onError: (err) => errors.push(err.message) })
  const { keys } = await brokerKeys()
  await startBroker(t, { keys, persistence: backends.persistence, mq: backends.mq })
  await until('ready', () => backends.ready())
  t.ok(backends.ready(), 'ready while Redis answers')

  await redis.stop()
  await until('an error heard', () => errors.length > 0)
  t.notOk(backends.ready(), 'not ready while Redis is away')
  t.match(errors[0], /ECONNREFUSED|Connection is closed|connect/, 'told why')

  redis = await startRedis(port)
  await until('ready again', () => backends.ready(), 30_000)
  t.ok(backends.ready(), 'ready again once Redis is back, without a restart')
})
