import { connectMqtt } from '@fuelpay/platform'
import { decode, encode, signClientAssertion, topics } from '@fuelpay/proto'
import type { MqttClient } from 'mqtt'
import { createRng } from '../prng.ts'
import { createAdminClient, mapLimit, provisionWorld } from '../provision.ts'
import {
  benchCloud,
  benchEnv,
  envNumber,
  fmt,
  forceGc,
  header,
  rssOf,
  saveResult,
} from './bench-common.ts'
import { createServer } from 'node:net'
import { Aedes } from 'aedes'
import { endClient, mqttPublishFloor, withTimeout } from './floors.ts'

/**
 * The cloud's broker (aedes with fuelpay's credential check and topic ACL),
 * in the cloud's own process:
 * - connected vehicles: BENCH_VEHICLES cars connect with their own
 *   credentials; the broker process's resident memory before and after
 *   gives the memory per connection on the broker side, this process's the
 *   client side;
 * - protocol messages per second: the connected cars publish authorize
 *   messages (proto-encoded, QoS 1) to a station, which decodes and
 *   validates each one, through the broker's ACL;
 * - the floor: a bare MQTT publish loop (fixed bytes, one publisher, same
 *   window, no encode or decode) on the same broker.
 *
 *   BENCH_VEHICLES=10000 BENCH_MESSAGES=50000 npx tsx simulators/src/bench/broker.bench.ts
 */
