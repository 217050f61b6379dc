import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  exportPrivateJwk,
  generateSigningKey,
  importSigningKey,
  type SigningKey,
} from '@fuelpay/proto'
import type { JWK } from 'jose'
import { createAdminClient } from '../provision.ts'

/**
 * The demo's world: one operator, one station with four pumps near Munich's
 * Marienplatz, one driver account with a funded simulated Visa card and one
 * paired car. Keys live in the data directory (git-ignored) so a restart
 * finds the same station and car; the operator's console key is issued anew
 * each start and printed.
 */
export const DEMO = {
  operatorId: 'demo-fuels',
  stationId: 'demo-station',
  stationName: 'fuelpay Demo Station Marienplatz',
  position: { lat: 48.1374, lon: 11.5755 },
  accountId: 'demo-driver',
  vehicleId: 'demo-car',
  currency: 'EUR' as const,
  pumps: [1, 2, 3, 4].map((pump) => ({
    pump,
    grades: [
      { grade: 'unleaded95' as const, unitPriceMilli: 1_859 },
      { grade: 'unleaded98' as const, unitPriceMilli: 1_979 },
      { grade: 'diesel' as const, unitPriceMilli: 1_799 },
    ],
  })),
}

export interface DemoWorld {
  stationKey: SigningKey
  vehicleKey: SigningKey
  operatorApiKey: string
}

interface Secrets {
  stationJwk: JWK
  vehicleJwk: JWK
  stationPublicJwk: JWK
  vehiclePublicJwk: JWK
  provisioned?: boolean
}

export async function provisionDemo(opts: {
  dataDir: string
  httpUrl: string
  adminToken: string
}): Promise<DemoWorld> {
  const file = join(opts.dataDir, 'demo-keys.json')
  let secrets: Secrets
  if (existsSync(file)) {
    secrets = JSON.parse(await readFile(file, 'utf8')) as Secrets
  } else {
    const s = await generateSigningKey('demo-station-k1')
    const v = await generateSigningKey('demo-car-k1')
    secrets = {
      stationJwk: await exportPrivateJwk(s),
      vehicleJwk: await exportPrivateJwk(v),
      stationPublicJwk: s.publicJwk,
      vehiclePublicJwk: v.publicJwk,
    }
    await writeFile(file, JSON.stringify(secrets), { mode: 0o600 })
  }
  const admin = createAdminClient({ httpUrl: opts.httpUrl, adminToken: opts.adminToken })
  const op = await admin.post<{ id: string; apiKey: string }>('/v1/admin/operators', {
    id: DEMO.operatorId,
    name: 'Demo Fuels GmbH',
  })
  await admin.post('/v1/admin/stations', {
    id: DEMO.stationId,
    operatorId: DEMO.operatorId,
    name: DEMO.stationName,
    ...DEMO.position,
    geofenceRadiusM: 150,
    currency: DEMO.currency,
    volumeUnit: 'L',
    beaconMajor: 1001,
    publicJwk: secrets.stationPublicJwk,
    pumps: DEMO.pumps,
  })
  if (!secrets.provisioned) {
    await admin.post('/v1/admin/accounts', {
      id: DEMO.accountId,
      name: 'Erika Mustermann',
      defaultHoldMinor: 10_000,
    })
    const card = await admin.post<{ token: string }>('/v1/admin/sim-processor/cards', {
      brand: 'visa',
      last4: '4242',
      availableMinor: 500_000,
      currency: DEMO.currency,
      expMonth: 12,
      expYear: 2031,
    })
    await admin.post(`/v1/admin/accounts/${DEMO.accountId}/payment-methods`, {
      processorToken: card.token,
      brand: 'visa',
      last4: '4242',
      name: 'personal card',
      isDefault: true,
    })
    await admin.post('/v1/admin/vehicles', {
      id: DEMO.vehicleId,
      accountId: DEMO.accountId,
      publicJwk: secrets.vehiclePublicJwk,
      name: 'Erika’s Golf',
    })
    secrets.provisioned = true
    await writeFile(file, JSON.stringify(secrets), { mode: 0o600 })
  }
  return {
    stationKey: await importSigningKey(secrets.stationJwk),
    vehicleKey: await importSigningKey(secrets.vehicleJwk),
    operatorApiKey: op.apiKey,
  }
}
