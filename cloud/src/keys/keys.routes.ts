import { MqttCredentialResponse } from '@fuelpay/proto'
import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsync } from 'fastify'
import type { CloudDeps } from '../deps.ts'
import { refuse } from '../errors/errors.ts'
import { errorResponses, Params } from '../http-schemas.ts'
import { stationPublicKeys } from '../stations/station.repository.ts'
import { issueMqttCredential } from './credentials.service.ts'

const Jwks = Type.Object({ keys: Type.Array(Type.Object({}, { additionalProperties: true })) })

export function keysRoutes(deps: CloudDeps, brokerUrl: () => string): FastifyPluginAsync {
  return async (app) => {
    app.get('/.well-known/jwks.json', { schema: { tags: ['keys'], response: { 200: Jwks } } }, async (_req, reply) => {
      reply.header('cache-control', 'public, max-age=300')
      return deps.keys.jwks()
    })

    app.get(
      '/v1/stations/:id/jwks',
      { schema: { tags: ['keys'], params: Params.id, response: { 200: Jwks, ...errorResponses } } },
      async (req) => {
        const { id } = req.params as { id: string }
        const rows = await stationPublicKeys(deps.db, id)
        if (rows.length === 0) throw refuse('UNKNOWN_STATION')
        return { keys: rows.map((r) => r.public_jwk) }
      },
    )

    app.post(
      '/v1/mqtt-credentials',
      {
        config: { roles: ['vehicle', 'station'], idempotency: 'optional' },
        schema: { tags: ['keys'], security: [{ bearer: [] }], response: { 200: MqttCredentialResponse, ...errorResponses } },
      },
      async (req) => {
        const caller = req.caller
        if (!caller || (caller.role !== 'vehicle' && caller.role !== 'station')) throw refuse('FORBIDDEN')
        return issueMqttCredential({ ...deps, brokerUrl }, caller)
      },
    )
  }
}
