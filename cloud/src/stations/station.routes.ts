import { StationCommand, StationSummary } from '@fuelpay/proto'
import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsync } from 'fastify'
import type { CloudDeps } from '../deps.ts'
import { refuse } from '../errors/errors.ts'
import { errorResponses, IdempotencyHeaders, PageQuery, pageLimit, Params } from '../http-schemas.ts'
import { boundingBox, distanceM } from './geo.ts'
import { findStation, listOperatorStations, type PumpView, stationPumps, stationsInBox } from './station.repository.ts'

const bearer = [{ bearer: [] }]
// A coordinate as a JavaScript number prints it: up to 17 significant digits
// (a GPS fix's double), an exponent near zero (String(1e-7) is '1e-7').
const NUM = '^-?[0-9]{1,3}(\\.[0-9]{1,20})?([eE][-+]?[0-9]{1,3})?$'

const NearQuery = Type.Object(
  {
    lat: Type.String({ pattern: NUM }),
    lon: Type.String({ pattern: NUM }),
    radiusM: Type.Optional(Type.String({ pattern: '^[0-9]{1,5}$' })),
    limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,2}$' })),
  },
  { additionalProperties: false },
)

type StationRow = NonNullable<Awaited<ReturnType<typeof findStation>>>

export function toStationSummary(s: StationRow, pumps: PumpView[], distance?: number): StationSummary {
  return {
    id: s.id,
    name: s.name,
    lat: s.lat,
    lon: s.lon,
    geofenceRadiusM: s.geofence_radius_m,
    currency: s.currency as StationSummary['currency'],
    volumeUnit: s.volume_unit,
    ...(s.beacon_major !== null ? { beaconMajor: s.beacon_major } : {}),
    ...(distance !== undefined ? { distanceM: Math.round(distance) } : {}),
    pumps: pumps
      .filter((p) => p.inService)
      .map((p) => ({ pump: p.pump, grades: p.grades.map((g) => ({ grade: g.grade as StationSummary['pumps'][number]['grades'][number]['grade'], unitPriceMilli: g.unitPriceMilli })) })),
  }
}

export function stationRoutes(deps: CloudDeps): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/v1/stations/near',
      {
        config: { roles: ['vehicle', 'operator', 'admin'] },
        schema: { tags: ['stations'], security: bearer, querystring: NearQuery, response: { 200: Type.Array(StationSummary), ...errorResponses } },
      },
      async (req) => {
        const q = req.query as { lat: string; lon: string; radiusM?: string; limit?: string }
        const at = { lat: Number(q.lat), lon: Number(q.lon) }
        if (Math.abs(at.lat) > 90 || Math.abs(at.lon) > 180) throw refuse('SCHEMA_INVALID', 'position out of range')
        const radiusM = Math.min(50_000, Math.max(1, Number(q.radiusM ?? 5000)))
        const limit = Math.min(50, Math.max(1, Number(q.limit ?? 10)))
        const rows = (await stationsInBox(deps.db, boundingBox(at, radiusM), 500))
          .map((s) => ({ s, d: distanceM(at, s) }))
          .filter((x) => x.d <= radiusM)
          .sort((a, b) => a.d - b.d)
          .slice(0, limit)
        const pumps = await stationPumps(deps.db, rows.map((r) => r.s.id))
        return rows.map((r) => toStationSummary(r.s, pumps.get(r.s.id) ?? [], r.d))
      },
    )

    app.get(
      '/v1/operator/stations',
      {
        config: { roles: ['operator'] },
        schema: {
          tags: ['operators'],
          security: bearer,
          querystring: PageQuery,
          response: { 200: Type.Object({ items: Type.Array(StationSummary), nextCursor: Type.Optional(Type.String()) }), ...errorResponses },
        },
      },
      async (req) => {
        const q = req.query as { limit?: string; cursor?: string }
        const limit = pageLimit(q)
        const rows = await listOperatorStations(deps.db, req.caller!.id, { limit: limit + 1, after: q.cursor })
        const page = rows.slice(0, limit)
        const pumps = await stationPumps(deps.db, page.map((s) => s.id))
        const last = page[page.length - 1]
        return {
          items: page.map((s) => toStationSummary(s, pumps.get(s.id) ?? [])),
          ...(rows.length > limit && last ? { nextCursor: last.id } : {}),
        }
      },
    )

    app.post(
      '/v1/operator/stations/:id/commands',
      {
        config: { roles: ['operator', 'admin'], idempotency: 'optional' },
        schema: {
          tags: ['operators'],
          security: bearer,
          headers: IdempotencyHeaders,
          params: Params.id,
          body: Type.Object({ command: StationCommand }, { additionalProperties: false }),
          response: { 202: Type.Object({ commandId: Type.String() }), ...errorResponses, 503: errorResponses[400] },
        },
      },
      async (req, reply) => {
        const { id } = req.params as { id: string }
        const station = await findStation(deps.db, id)
        const caller = req.caller!
        if (!station || (caller.role === 'operator' && station.operator_id !== caller.id)) throw refuse('UNKNOWN_STATION')
        if (!deps.sendStationCommand) throw refuse('UNAVAILABLE', 'no broker link')
        const commandId = await deps.sendStationCommand(id, (req.body as { command: StationCommand }).command)
        return reply.status(202).send({ commandId })
      },
    )
  }
}
