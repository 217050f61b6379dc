import { mkdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { loadConfig, startCloud } from '@fuelpay/cloud'
import { connectMqtt, createLogger, type Logger } from '@fuelpay/platform'
import { type Currency, formatAmount, formatVolume, type Grade } from '@fuelpay/proto'
import {
  connectStationLink,
  createCloudClient as createStationCloudClient,
  createPumpController,
  createSimulatedDispenser,
  openJournal,
} from '@fuelpay/pump-controller'
import {
  createCloudClient as createVehicleCloudClient,
  createVehicleAgent,
  type MqttConnector,
  type MqttLike,
  type Outcome,
  staticLocation,
} from '@fuelpay/vehicle-agent'
import { DEMO, provisionDemo } from './demo-world.ts'

/**
 * The main job, on embedded defaults (`npm start`): the cloud with its
 * embedded broker on PGlite, a demo station whose four simulated pumps run
 * the real pump controller, and a demo car running the real vehicle agent,
 * all in one process. It pays for one fueling by itself, prints the receipt
 * and the console's address, then lets you talk to the car from the
 * terminal ("pay for pump 3 with 30 euros", "Säule 2 bitte", "اريد الدفع للمضخة 1").
 *
 * `--scripted` (npm run demo) stops after the first receipt.
 * Environment: FUELPAY_DATA_DIR (default .data/demo), FUELPAY_HTTP_PORT
 * (8080), FUELPAY_MQTT_PORT (1884), DATABASE_URL (unset: PGlite), LOG_LEVEL (warn).
 */
/** The car's MQTT: 3.1.1 with TCP no-delay, as in the car. */
const carMqtt: MqttConnector = {
  connect: async (url, o) =>
    (await connectMqtt(url, {
      clientId: o.clientId,
      username: o.username,
      password: o.password,
      connectTimeoutMs: o.connectTimeoutMs,
      clean: true,
    })) as unknown as MqttLike,
}

const SCRIPTED_UTTERANCE = 'pay for pump 2 with 40 euros of diesel'

function say(line = ''): void {
  process.stdout.write(`${line}\n`)
}

function printOutcome(o: Outcome): void {
  if (o.paid && o.receipt) {
    const r = o.receipt
    const cur = r.currency as Currency
    say('')
    say('  ┌──────────────────────── receipt ────────────────────────')
    say(`  │ ${r.stationName}, pump ${r.pump}`)
    say(`  │ ${r.grade ?? 'fuel'}  ${formatVolume(r.volumeMilli, r.volumeUnit)}`)
    say(
      `  │ charged ${formatAmount(r.amountMinor, cur)} to ${r.paymentMethod.brand} ending ${r.paymentMethod.last4}`,
    )
    say(`  │ receipt ${r.receiptId}, session ${r.sessionId}`)
    say('  └─────────────────────────────────────────────────────────')
    say('')
  } else {
    say(`  (not paid: ${o.code ?? 'no payment'}${o.message ? `, ${o.message}` : ''})`)
  }
}

async function main(): Promise<number> {
  const scripted = process.argv.includes('--scripted')
  const env = { ...process.env }
  env.FUELPAY_DATA_DIR ??= '.data/demo'
  env.FUELPAY_MQTT_PORT ??= '1884'
  env.FUELPAY_HTTP_PORT ??= '8080'
  const level = env.LOG_LEVEL ?? 'warn'
  env.LOG_LEVEL = level
  const dataDir = resolve(env.FUELPAY_DATA_DIR)
  mkdirSync(dataDir, { recursive: true })
  // People read stdout here; JSON logs go to stderr.
  const log: Logger = createLogger({ name: 'demo', level, destination: 2 })

  say('fuelpay demo: starting the cloud (HTTP + MQTT broker) on embedded PostgreSQL (PGlite)...')
  const cloud = await startCloud(loadConfig(env), { log: log.child({ part: 'cloud' }) })
  const closers: (() => Promise<unknown>)[] = [() => cloud.close()]
  const closeAll = async () => {
    for (const c of closers.reverse()) await c().catch(() => {})
  }
  try {
    const world = await provisionDemo({
      dataDir,
      httpUrl: cloud.httpUrl,
      adminToken: cloud.adminToken,
    })

    say(`starting ${DEMO.stationName} with ${DEMO.pumps.length} simulated pumps...`)
    const stationLog = log.child({ part: 'pump-controller' })
    const stationCloud = createStationCloudClient({
      baseUrl: cloud.httpUrl,
      stationId: DEMO.stationId,
      key: world.stationKey,
    })
    const { journal, close: closeJournal } = await openJournal({
      dataDir: env.DATABASE_URL ? undefined : join(dataDir, 'station-journal'),
      url: env.DATABASE_URL,
    })
    closers.push(closeJournal)
    const link = await connectStationLink({
      cloud: stationCloud,
      stationId: DEMO.stationId,
      pumps: DEMO.pumps.length,
      log: stationLog,
    })
    closers.push(() => link.end())
    const drivers = DEMO.pumps.map((p) =>
      createSimulatedDispenser({
        pump: p.pump,
        grades: p.grades.map((g) => g.grade as Grade),
        // A brisk pump so the demo takes seconds, not minutes: 4 L/s.
        flowRateMilliPerS: 4_000,
        autoLiftAfterMs: 1_500,
        stateFile: join(dataDir, `pump-${p.pump}.sim.json`),
      }),
    )
    for (const d of drivers) closers.push(() => d.close())
    const controller = createPumpController({
      log: stationLog,
      config: {
        stationId: DEMO.stationId,
        currency: DEMO.currency,
        volumeUnit: 'L',
        pumps: DEMO.pumps.map((p) => ({
          pump: p.pump,
          prices: Object.fromEntries(p.grades.map((g) => [g.grade, g.unitPriceMilli])),
        })),
        limits: { nozzleTimeoutMs: 60_000, noFlowTimeoutMs: 60_000, maxSessionMs: 10 * 60_000 },
        tickMs: 100,
        heartbeatMs: 30_000,
        progressIntervalMs: 500,
      },
      link,
      drivers,
      journal,
      cloud: stationCloud,
      stationKey: world.stationKey,
    })
    await controller.start()
    closers.push(() => controller.stop())

    const agent = createVehicleAgent({
      log: log.child({ part: 'vehicle-agent' }),
      config: { vehicleId: DEMO.vehicleId },
      cloud: createVehicleCloudClient({
        baseUrl: cloud.httpUrl,
        vehicleId: DEMO.vehicleId,
        key: world.vehicleKey,
        log,
      }),
      mqtt: carMqtt,
      location: staticLocation(DEMO.position, []),
      speech: {
        speaker: {
          speak: (r) => say(`  car    › ${r.text}`),
          show: (text) => say(`           ${text}`),
        },
      },
    })
    closers.push(() => agent.close())

    say('')
    say(`operator console:  ${cloud.httpUrl}/console`)
    say(`  operator key:    ${world.operatorApiKey}`)
    say(`API docs:          ${cloud.httpUrl}/docs`)
    say(`MQTT broker:       ${cloud.mqttUrl}`)
    say('')
    say(`The demo car (${DEMO.vehicleId}) stands at ${DEMO.stationName}. The driver says:`)
    say(`  driver › ${SCRIPTED_UTTERANCE}`)
    let answered = false
    const first = await agent.runUtterance(SCRIPTED_UTTERANCE, {
      nextAnswer: async () => {
        if (answered) return undefined
        answered = true
        say('  driver › yes')
        return 'yes'
      },
    })
    printOutcome(first)
    if (scripted) return first.paid ? 0 : 1

    if (!process.stdin.isTTY && process.stdin.readableEnded) return first.paid ? 0 : 1
    say('Talk to the car: type what the driver says (English, Deutsch, Français, العربية).')
    say(
      'Examples: "pay for pump 3 with 30 euros", "Säule 1 tanken, Super", "pompe 4 gazole", "status". Ctrl-C quits.',
    )
    const rl = createInterface({
      input: process.stdin,
      output: process.stdout,
      prompt: '  driver › ',
    })
    const pending: string[] = []
    const waiters: ((l: string | undefined) => void)[] = []
    let closed = false
    rl.on('line', (l) => {
      const w = waiters.shift()
      if (w) w(l)
      else pending.push(l)
    })
    rl.on('close', () => {
      closed = true
      for (const w of waiters.splice(0)) w(undefined)
    })
    const nextLine = (): Promise<string | undefined> => {
      const p = pending.shift()
      if (p !== undefined) return Promise.resolve(p)
      if (closed) return Promise.resolve(undefined)
      return new Promise((r) => waiters.push(r))
    }
    const stop = new Promise<void>((r) => process.once('SIGINT', () => r()))
    for (;;) {
      rl.prompt()
      const line = await Promise.race([nextLine(), stop.then(() => undefined)])
      if (line === undefined) break
      if (line.trim() === '') continue
      const o = await agent.runUtterance(line, {
        nextAnswer: async () => {
          rl.prompt()
          return nextLine()
        },
      })
      printOutcome(o)
    }
    rl.close()
    return 0
  } finally {
    say('stopping...')
    await closeAll()
  }
}

main().then(
  (code) => {
    process.exitCode = code
    setTimeout(() => process.exit(code), 300).unref()
  },
  (err: unknown) => {
    const e = err as NodeJS.ErrnoException
    if (e.code === 'EADDRINUSE')
      process.stderr.write(
        `fuelpay demo: a port is taken (${e.message}); set FUELPAY_HTTP_PORT / FUELPAY_MQTT_PORT\n`,
      )
    else process.stderr.write(`fuelpay demo failed: ${e.stack ?? String(e)}\n`)
    process.exit(1)
  },
)