const env = benchEnv()
const vehicles = envNumber('BENCH_VEHICLES', 1000)
// Each car may publish 10/s with a burst of 20 (the broker's limits): stay inside the burst.
const messages = Math.min(envNumber('BENCH_MESSAGES', 10_000), vehicles * 15)
const window = envNumber('BENCH_WINDOW', 64)
const machine = header(
  `broker: ${vehicles} connected vehicles, protocol messages/s, bare publish floor`,
)
const { cloud, close } = await benchCloud(env)
const opened: MqttClient[] = []
let station: MqttClient | undefined
try {
  const admin = createAdminClient({ httpUrl: cloud.httpUrl, adminToken: cloud.adminToken })
  const tP = performance.now()
  const world = await provisionWorld({
    admin,
    rng: createRng(2),
    stations: 1,
    pumpsPerStation: 4,
    vehicles,
    brokeShare: 0,
    concurrency: 24,
  })
  process.stdout.write(
    `provisioned ${vehicles} vehicles in ${fmt((performance.now() - tP) / 1000)} s\n`,
  )
  const st = world.stations[0] as (typeof world.stations)[number]

  // The station: connects with its own credential, subscribes to its requests.
  const credRes = await fetch(`${cloud.httpUrl}/v1/mqtt-credentials`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${await signClientAssertion({ role: 'station', id: st.id }, st.key)}`,
      'idempotency-key': `bench-st-${Date.now()}`,
    },
    body: '{}',
    signal: AbortSignal.timeout(60_000),
  })
  const cred = (await credRes.json()) as { clientId: string; username: string; password: string }
  station = await connectMqtt(cloud.mqttUrl, {
    clientId: cred.clientId,
    username: cred.username,
    password: cred.password,
    reconnectPeriod: 0,
  })
  await station.subscribeAsync(topics.stationSubscriptions(st.id)[0] as string, { qos: 1 })

  // Connected vehicles and their memory. Credentials first (HTTP work in the
  // cloud process), then the MQTT connections alone, so the broker's memory
  // before and after differs by the connections only.
  const creds = await mapLimit(world.vehicles, 16, async (plan) => {
    const r = await fetch(`${cloud.httpUrl}/v1/mqtt-credentials`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${await signClientAssertion({ role: 'vehicle', id: plan.id }, plan.key)}`,
        'idempotency-key': `bench-cr-${plan.id}`,
      },
      body: '{}',
      signal: AbortSignal.timeout(60_000),
    })
    return {
      plan,
      cred: (await r.json()) as { clientId: string; username: string; password: string },
    }
  })
  await new Promise((r) => setTimeout(r, 3000))
  await forceGc()
  const brokerBefore = cloud.pid ? rssOf(cloud.pid) : Number.NaN
  const selfBefore = process.memoryUsage()
  const tC = performance.now()
  let failed = 0
  const clients = await mapLimit(creds, 64, ({ plan, cred }) =>
    connectMqtt(cloud.mqttUrl, {
      clientId: cred.clientId,
      username: cred.username,
      password: cred.password,
      clean: true,
      reconnectPeriod: 0,
      connectTimeoutMs: 60_000,
    }).then(
      (c) => ({ id: plan.id, c }),
      () => {
        failed++
        return undefined
      },
    ),
  )
  const connectS = (performance.now() - tC) / 1000
  await new Promise((r) => setTimeout(r, 3000))
  await forceGc()
  const brokerAfter = cloud.pid ? rssOf(cloud.pid) : Number.NaN
  const selfAfter = process.memoryUsage()
  const live = clients.filter((x): x is { id: string; c: MqttClient } => x?.c.connected === true)
  const connected = live.length
  for (const x of live) opened.push(x.c)
  const brokerPerConn = (brokerAfter - brokerBefore) / Math.max(1, connected)
  const clientPerConn = (selfAfter.rss - selfBefore.rss) / Math.max(1, connected)
  const clientHeapPerConn = (selfAfter.heapUsed - selfBefore.heapUsed) / Math.max(1, connected)

  // Protocol messages through the broker: cars publish, the station decodes.
  let received = 0
  let invalid = 0
  let done: (() => void) | undefined
  station.on('message', (topic, payload) => {
    const d = decode(topic, payload)
    if (d.ok) received++
    else invalid++
    if (received + invalid >= messages) done?.()
  })
  const token = `${'a'.repeat(40)}.${'b'.repeat(80)}.${'c'.repeat(86)}`
  const tM = performance.now()
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      done = resolve
      let sent = 0
      let acked = 0
      const pump = () => {
        while (sent < messages && sent - acked < window) {
          const car = live[sent % live.length] as { id: string; c: MqttClient }
          const i = sent++
          const topic = topics.pumpRequest(st.id, (i % 4) + 1, car.id)
          const bytes = encode(topic, {
            type: 'authorize',
            requestId: `rq${i}x${car.id.slice(-6)}`.replace(/[^A-Za-z0-9_-]/g, 'x'),
            token,
          })
          car.c
            .publishAsync(topic, bytes, { qos: 1 })
            .then(() => {
              acked++
              pump()
            })
            .catch(reject)
        }
      }
      pump()
    }),
    120_000,
    'protocol messages',
  )
  const protoPerS = messages / ((performance.now() - tM) / 1000)

  // The floor: the broker's own rate limits (a vehicle may publish 10/s,
  // burst 20) make a bare single-publisher loop impossible on the product's
  // broker, so it runs on a bare aedes (same version, TCP no-delay, no
  // authentication, ACL or limits) on this machine, in this run.
  const bare = await startBareAedes()
  const floorTopic = topics.pumpRequest(st.id, 1, 'floor-car')
  const floor = await mqttPublishFloor({
    url: bare.url,
    pub: { clientId: 'floor-pub' },
    sub: { clientId: 'floor-sub' },
    topic: floorTopic,
    filter: topics.stationSubscriptions(st.id)[0] as string,
    payload: encode(floorTopic, { type: 'authorize', requestId: 'floor0001', token }),
    messages,
    window,
  })
  await bare.close()

  process.stdout.write(
    [
      `connected vehicles: ${connected} of ${vehicles} (${failed} failed) in ${fmt(connectS)} s (MQTT connect with credential check only; credentials fetched before)`,
      `broker process RSS: ${fmt(brokerBefore / 1048576)} MB -> ${fmt(brokerAfter / 1048576)} MB: ${fmt(brokerPerConn / 1024)} KB per connection`,
      `client side (this process): ${fmt(clientPerConn / 1024)} KB RSS, ${fmt(clientHeapPerConn / 1024)} KB heap per connected car`,
      `protocol messages (authorize, encode + ACL + decode/validate, QoS 1, window ${window}, from ${live.length} cars): ${fmt(protoPerS)}/s, ${invalid} invalid`,
      `floor (bare publish loop, one publisher, bare aedes without auth/ACL/limits, QoS 1, window ${window}): ${fmt(floor.msgsPerS)}/s; one message at a time p50 ${fmt(floor.oneWay.p50, 2)} ms p99 ${fmt(floor.oneWay.p99, 2)} ms`,
      `ratio floor/protocol: ${fmt(floor.msgsPerS / protoPerS, 2)}x`,
      '',
    ].join('\n'),
  )
  await saveResult('broker', {
    machine,
    vehicles,
    connected,
    failed,
    connectS,
    brokerRssBefore: brokerBefore,
    brokerRssAfter: brokerAfter,
    brokerBytesPerConnection: brokerPerConn,
    clientBytesPerConnection: clientPerConn,
    clientHeapBytesPerConnection: clientHeapPerConn,
    protocolMsgsPerS: protoPerS,
    invalid,
    floor,
    ratio: floor.msgsPerS / protoPerS,
  })
  if (connected < vehicles || invalid > 0) process.exitCode = 1
} finally {
  if (station) await endClient(station)
  await mapLimit(opened, 64, (c) => endClient(c))
  await close()
}

async function startBareAedes(): Promise<{ url: string; close(): Promise<void> }> {
  const broker = await Aedes.createBroker()
  const server = createServer({ noDelay: true }, broker.handle)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  return {
    url: `mqtt://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => broker.close(() => resolve()))
      }),
  }
}

// Figures are printed and saved: do not wait on a socket some component forgot to close.
setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref()
