import { randomBytes } from 'node:crypto'
import { type Grade, type SigningKey, generateSigningKey } from '@fuelpay/proto'
import type { Rng } from './prng.ts'

/**
 * The simulated world: stations with pumps and prices, accounts with funded
 * cards, vehicles with keys, all created through the cloud's admin API (the
 * same one an operator's onboarding uses), so the run starts from data the
 * real cloud made.
 *
 * Shared to keep 10,000 vehicles cheap: one Ed25519 key pair is used by every
 * vehicle (each registers it under its own `kid`; the cloud binds a key to its
 * vehicle, so this changes nothing about what a vehicle may do), and vehicles
 * share accounts in groups, like a fleet.
 *
 * @example const world = await provisionWorld({ admin, rng, stations: 5, pumpsPerStation: 4, vehicles: 50 })
 */
type JWK = Awaited<ReturnType<typeof generateSigningKey>>['publicJwk']

export interface StationPlan {
  id: string
  name: string
  lat: number
  lon: number
  beaconMajor: number
  key: SigningKey
  publicJwk: JWK
  pumps: Array<{ pump: number; grades: Array<{ grade: Grade; unitPriceMilli: number }> }>
}

export interface VehiclePlan {
  id: string
  index: number
  accountId: string
  key: SigningKey
  /** The account's card has no funds: its holds are declined. */
  broke: boolean
}

export interface World {
  runId: string
  operatorId: string
  stations: StationPlan[]
  vehicles: VehiclePlan[]
  currency: 'EUR'
}

export interface AdminClient {
  post<T = unknown>(path: string, body: unknown): Promise<T>
}

export function createAdminClient(opts: {
  httpUrl: string
  adminToken: string
  timeoutMs?: number
}): AdminClient {
  const base = opts.httpUrl.replace(/\/+$/, '')
  return {
    async post<T>(path: string, body: unknown): Promise<T> {
      const res = await fetch(`${base}${path}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${opts.adminToken}`,
          'idempotency-key': `sim-adm-${randomBytes(12).toString('base64url')}`,
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
      })
      const text = await res.text()
      if (!res.ok) throw new Error(`admin ${path} -> ${res.status} ${text.slice(0, 300)}`)
      return (text ? JSON.parse(text) : undefined) as T
    },
  }
}

/** Runs `fn` over items with at most `limit` in flight. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i] as T, i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return out
}

/** Vehicles per account: a small fleet shares one card. */
export const VEHICLES_PER_ACCOUNT = 20
const GRADE_SETS: Array<Array<{ grade: Grade; unitPriceMilli: number }>> = [
  [
    { grade: 'diesel', unitPriceMilli: 1799 },
    { grade: 'unleaded95', unitPriceMilli: 1859 },
  ],
  [
    { grade: 'diesel', unitPriceMilli: 1729 },
    { grade: 'e10', unitPriceMilli: 1789 },
    { grade: 'unleaded98', unitPriceMilli: 1939 },
  ],
]

/** Where station `i` stands: a grid of points about 1.1 km apart around Munich. */
export function stationPosition(i: number): { lat: number; lon: number } {
  const side = 100
  return { lat: 48.0 + Math.floor(i / side) * 0.01, lon: 11.0 + (i % side) * 0.015 }
}

export async function provisionWorld(opts: {
  admin: AdminClient
  rng: Rng
  stations: number
  pumpsPerStation: number
  vehicles: number
  /** Share of vehicles whose card is declined (at least one when > 0). */
  brokeShare: number
  concurrency?: number
  onProgress?: (done: number, total: number) => void
}): Promise<World> {
  const { admin } = opts
  const runId = randomBytes(3).toString('hex')
  const limit = opts.concurrency ?? 16
  const operatorId = `op-sim-${runId}`
  await admin.post('/v1/admin/operators', { id: operatorId, name: `Simulated Fuels ${runId}` })

  const stations: StationPlan[] = []
  for (let i = 0; i < opts.stations; i++) {
    const id = `st-${runId}-${i}`
    const k = await generateSigningKey(`${id}-k1`)
    const grades = opts.rng.pick(GRADE_SETS)
    stations.push({
      id,
      name: `Sim Station ${i}`,
      ...stationPosition(i),
      beaconMajor: (i % 65535) + 1,
      key: { kid: k.kid, privateKey: k.privateKey },
      publicJwk: k.publicJwk,
      pumps: Array.from({ length: opts.pumpsPerStation }, (_, p) => ({ pump: p + 1, grades })),
    })
  }
  const total = opts.stations + opts.vehicles
  let done = 0
  const tick = () => opts.onProgress?.(++done, total)
  await mapLimit(stations, limit, async (s) => {
    await admin.post('/v1/admin/stations', {
      id: s.id,
      operatorId,
      name: s.name,
      lat: s.lat,
      lon: s.lon,
      geofenceRadiusM: 150,
      currency: 'EUR',
      volumeUnit: 'L',
      beaconMajor: s.beaconMajor,
      publicJwk: s.publicJwk,
      pumps: s.pumps,
    })
    tick()
  })

  const brokeCount =
    opts.brokeShare > 0 ? Math.max(1, Math.round(opts.vehicles * opts.brokeShare)) : 0
  const normal = opts.vehicles - brokeCount
  const shared = await generateSigningKey(`veh-${runId}-shared`)
  const accounts: Array<{ id: string; broke: boolean; members: number[] }> = []
  for (let v = 0; v < opts.vehicles; v++) {
    const broke = v >= normal
    const last = accounts.at(-1)
    if (!last || last.broke !== broke || last.members.length >= VEHICLES_PER_ACCOUNT) {
      accounts.push({ id: `acct-${runId}-${accounts.length}`, broke, members: [v] })
    } else last.members.push(v)
  }
  const vehicles: VehiclePlan[] = new Array(opts.vehicles)
  await mapLimit(accounts, Math.max(1, Math.floor(limit / 2)), async (a) => {
    await admin.post('/v1/admin/accounts', {
      id: a.id,
      name: `Sim account ${a.id}`,
      defaultHoldMinor: 10_000,
    })
    const card = await admin.post<{ token: string }>('/v1/admin/sim-processor/cards', {
      brand: 'visa',
      last4: a.broke ? '0002' : '4242',
      // Enough for any run; a broke account's card has nothing.
      availableMinor: a.broke ? 0 : 90_000_000,
      currency: 'EUR',
      expMonth: 12,
      expYear: 2035,
    })
    await admin.post(`/v1/admin/accounts/${a.id}/payment-methods`, {
      processorToken: card.token,
      brand: 'visa',
      last4: a.broke ? '0002' : '4242',
      name: 'fleet card',
      isDefault: true,
    })
    await mapLimit(a.members, 4, async (v) => {
      const id = `car-${runId}-${v}`
      const kid = `${id}-k1`
      await admin.post('/v1/admin/vehicles', {
        id,
        accountId: a.id,
        publicJwk: { ...shared.publicJwk, kid },
        name: `Sim car ${v}`,
      })
      vehicles[v] = {
        id,
        index: v,
        accountId: a.id,
        key: { kid, privateKey: shared.privateKey },
        broke: a.broke,
      }
      tick()
    })
  })
  return { runId, operatorId, stations, vehicles, currency: 'EUR' }
}
