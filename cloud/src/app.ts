import { randomBytes } from 'node:crypto'
import type { DatabaseHandle, Logger } from '@fuelpay/platform'
import { IDEMPOTENCY_HEADER, IdempotencyKey as IdempotencyKeySchema, validate } from '@fuelpay/proto'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import type { RawBuilder } from 'kysely'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { adminRoutes } from './admin/admin.routes.ts'
import { type AssertionUse, identify, recordAssertionUse } from './auth/auth.service.ts'
import { type Caller, callerScope, type Role } from './auth/caller.ts'
import { consolePlugin } from './console/console.plugin.ts'
import type { Tables } from './db/database.ts'
import type { CloudDeps } from './deps.ts'
import { errorHandler, errorResponse, isFuelpayError, notFoundHandler, refuse } from './errors/errors.ts'
import { type IdempotencyClaim, idempotencyClaim } from './idempotency/answer-sealing.ts'
import { abandonIdempotent, beginIdempotent, completeIdempotent } from './idempotency/idempotency.repository.ts'
import { requestHash } from './idempotency/request-hash.ts'
import { keysRoutes } from './keys/keys.routes.ts'
import { healthRoutes } from './ops/health.routes.ts'
import { outboxRoutes } from './outbox/outbox.routes.ts'
import { sessionRoutes } from './sessions/session.routes.ts'
import { stationRoutes } from './stations/station.routes.ts'

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller | null
    idem: IdempotencyClaim | null
    /** What the route's `prefetch` read in the idempotency claim's statement (undefined when it did not run). */
    prefetched: unknown
  }
  interface FastifyContextConfig {
    /** Who may call the route; absent means public. */
    roles?: Role[]
    /** 'required': POST without an Idempotency-Key is refused; 'optional': honoured when sent. */
    idempotency?: 'required' | 'optional'
    /**
     * A read the handler needs first, made in the statement that claims the
     * idempotency key (one round trip fewer); it runs after the caller's
     * assertion verified. The handler must still work without it.
     */
    prefetch?: (request: FastifyRequest) => RawBuilder<unknown> | undefined
  }
}

/**
 * Builds the cloud's HTTP app. Never listens: server.ts does, tests use
 * `inject()`.
 *
 * @example const app = await build({ deps, brokerUrl: () => 'mqtt://127.0.0.1:1884' }); await app.inject({ url: '/healthz' })
 */
export interface BuildOptions {
  deps: CloudDeps
  /** The broker URL handed out with MQTT credentials. */
  brokerUrl: () => string
  /** Readiness of the pieces besides the database (the broker). */
  brokerReady?: () => boolean
  /** pino instance for request logs; the deps logger when absent. */
  logger?: Logger
  /**
   * The open database handle, so the console's outbox reader can LISTEN on it
   * (PGlite delivers notifications only through its own instance). Without it
   * the console polls.
   */
  database?: Pick<DatabaseHandle<Tables>, 'db' | 'kind' | 'pglite' | 'url'>
}

const IDEMPOTENCY_STALE_MS = 60_000

