import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsync } from 'fastify'
import type { CloudDeps } from '../deps.ts'
import { errorResponses } from '../http-schemas.ts'
import { readOutbox } from './outbox.repository.ts'

const Query = Type.Object(
  { after: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$' })), limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$' })) },
  { additionalProperties: false },
)

/** GET /v1/events: the outbox, for an operator its own stations' events only (polling readers, the console). */
export function outboxRoutes(deps: CloudDeps): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/v1/events',
      {
        config: { roles: ['operator', 'admin'] },
        schema: {
          tags: ['operators'],
          security: [{ bearer: [] }],
          querystring: Query,
          response: {
            200: Type.Object({
              items: Type.Array(
                Type.Object({
                  id: Type.Integer(),
                  kind: Type.String(),
                  aggregateId: Type.String(),
                  stationId: Type.Union([Type.String(), Type.Null()]),
                  payload: Type.Object({}, { additionalProperties: true }),
                  createdAt: Type.String(),
                }),
              ),
              lastId: Type.Integer(),
            }),
            ...errorResponses,
          },
        },
      },
      async (req) => {
        const q = req.query as { after?: string; limit?: string }
        const caller = req.caller!
        const after = Number(q.after ?? 0)
        const items = await readOutbox(deps.db, {
          afterId: after,
          limit: Math.min(500, Math.max(1, Number(q.limit ?? 100))),
          operatorId: caller.role === 'operator' ? caller.id : undefined,
        })
        return { items, lastId: items.length ? (items[items.length - 1]?.id ?? after) : after }
      },
    )
  }
}
