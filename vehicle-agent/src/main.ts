import { randomBytes } from 'node:crypto'
import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { formatAmount, formatVolume, importSigningKey, type Currency } from '@fuelpay/proto'
import { createLogger } from '@fuelpay/platform'
import { createVehicleAgent, type Reply, type Speaker } from './agent.ts'
import { createCloudClient } from './cloud/cloud.client.ts'
import { fileKeyStore, settlePending } from './cloud/pending.ts'
import { parseArgs, USAGE, UsageError } from './config.ts'
import type { Outcome } from './dialogue/dialogue.machine.ts'
import nodeBle from 'node-ble'
import { type BluetoothSession, createBleBeaconScanner } from './location/ble.scanner.ts'
import { type LocationSource, staticLocation } from './location/location.ts'
import { realMqtt } from './run.ts'
import { synthesize } from './speech/espeak.speaker.ts'
import { createPocketsphinxRecognizer } from './speech/pocketsphinx.recognizer.ts'

/** How long the agent waits at start for what its last run left to be settled before it listens. */
const SETTLE_WAIT_MS = 5000

/**
 * The vehicle agent as a program: one utterance (`say "..."`), an audio file
 * (`--audio x.wav`, English, offline), or a conversation on stdin
 * (`interactive`). People read stdout; logs go to stderr.
 * Exit 0 on a paid fueling; otherwise 1 and the reason code on the last line.
 */
async function main(): Promise<number> {
  let cfg: ReturnType<typeof parseArgs>
  try {
    cfg = parseArgs(process.argv.slice(2))
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`${e.message}\n${USAGE}\n`)
      return 2
    }
    throw e
  }
  const log = createLogger({ name: 'vehicle-agent', level: cfg.logLevel, destination: 2 })
  const key = await importSigningKey(JSON.parse(await readFile(cfg.keyFile, 'utf8')))
  const cloud = createCloudClient({ baseUrl: cfg.cloudUrl, vehicleId: cfg.vehicleId, key, log })
  let spoken = 0
  if (cfg.speakDir) await mkdir(cfg.speakDir, { recursive: true })
  const speaker: Speaker = {
    async speak(r: Reply) {
      process.stdout.write(`agent: ${r.text}\n`)
      if (cfg.speakDir) await synthesize({ text: r.text, lang: r.lang, outFile: join(cfg.speakDir, `reply-${String(++spoken).padStart(3, '0')}.wav`) })
    },
    show(text) {
      process.stdout.write(`       ${text}\n`)
    },
  }
  const fixed = staticLocation(cfg.lat !== undefined && cfg.lon !== undefined ? { lat: cfg.lat, lon: cfg.lon } : undefined, cfg.beacons)
  const scanner = cfg.ble
    ? createBleBeaconScanner({ log, createBluetooth: () => (nodeBle as unknown as { createBluetooth: () => BluetoothSession }).createBluetooth() })
    : undefined
  const location: LocationSource = {
    position: fixed.position,
    beacons: async () => [...(await fixed.beacons()), ...(scanner ? await scanner.beacons() : [])],
  }
  // What the last run left unfinished (a hold nobody will use) is settled before anything new.
  const keys = await fileKeyStore(join(cfg.stateDir, `${cfg.vehicleId.replace(/[^A-Za-z0-9_-]/g, '_')}.pending.json`), log)
  // Bounded: an unreachable cloud must not hold the driver up; what is left stays for the next start.
  const settling = settlePending({ vehicleId: cfg.vehicleId, keys, cloud, log, ids: () => randomBytes(16).toString('hex'), nowMs: Date.now }).then(
    (left) => {
      if (left.cancelled.length > 0) process.stdout.write(`agent: cancelled ${left.cancelled.length} unused hold(s) from the last run\n`)
    },
    (err: unknown) => log.warn({ err }, 'settling the last run failed; will retry at the next start'),
  )
  await Promise.race([settling, new Promise((r) => setTimeout(r, SETTLE_WAIT_MS).unref())])
  const agent = createVehicleAgent({
    keys,
    log,
    config: { vehicleId: cfg.vehicleId, lang: cfg.lang },
    cloud,
    mqtt: realMqtt,
    location,
    speech: { speaker, recognizer: createPocketsphinxRecognizer({ log }) },
  })
  const lines = createInterface({ input: process.stdin, terminal: false })
  const queue: string[] = []
  const waiting: ((l: string | undefined) => void)[] = []
  let ended = false
  lines.on('line', (l) => {
    const w = waiting.shift()
    if (w) w(l)
    else queue.push(l)
  })
  lines.on('close', () => {
    ended = true
    for (const w of waiting.splice(0)) w(undefined)
  })
  const nextLine = (): Promise<string | undefined> => {
    const q = queue.shift()
    if (q !== undefined) return Promise.resolve(q)
    if (ended) return Promise.resolve(undefined)
    return new Promise((r) => waiting.push(r))
  }
  const nextAnswer = async (asked: { secret: boolean }) => {
    const l = await nextLine()
    // The voice code is a secret: not shown on the car's screen or in its console log.
    if (l !== undefined) process.stdout.write(`driver: ${asked.secret ? '(voice code)' : l}\n`)
    return l
  }
  let outcome: Outcome
  try {
    if (cfg.mode.kind === 'interactive') {
      process.stdout.write('Say something (one line per utterance).\n')
      let first: string | undefined
      do first = await nextLine()
      while (first !== undefined && first.trim() === '')
      if (first === undefined) return 1
      outcome = await agent.runUtterance(first, { nextAnswer })
    } else {
      let text: string
      if (cfg.mode.kind === 'audio') {
        const r = await createPocketsphinxRecognizer({ log }).recognize({ kind: 'file', path: cfg.mode.path }, { lang: 'en' })
        if (!r.ok) {
          process.stdout.write(`reason: ${r.reason.code} ${r.reason.message}\n`)
          return 1
        }
        text = r.value.text
      } else text = cfg.mode.text
      process.stdout.write(`driver: ${text}\n`)
      outcome = await agent.runUtterance(text, cfg.yes ? { answers: ['yes'] } : { nextAnswer })
    }
  } finally {
    lines.close()
    await agent.close()
  }
  if (outcome.paid && outcome.receipt) {
    const r = outcome.receipt
    const cur = r.currency as Currency
    process.stdout.write(
      [
        '--- receipt ---',
        `receipt   ${r.receiptId}`,
        `station   ${r.stationName} (${r.stationId}), pump ${r.pump}`,
        `fuel      ${r.grade ?? '-'} ${formatVolume(r.volumeMilli, r.volumeUnit)}`,
        `charged   ${formatAmount(r.amountMinor, cur)} to ${r.paymentMethod.brand} ****${r.paymentMethod.last4}`,
        `session   ${r.sessionId}`,
        `captured  ${r.capturedAt}`,
        '',
      ].join('\n'),
    )
    return 0
  }
  process.stdout.write(`reason: ${outcome.code ?? 'INTERNAL'}${outcome.message ? ` ${outcome.message}` : ''}\n`)
  return 1
}

main().then(
  (code) => {
    process.exitCode = code
    // MQTT sockets and stdin may linger; the work is done.
    setTimeout(() => process.exit(code), 200).unref()
  },
  (e: unknown) => {
    process.stderr.write(`vehicle-agent: ${(e as Error).stack ?? String(e)}\n`)
    process.exit(1)
  },
)