export async function build(opts: BuildOptions): Promise<FastifyInstance> {
  const { deps } = opts
  const app = Fastify({
    loggerInstance: opts.logger ?? deps.log,
    bodyLimit: 64 * 1024,
    requestIdHeader: 'x-request-id',
    genReqId: () => randomBytes(8).toString('hex'),
    // Bad input must be refused, not repaired: no coercion, no silent removal, no defaults.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false } },
    routerOptions: { maxParamLength: 128 },
  }) as unknown as FastifyInstance

  app.decorateRequest('caller', null)
  app.decorateRequest('idem', null)
  app.decorateRequest('prefetched', undefined)
  app.setErrorHandler((err, request, reply) => {
    // "Not yet" is no answer: an earlier attempt still running (this request
    // took over its stale claim) stores its answer in this claim, so the
    // claim is left in progress, neither stored nor freed.
    if (isFuelpayError(err) && err.code === 'IDEMPOTENCY_IN_PROGRESS') request.idem = null
    errorHandler(err, request, reply)
  })
  app.setNotFoundHandler(notFoundHandler)

  await app.register(swagger, {
    openapi: {
      info: { title: 'fuelpay cloud', version: '1.0.0', description: 'Fuel payment holds, captures, ledger and keys.' },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      },
    },
  })
  await app.register(swaggerUi, { routePrefix: '/docs' })

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id)
  })
  app.addHook('preHandler', async (request, reply) => {
    const config = request.routeOptions.config
    const idempotent = request.method === 'POST' && config.idempotency !== undefined
    let use: AssertionUse | undefined
    if (config.roles) {
      const who = await identify({ db: deps.db, adminToken: deps.config.adminToken, nowMs: deps.nowMs }, request.headers.authorization)
      // A client assertion is single use. On an idempotent POST its jti is
      // recorded together with the idempotency claim (one commit), otherwise now.
      use = who.use
      if (use && !idempotent) await recordAssertionUse(deps.db, use)
      if (!config.roles.includes(who.caller.role)) throw refuse('FORBIDDEN')
      request.caller = who.caller
    }
    if (idempotent && (await claimIdempotency(deps, request, reply, use))) return reply
  })
  app.addHook('onSend', async (request, reply, payload) => {
    const idem = request.idem
    if (!idem) return payload
    request.idem = null
    const body = typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : JSON.stringify(payload ?? null)
    try {
      // A 5xx frees the key for a retry.
      if (reply.statusCode >= 500) await abandonIdempotent(deps.db, idem.scope, idem.key)
      else await completeIdempotent(deps.db, idem.scope, idem.key, reply.statusCode, idem.seal(body))
    } catch (err) {
      request.log.error({ err }, 'could not record the idempotent response')
    }
    return payload
  })
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unknown'
    deps.metrics.httpRequests.inc({ method: request.method, route, status: String(reply.statusCode) })
    deps.metrics.httpDurationS.observe({ method: request.method, route }, reply.elapsedTime / 1000)
  })

  await app.register(healthRoutes(deps, opts.brokerReady ?? (() => true)))
  await app.register(keysRoutes(deps, opts.brokerUrl))
  await app.register(adminRoutes(deps))
  await app.register(sessionRoutes(deps))
  await app.register(stationRoutes(deps))
  await app.register(outboxRoutes(deps))
  await app.register(consolePlugin({ deps, ...(opts.database ? { handle: opts.database } : {}) }))
  return app
}

/** Claims the request's Idempotency-Key; true when the stored answer was sent instead. */
async function claimIdempotency(deps: CloudDeps, request: FastifyRequest, reply: FastifyReply, use: AssertionUse | undefined): Promise<boolean> {
  const raw = request.headers[IDEMPOTENCY_HEADER]
  const valid = typeof raw === 'string' && validate(IdempotencyKeySchema, raw).ok
  // Without a usable key the assertion is still spent before the refusal.
  if (!valid && use) await recordAssertionUse(deps.db, use)
  if (raw === undefined) {
    if (request.routeOptions.config.idempotency === 'required') throw refuse('SCHEMA_INVALID', 'an Idempotency-Key header is required')
    return false
  }
  if (typeof raw !== 'string' || !valid) throw refuse('SCHEMA_INVALID', 'bad Idempotency-Key header')
  const claim = idempotencyClaim(request.caller ? callerScope(request.caller) : 'public', raw)
  const nowMs = deps.nowMs()
  const begun = await beginIdempotent(deps.db, {
    scope: claim.scope,
    key: claim.key,
    requestHash: requestHash(request.method, request.routeOptions.url ?? request.url, request.params, request.body),
    expiresAt: new Date(nowMs + deps.config.idempotencyTtlMs),
    now: new Date(nowMs),
    staleMs: IDEMPOTENCY_STALE_MS,
    assertion: use,
    read: use ? request.routeOptions.config.prefetch?.(request) : undefined,
  })
  switch (begun.kind) {
    case 'assertion-reused':
      throw refuse('UNAUTHENTICATED', 'assertion already used')
    case 'new':
      request.idem = claim
      request.prefetched = begun.read
      return false
    case 'reused':
      throw refuse('IDEMPOTENCY_KEY_REUSED')
    case 'in_progress':
      throw refuse('IDEMPOTENCY_IN_PROGRESS')
    case 'replay':
      reply.header('idempotent-replayed', 'true')
      reply.header('content-type', 'application/json; charset=utf-8')
      await reply.status(begun.statusCode).send(claim.open(begun.response))
      return true
  }
}

export { errorResponse }
