import Fastify, { type FastifyInstance } from 'fastify'
import type { PumpController } from '../controller.ts'

/**
 * `/healthz` (JSON; 503 when stopping) and `/metrics` (Prometheus text).
 * Built by a factory that never listens; main.ts listens, tests inject().
 *
 * @example const app = buildHealthServer({ controller }); await app.listen({ port: 0 })
 */
export function buildHealthServer(opts: { controller: PumpController }): FastifyInstance {
  const app = Fastify({ logger: false })
  app.get('/healthz', async (_req, reply) => {
    const h = opts.controller.health()
    return reply.code(h.ok ? 200 : 503).send(h)
  })
  app.get('/metrics', async (_req, reply) => {
    const registry = opts.controller.metrics.registry
    return reply.header('content-type', registry.contentType).send(await registry.metrics())
  })
  return app
}
