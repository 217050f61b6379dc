import { generateSigningKey } from '@fuelpay/proto'
import t from 'tap'
import { ADMIN, call, makeCloud, provision } from '../helpers.ts'

t.test('two stations registered with one new beacon number at the same moment: one gets it, the other hears SCHEMA_INVALID, not 500', async (t) => {
  const cloud = await makeCloud(t)
  const { app } = cloud
  const w = await provision(cloud)
  const station = async (id: string, beaconMajor: number) => ({
    id,
    operatorId: w.operatorId,
    name: id,
    lat: w.lat,
    lon: w.lon,
    geofenceRadiusM: 80,
    currency: 'EUR',
    volumeUnit: 'L',
    beaconMajor,
    publicJwk: (await generateSigningKey(`${id}-k1`)).publicJwk,
    pumps: [{ pump: 1, grades: [{ grade: 'diesel', unitPriceMilli: 1799 }] }],
  })
  for (let round = 0; round < 5; round++) {
    const beacon = 30_000 + round
    const bodies = await Promise.all([station(`st-b${round}-x`, beacon), station(`st-b${round}-y`, beacon)])
    const answers = await Promise.all(bodies.map((payload) => call(app, { method: 'POST', url: '/v1/admin/stations', auth: ADMIN, payload })))
    t.same(
      answers.map((r) => r.status).sort(),
      [201, 400],
      `round ${round}: ${answers.map((r) => `${r.status} ${r.body.error?.code ?? ''}`).join(', ')}`,
    )
    t.equal(answers.find((r) => r.status === 400)?.body.error.code, 'SCHEMA_INVALID')
  }
})
