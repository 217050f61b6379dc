import { connectMqtt } from '@fuelpay/platform'
import { formatAmount, type Position, type Reason } from '@fuelpay/proto'
import {
  type BeaconSighting,
  type LocationSource,
  type MqttConnector,
  type MqttLike,
  type VehicleAgent,
  createCloudClient,
  createVehicleAgent,
} from '@fuelpay/vehicle-agent'
import type { MqttClient } from 'mqtt'
import type { Logger } from 'pino'
import { hash32 } from './prng.ts'
import type { CarFactory } from './run.ts'
import type { FuelingRequest, FuelingStart, SimCar } from './sim-car.ts'

/**
 * A car driven by the REAL vehicle agent: intent parsing, dialogue, cloud
 * client, pump link. What is simulated is only what cannot run here: the
 * voice arrives as transcripts (the car's own assistant's path), the
 * position and BLE beacons are those of the pump the driver stopped at, and
 * the network can drop.
 *
 * The simulator watches, without changing, what the agent does: a wrapper
 * around its fetch sees the hold come back, a wrapper around its MQTT client
 * sees the pump's replies arrive (the same instant the agent gets them).
 * The duplicate scenario makes that wrapper deliver the authorize twice.
 *
 * Per car the agent, its cloud client and (once used, or made ahead of
 * time by `connect()`) one MQTT connection are kept; the parsers, catalogues and the signing key are shared.
 *
 * @example const factory = createAgentCarFactory(); const car = factory({ plan, target, world, timeScale, log })
 */
export function createAgentCarFactory(): CarFactory {
  return ({ plan, target, log }) =>
    createAgentCar({ plan, httpUrl: target.httpUrl, brokerUrl: target.mqttUrl, log })
}

const PHRASES = [
  {
    lang: 'en',
    say: (pump: number, amount?: number) =>
      // Decimal text from integers (proto formatAmount), never a float division.
      amount ? `pay for pump ${pump} for ${formatAmount(amount, 'EUR').split(' ')[0]} euros` : `pay for pump ${pump}`,
    yes: 'yes',
    cancel: 'cancel',
  },
  { lang: 'de', say: (pump: number) => `Säule ${pump} bezahlen`, yes: 'ja', cancel: 'abbrechen' },
  { lang: 'fr', say: (pump: number) => `payer la pompe ${pump}`, yes: 'oui', cancel: 'annuler' },
  { lang: 'ar', say: (pump: number) => `ادفع للمضخة ${pump}`, yes: 'نعم', cancel: 'إلغاء' },
] as const

/**
 * Each car speaks one language, fixed by its place in the fleet, not by its
 * id: ids carry a random run id, and the language decides whether the amount
 * is spoken, so choosing by id made two runs with one seed hold different amounts.
 *
 * @example phraseFor({ index: 3 }).lang // the same in every run
 */
export function phraseFor(plan: { index: number }): (typeof PHRASES)[number] {
  return PHRASES[hash32(`car-${plan.index}`) % PHRASES.length] as (typeof PHRASES)[number]
}

interface Waiter {
  types: readonly string[]
  sessionId?: string
  resolve(m: Record<string, unknown>): void
}

