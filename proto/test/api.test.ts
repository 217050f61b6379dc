import t from 'tap'
import {
  ErrorBody,
  FuelAuthorizationRequest,
  IdempotencyKey,
  MqttCredentialResponse,
  Position,
  reason,
  SaleReport,
  StationSummary,
  validate,
} from '../src/index.ts'

const okay = (schema: Parameters<typeof validate>[0], v: unknown) => validate(schema, v).ok

t.test('FuelAuthorizationRequest', async (t) => {
  const good = { stationId: 'st-berlin-1', pump: 2 }
  t.ok(okay(FuelAuthorizationRequest, good), 'minimal')
  t.ok(
    okay(FuelAuthorizationRequest, {
      ...good,
      grade: 'diesel',
      amountMinor: 5000,
      currency: 'EUR',
      paymentMethodName: 'business card',
      position: { lat: 52.5, lon: 13.4, accuracyM: 12 },
      voiceCode: '4711',
    }),
    'full',
  )
  for (const bad of [
    {},
    { ...good, pump: 0 },
    { ...good, stationId: 'a/b' },
    { ...good, amountMinor: 0 },
    { ...good, amountMinor: 12.5 },
    { ...good, currency: 'XXX' },
    { ...good, grade: 'kerosene' },
    { ...good, paymentMethodId: 'pm 1' },
    { ...good, paymentMethodName: '' },
    { ...good, position: { lat: 91, lon: 0 } },
    { ...good, position: { lat: 0, lon: 181 } },
    { ...good, position: { lat: 0, lon: 0, alt: 3 } },
    { ...good, voiceCode: 'x'.repeat(33) },
    { ...good, amountMinor: '5000' },
    { ...good, admin: true },
  ]) {
    t.notOk(okay(FuelAuthorizationRequest, bad), JSON.stringify(bad).slice(0, 60))
  }
})

t.test('small shapes', async (t) => {
  t.ok(okay(SaleReport, { saleJws: 'a'.repeat(16) }))
  t.notOk(okay(SaleReport, { saleJws: 'short' }))
  t.notOk(okay(SaleReport, { saleJws: 'a'.repeat(4097) }))
  t.ok(okay(IdempotencyKey, 'f47ac10b-58cc-4372-a567-0e02b2c3d479'))
  for (const bad of ['short', 'has space in it', 'x'.repeat(129), ''])
    t.notOk(okay(IdempotencyKey, bad), bad)
  t.ok(okay(Position, { lat: -90, lon: 180 }))
  t.ok(okay(ErrorBody, { error: reason('PUMP_BUSY'), requestId: 'r1' }))
  t.notOk(okay(ErrorBody, { error: { code: 'PUMP_BUSY' } }))
  t.ok(
    okay(MqttCredentialResponse, {
      clientId: 'vehicle-car7',
      username: 'vehicle-car7',
      password: 'tok',
      brokerUrl: 'mqtt://127.0.0.1:1884',
      expiresAt: '2025-01-01T00:00:00.000Z',
    }),
  )
  const cred = {
    clientId: 'vehicle-car7',
    username: 'vehicle-car7',
    password: 'tok',
    brokerUrl: 'mqtt://127.0.0.1:1884',
    expiresAt: '2025-01-01T00:00:00.000Z',
  }
  for (const expiresAt of [
    '2025-01-01T00:00:00Z',
    '2025-06-30T23:59:59+02:00',
    '2025-01-01t00:00:00.123456z',
  ])
    t.ok(okay(MqttCredentialResponse, { ...cred, expiresAt }), `date-time ${expiresAt}`)
  for (const expiresAt of [
    '2025-01-01',
    '2025-13-01T00:00:00Z',
    '2025-01-01 00:00:00Z',
    'yesterday',
    '1735689600000',
    '2025-01-01T24:00:00Z',
  ])
    t.notOk(okay(MqttCredentialResponse, { ...cred, expiresAt }), `not date-time ${expiresAt}`)
  const station = {
    id: 's1',
    name: 'Berlin 1',
    lat: 52.5,
    lon: 13.4,
    geofenceRadiusM: 80,
    currency: 'EUR',
    volumeUnit: 'L',
    pumps: [{ pump: 1, grades: [{ grade: 'diesel', unitPriceMilli: 1799 }] }],
  }
  t.ok(okay(StationSummary, station))
  t.notOk(okay(StationSummary, { ...station, volumeUnit: 'l' }))
  t.notOk(
    okay(StationSummary, {
      ...station,
      pumps: [{ pump: 1, grades: [{ grade: 'diesel', unitPriceMilli: 0 }] }],
    }),
  )
})
