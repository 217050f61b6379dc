import {
  amountForVolume,
  type Currency,
  type FuelAuthorizationResponse,
  signSaleRecord,
  signClientAssertion,
  IDEMPOTENCY_HEADER,
  type SaleRecord,
} from '@fuelpay/proto'
import pg from 'pg'
import { createHistogram, summarize } from '../histogram.ts'
import { createRng } from '../prng.ts'
import { createAdminClient, mapLimit, provisionWorld } from '../provision.ts'
import { createWireVehicle } from '../wire-vehicle.ts'
import { benchCloud, benchEnv, envNumber, fmt, header, saveResult } from './bench-common.ts'
import { dbInsertFloor } from './floors.ts'

/**
 * Authorizations and captures per second at the cloud, on real PostgreSQL,
 * against the database's own single-row insert floor measured in the same
 * run with the same concurrency.
 *
 * Authorizations: vehicles POST /v1/fuel-authorizations (client assertion,
 * idempotency key, geofence, controls, simulated processor hold, ledger hold
 * entry, outbox event, signed pump authorization). Captures: stations POST
 * /v1/sales with a station-signed sale for each hold (signature, arithmetic,
 * row lock, processor capture, ledger capture and release, receipt).
 *
 *   BENCH_OPS=2000 BENCH_CONCURRENCY=8 npx tsx simulators/src/bench/cloud.bench.ts
 */
