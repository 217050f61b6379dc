import { sql } from 'kysely'
import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsync } from 'fastify'
import type { CloudDeps } from '../deps.ts'
import { sameSecret } from '../auth/auth.service.ts'
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

    app.get('/metrics', { schema: { tags: ['ops'] } }, async (req, reply) => {
      // Traffic and authorization counts are business figures: with FUELPAY_METRICS_TOKEN set, only its bearer (or the admin) reads them.
      const token = deps.config.metricsToken
      if (token !== undefined) {
        const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')
        if (!m?.[1] || !(sameSecret(m[1], token) || sameSecret(m[1], deps.config.adminToken))) throw refuse('UNAUTHENTICATED')
      }
      reply.header('content-type', deps.metrics.registry.contentType)
      return reply.send(await deps.metrics.registry.metrics())
    })
  }
}
