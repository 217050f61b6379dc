import { sql } from 'kysely'
import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsync } from 'fastify'
import type { CloudDeps } from '../deps.ts'
import { refuse } from '../errors/errors.ts'

/** Liveness, readiness (database and broker) and Prometheus metrics. */
export function healthRoutes(deps: CloudDeps, brokerReady: () => boolean): FastifyPluginAsync {
  return async (app) => {
    app.get('/healthz', { schema: { tags: ['ops'], response: { 200: Type.Object({ ok: Type.Boolean() }) } } }, async () => ({ ok: true }))

    app.get('/readyz', { schema: { tags: ['ops'] } }, async (_req, reply) => {
      const db = await Promise.race([
        sql`select 1`.execute(deps.db).then(() => true, () => false),
        new Promise<boolean>((r) => setTimeout(() => r(false), 2000).unref()),
      ])
      const broker = brokerReady()
      if (!db || !broker) throw refuse('UNAVAILABLE', `not ready: db=${db} broker=${broker}`)
      return reply.send({ ok: true, db, broker })
    })

    app.get('/metrics', { schema: { tags: ['ops'] } }, async (_req, reply) => {
      reply.header('content-type', deps.metrics.registry.contentType)
      return reply.send(await deps.metrics.registry.metrics())
    })
  }
}