const env = benchEnv()
const ops = envNumber('BENCH_OPS', 500)
const machine = header('cloud: authorizations and captures per second (real PostgreSQL)')
const { cloud, dbUrl, close } = await benchCloud(env)
const dbName = new URL(dbUrl).pathname.slice(1)
const statsDb = new pg.Client({ connectionString: env.pgUrl })
await statsDb.connect()
/** Commits and row counts of the cloud's database, from pg_stat_database (flushed with a short delay). */
const dbStats = async () => {
  await new Promise((r) => setTimeout(r, 1200))
  const r = await statsDb.query(
    'SELECT xact_commit, tup_inserted, tup_updated, tup_returned + tup_fetched AS tup_read FROM pg_stat_database WHERE datname = $1',
    [dbName],
  )
  const row = r.rows[0] as Record<string, string>
  return {
    commits: Number(row.xact_commit),
    inserted: Number(row.tup_inserted),
    updated: Number(row.tup_updated),
  }
}
const perOp = (
  a: Awaited<ReturnType<typeof dbStats>>,
  b: Awaited<ReturnType<typeof dbStats>>,
  n: number,
) => ({
  commits: (b.commits - a.commits) / n,
  inserted: (b.inserted - a.inserted) / n,
  updated: (b.updated - a.updated) / n,
})
try {
  const admin = createAdminClient({ httpUrl: cloud.httpUrl, adminToken: cloud.adminToken })
  const world = await provisionWorld({
    admin,
    rng: createRng(1),
    stations: 4,
    pumpsPerStation: 8,
    vehicles: env.concurrency * 4,
    brokeShare: 0,
  })
  const cars = world.vehicles.map((plan) => createWireVehicle({ plan, httpUrl: cloud.httpUrl }))
  const spots = world.stations.flatMap((s) => s.pumps.map((p) => ({ station: s, pump: p.pump })))

  // Authorizations ---------------------------------------------------------
  const holds: Array<{ h: FuelAuthorizationResponse; vehicleId: string }> = []
  const authLat = createHistogram()
  let authErrors = 0
  const s0 = await dbStats()
  const tA = performance.now()
  await mapLimit(
    Array.from({ length: ops }, (_, i) => i),
    env.concurrency,
    async (i) => {
      const car = cars[i % cars.length] as (typeof cars)[number]
      const spot = spots[i % spots.length] as (typeof spots)[number]
      const s = performance.now()
      const r = await car.requestAuthorization({
        stationId: spot.station.id,
        pump: spot.pump,
        amountMinor: 2000,
        position: { lat: spot.station.lat, lon: spot.station.lon },
      })
      authLat.record(performance.now() - s)
      if (r.ok) holds.push({ h: r.value, vehicleId: car.id })
      else authErrors++
    },
  )
  const authPerS = ops / ((performance.now() - tA) / 1000)
  const s1 = await dbStats()

  // Captures ---------------------------------------------------------------
  const byStation = new Map(world.stations.map((s) => [s.id, s]))
  const seqs = new Map<string, number>()
  const capLat = createHistogram()
  let capErrors = 0
  const now = Date.now()
  const signed = await mapLimit(holds, 4, async ({ h, vehicleId }) => {
    const st = byStation.get(h.station.id) as (typeof world.stations)[number]
    const price = st.pumps[0]?.grades[0] as { grade: SaleRecord['grade']; unitPriceMilli: number }
    const jti = JSON.parse(Buffer.from(h.token.split('.')[1] ?? '', 'base64url').toString('utf8'))
      .jti as string
    const volumeMilli = 8_000
    const seq = (seqs.get(st.id) ?? 0) + 1
    seqs.set(st.id, seq)
    const sale: SaleRecord = {
      sessionId: h.sessionId,
      tokenId: jti,
      stationId: st.id,
      pump: h.pump,
      vehicleId,
      outcome: 'completed',
      grade: price.grade,
      unitPriceMilli: price.unitPriceMilli,
      volumeMilli,
      volumeUnit: 'L',
      amountMinor: amountForVolume(volumeMilli, price.unitPriceMilli, 'EUR' as Currency),
      currency: 'EUR',
      startedAt: now - 60_000,
      endedAt: now,
      seq,
      totalizerStartMilli: seq * 10_000,
      totalizerEndMilli: seq * 10_000 + volumeMilli,
    }
    return { st, jws: await signSaleRecord(sale, st.key) }
  })
  const tC = performance.now()
  await mapLimit(signed, env.concurrency, async ({ st, jws }) => {
    const s = performance.now()
    const res = await fetch(`${cloud.httpUrl}/v1/sales`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${await signClientAssertion({ role: 'station', id: st.id }, st.key)}`,
        [IDEMPOTENCY_HEADER]: `cap-${jws.slice(-24).replace(/[^A-Za-z0-9]/g, 'x')}`,
      },
      body: JSON.stringify({ saleJws: jws }),
      signal: AbortSignal.timeout(30_000),
    })
    const body = (await res.json()) as { state?: string }
    capLat.record(performance.now() - s)
    if (!res.ok || body.state !== 'captured') capErrors++
  })
  const capPerS = signed.length / ((performance.now() - tC) / 1000)
  const s2 = await dbStats()
  const authDb = perOp(s0, s1, ops)
  const capDb = perOp(s1, s2, Math.max(1, signed.length))
  await Promise.all(cars.map((c) => c.close()))

  const ledger = cloud.verifyLedger ? await cloud.verifyLedger() : undefined
  const floor = await dbInsertFloor({
    url: env.pgUrl,
    clients: env.concurrency,
    durationS: Math.min(env.durationS, 5),
  })
  const a = summarize(authLat)
  const c = summarize(capLat)
  process.stdout.write(
    [
      `authorizations: ${ops} at concurrency ${env.concurrency}: ${fmt(authPerS)}/s, p50 ${fmt(a.p50)} ms, p99 ${fmt(a.p99)} ms, errors ${authErrors}`,
      `captures:       ${signed.length} at concurrency ${env.concurrency}: ${fmt(capPerS)}/s, p50 ${fmt(c.p50)} ms, p99 ${fmt(c.p99)} ms, errors ${capErrors}`,
      `floor (${floor.method}, single-row insert tx, ${floor.clients} clients): ${fmt(floor.txPerS)}/s, avg ${fmt(floor.latencyAvgMs, 2)} ms`,
      `ratio floor/authorizations: ${fmt(floor.txPerS / authPerS, 2)}x (target <= 3x)`,
      `ratio floor/captures:       ${fmt(floor.txPerS / capPerS, 2)}x (target <= 3x)`,
      `database work per authorization: ${fmt(authDb.commits)} commits, ${fmt(authDb.inserted)} rows inserted, ${fmt(authDb.updated)} updated`,
      `database work per capture:       ${fmt(capDb.commits)} commits, ${fmt(capDb.inserted)} rows inserted, ${fmt(capDb.updated)} updated`,
      `ledger after the run: ${ledger ? (ledger.ok ? 'balanced' : 'NOT BALANCED') : 'not checked'}`,
      '',
    ].join('\n'),
  )
  await saveResult('cloud', {
    machine,
    ops,
    concurrency: env.concurrency,
    authorizations: { perS: authPerS, latencyMs: a, errors: authErrors },
    captures: { perS: capPerS, latencyMs: c, errors: capErrors },
    floor,
    ratios: { authorizations: floor.txPerS / authPerS, captures: floor.txPerS / capPerS },
    dbWorkPerOp: { authorization: authDb, capture: capDb },
    ledgerOk: ledger?.ok,
  })
  if (authErrors || capErrors || (ledger && !ledger.ok)) process.exitCode = 1
} finally {
  await statsDb.end()
  await close()
}

// Figures are printed and saved: do not wait on a socket some component forgot to close.
setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref()