export function createAgentCar(opts: {
  plan: SimCar['plan']
  httpUrl: string
  brokerUrl?: string
  log: Logger
}): SimCar {
  const { plan } = opts
  const log = opts.log.child({ vehicle: plan.id })
  const phrase = phraseFor(plan)
  let position: Position | undefined
  let beacons: BeaconSighting[] = []
  const location: LocationSource = { position: async () => position, beacons: async () => beacons }
  let heldAt = 0
  const simFetch: typeof fetch = async (input, init) => {
    const res = await fetch(input, init)
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
    if (url.endsWith('/v1/fuel-authorizations')) heldAt = performance.now()
    return res
  }
  const cloud = createCloudClient({
    baseUrl: opts.httpUrl,
    vehicleId: plan.id,
    key: plan.key,
    log,
    fetch: simFetch,
    requestTimeoutMs: 20_000,
  })

  let raw: MqttClient | undefined
  let duplicateNext = false
  const waiters = new Set<Waiter>()
  const recent: Record<string, unknown>[] = []
  const onWire = (_topic: string, payload: Buffer) => {
    let m: Record<string, unknown>
    try {
      m = JSON.parse(payload.toString('utf8')) as Record<string, unknown>
    } catch {
      return
    }
    recent.push(m)
    if (recent.length > 8) recent.shift()
    for (const w of waiters) {
      if (
        w.types.includes(String(m.type)) &&
        (w.sessionId === undefined || w.sessionId === m.sessionId)
      ) {
        waiters.delete(w)
        w.resolve(m)
      }
    }
  }
  const waitWire = (
    types: readonly string[],
    sessionId: string | undefined,
    ms: number,
    lookBack = false,
  ): Promise<Record<string, unknown> | undefined> => {
    if (lookBack) {
      const seen = recent.find(
        (m) =>
          types.includes(String(m.type)) && (sessionId === undefined || m.sessionId === sessionId),
      )
      if (seen) return Promise.resolve(seen)
    }
    return new Promise((resolve) => {
      const w: Waiter = {
        types,
        ...(sessionId ? { sessionId } : {}),
        resolve: (m) => {
          clearTimeout(timer)
          resolve(m)
        },
      }
      const timer = setTimeout(() => {
        waiters.delete(w)
        resolve(undefined)
      }, ms)
      waiters.add(w)
    })
  }

  const mqtt: MqttConnector = {
    async connect(url, o) {
      const client = await connectMqtt(opts.brokerUrl ?? url, {
        clientId: o.clientId,
        username: o.username,
        password: o.password,
        connectTimeoutMs: o.connectTimeoutMs,
        clean: true,
      })
      raw = client
      client.on('message', onWire)
      const like: MqttLike = {
        publish(topic, payload, po, cb) {
          if (duplicateNext) {
            duplicateNext = false
            // The same bytes twice: what a QoS 1 redelivery looks like to the pump.
            client.publish(topic, payload, po, () => {})
          }
          return client.publish(topic, payload, po, cb)
        },
        subscribe: (topic, so, cb) =>
          client.subscribe(topic, so, (err, granted) => cb(err ?? null, granted)),
        on: (event, fn) => client.on(event, fn),
        end: (force, eo, cb) => client.end(force, eo ?? {}, cb),
      }
      return like
    },
  }

  const newAgent = () =>
    createVehicleAgent({
      log,
      config: { vehicleId: plan.id, lang: phrase.lang, mqttConnectTimeoutMs: 20_000 },
      cloud,
      mqtt,
      location,
    })
  let agent: VehicleAgent = newAgent()
  let sessionAt: { stationId: string; pump: number } | undefined

  /** A car whose last session did not wind down (it lost its link) is restarted, as its owner would. */
  const ready = async () => {
    const phase = agent.state().phase
    if (phase === 'idle' || phase === 'done') return
    const done = await Promise.race([
      agent.finished().then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), 5000)),
    ])
    if (done) return
    await agent.close()
    raw = undefined
    agent = newAgent()
  }

  return {
    plan,
    async connect() {
      // Online ahead of the first session, through the agent itself: it keeps
      // the link, so its first hold makes no credentials request of its own.
      await agent.connect()
    },
    async startFueling(req: FuelingRequest): Promise<FuelingStart> {
      await ready()
      const station = req.station
      position = { lat: station.lat, lon: station.lon, accuracyM: 10 }
      beacons = [
        { major: station.beaconMajor, minor: 0, txPower: -59, rssi: -70 },
        { major: station.beaconMajor, minor: req.pump, txPower: -59, rssi: -62 },
      ]
      heldAt = 0
      const first = await agent.hear(
        phrase.say(req.pump, phrase.lang === 'en' ? req.amountMinor : undefined),
      )
      if (first.phase === 'done' || !first.awaitingDriver) {
        const o = agent.state().outcome as { code?: string; reason?: Reason } | undefined
        const r =
          o?.reason ??
          (o?.code ? ({ code: o.code, number: 0, message: o.code } as Reason) : undefined)
        return {
          ok: false,
          stage: heldAt ? 'hold' : 'agent',
          reason: r,
          detail: `agent ended in ${first.phase}: ${first.replies.map((x) => x.key).join(',')}`,
        }
      }
      duplicateNext = req.duplicate === true
      const answer = waitWire(
        ['pump-authorized', 'pump-rejected'],
        undefined,
        req.timeoutMs ?? 20_000,
      )
      await agent.hear(phrase.yes)
      const m = await answer
      const authorizedAtMs = performance.now()
      if (!m)
        return {
          ok: false,
          stage: 'pump',
          reason: undefined,
          detail: `no pump answer; agent in ${agent.state().phase}`,
        }
      if (m.type !== 'pump-authorized')
        return { ok: false, stage: 'pump', reason: m.reason as Reason, detail: 'pump rejected' }
      sessionAt = { stationId: station.id, pump: req.pump }
      return {
        ok: true,
        sessionId: String(m.sessionId),
        heldAtMs: heldAt,
        authorizedAtMs,
        presetAmountMinor: Number(m.presetAmountMinor),
        grade: (m.grades as string[] | undefined)?.[0],
      }
    },
    async cancel(sessionId) {
      const ended = waitWire(['session-ended', 'completed'], sessionId, 10_000, true)
      const t = await agent.hear(phrase.cancel)
      const m = await ended
      const code = (m?.reason as Reason | undefined)?.code
      return {
        ok: m?.type === 'session-ended',
        detail: m ? (code ?? String(m.type)) : `no answer (agent ${t.phase})`,
      }
    },
    async waitSale(sessionId, timeoutMs) {
      const m = await waitWire(['completed', 'session-ended'], sessionId, timeoutMs, true)
      if (!m) throw new Error(`car ${plan.id} not told of sale ${sessionId}`)
      // Let the agent finish its own work (verify the signed sale, fetch the receipt), bounded.
      await Promise.race([agent.finished(), new Promise((r) => setTimeout(r, timeoutMs))])
      sessionAt = undefined
      const sale = m.sale as { volumeMilli?: number } | undefined
      return {
        type: String(m.type),
        ...(sale?.volumeMilli !== undefined ? { volumeMilli: sale.volumeMilli } : {}),
      }
    },
    drop() {
      const s = raw?.stream as unknown as { destroy?: () => void } | undefined
      s?.destroy?.()
    },
    async close() {
      for (const w of waiters) w.resolve({})
      waiters.clear()
      void sessionAt
      await agent.close()
      // Should the agent's close not have ended it, the connection is still
      // ours to end; left open, MQTT.js would reconnect to a stopped broker forever.
      const c = raw
      raw = undefined
      if (c && !c.disconnected)
        await Promise.race([c.endAsync(true), new Promise((r) => setTimeout(r, 2000))]).catch(
          () => {},
        )
    },
  }
}
