import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { startProgram } from './helpers/processes.ts'

// Issue 6 / issue 2: the README's main job on embedded defaults (PGlite, the
// embedded broker) pays for one fueling and prints its receipt. Ports are 0
// so the test never collides with a running demo.
t.test('npm run demo: a scripted payment from utterance to receipt on embedded defaults', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fuelpay-demo-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const env: Record<string, string> = { FUELPAY_DATA_DIR: dir, FUELPAY_HTTP_PORT: '0', FUELPAY_MQTT_PORT: '0' }
  const demo = startProgram('simulators/src/demo/main.ts', ['--scripted'], { env: { ...env, DATABASE_URL: '' } })
  t.teardown(() => demo.kill())
  const code = await demo.exited(180_000)
  const out = demo.lines.join('\n')
  t.equal(code, 0, `exits 0 after the receipt\n${out}\n${demo.stderr.slice(-20).join('\n')}`)
  t.match(out, /operator console: +http:\/\/127\.0\.0\.1:\d+\/console/, 'prints the console URL')
  t.match(out, /operator key: +fpo_/, 'prints an operator key for the console')
  t.match(out, /charged 40\.00 EUR to visa ending 4242/, 'prints the receipt')
})
