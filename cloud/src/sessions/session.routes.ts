import {
  FuelAuthorizationRequest,
  FuelAuthorizationResponse,
  IDEMPOTENCY_HEADER,
  Receipt,
  SaleReport,
  SaleReportResponse,
  SessionView,
} from '@fuelpay/proto'
import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsync } from 'fastify'
import type { CloudDeps } from '../deps.ts'
import { refuse } from '../errors/errors.ts'
import { decodeCursor, encodeCursor, errorResponses, IdempotencyHeaders, PageQuery, pageLimit, Params } from '../http-schemas.ts'
import { prefetchAuthorizationContext, requestFuelAuthorization } from './authorization.service.ts'
import { listSessionsForCaller } from './session.repository.ts'
import { toSessionView } from './session.view.ts'
import { cancelSession, getReceipt, getSession, reportSale } from './settlement.service.ts'

const bearer = [{ bearer: [] }]

/** fastify's JSON serializers give strings; anything else is stored as plain JSON. */
const serialized = (body: unknown, value: unknown): string => (typeof body === 'string' ? body : JSON.stringify(value))

export function sessionRoutes(deps: CloudDeps): FastifyPluginAsync {
  return async (app) => {
    app.post(
      '/v1/fuel-authorizations',
      {
        config: {
          roles: ['vehicle'],
          idempotency: 'required',
          prefetch: (req) => prefetchAuthorizationContext(deps, req.caller, req.body as FuelAuthorizationRequest),
        },
        schema: {
          tags: ['sessions'],
          security: bearer,
          headers: IdempotencyHeaders,
          body: FuelAuthorizationRequest,
          response: { 201: FuelAuthorizationResponse, ...errorResponses },
        },
      },
      async (req, reply) => {
        const caller = req.caller
        if (caller?.role !== 'vehicle') throw refuse('FORBIDDEN')
        const key = req.headers[IDEMPOTENCY_HEADER] as string
        const claim = req.idem
        const out = await requestFuelAuthorization(
          deps,
          caller,
          req.body as FuelAuthorizationRequest,
          key,
          claim ? { scope: claim.scope, key: claim.key, statusCode: 201, serialize: (r) => claim.seal(serialized(reply.status(201).serialize(r), r)) } : undefined,
          req.prefetched,
        )
        // The hold's commit stored this answer with the key: nothing left for the onSend hook.
        req.idem = null
        return reply.status(201).send(out)
      },
    )

    app.post(
      '/v1/sales',
      {
        config: { roles: ['station'], idempotency: 'required' },
        schema: {
          tags: ['sessions'],
          security: bearer,
          headers: IdempotencyHeaders,
          body: SaleReport,
          response: { 200: SaleReportResponse, ...errorResponses },
        },
      },
      async (req, reply) => {
        const caller = req.caller
        if (caller?.role !== 'station') throw refuse('FORBIDDEN')
        const claim = req.idem
        const r = await reportSale(
          deps,
          caller,
          (req.body as SaleReport).saleJws,
          claim ? { scope: claim.scope, key: claim.key, statusCode: 200, serialize: (x) => claim.seal(serialized(reply.status(200).serialize(x), x)) } : undefined,
        )
        // Stored with the settlement's commit: nothing left for the onSend hook.
        if (r.answered) req.idem = null
        return r.out
      },
    )

    app.get(
      '/v1/sessions/:id',
      {
        config: { roles: ['vehicle', 'station', 'operator', 'admin'] },
        schema: { tags: ['sessions'], security: bearer, params: Params.id, response: { 200: SessionView, ...errorResponses } },
      },
      async (req) => getSession(deps, req.caller!, (req.params as { id: string }).id),
    )

    app.get(
      '/v1/sessions',
      {
        config: { roles: ['vehicle', 'station', 'operator', 'admin'] },
        schema: {
          tags: ['sessions'],
          security: bearer,
          querystring: PageQuery,
          response: { 200: Type.Object({ items: Type.Array(SessionView), nextCursor: Type.Optional(Type.String()) }), ...errorResponses },
        },
      },
      async (req) => {
        const q = req.query as { limit?: string; cursor?: string }
        const limit = pageLimit(q)
        const before = decodeCursor(q.cursor)
        if (q.cursor && !before) throw refuse('SCHEMA_INVALID', 'bad cursor')
        const rows = await listSessionsForCaller(deps.db, req.caller!, { limit: limit + 1, before })
        const page = rows.slice(0, limit)
        const last = page[page.length - 1]
        return {
          items: page.map(toSessionView),
          ...(rows.length > limit && last ? { nextCursor: encodeCursor({ createdAt: last.created_at, id: last.id }) } : {}),
        }
      },
    )

    app.post(
      '/v1/sessions/:id/cancel',
      {
        config: { roles: ['vehicle'], idempotency: 'required' },
        schema: { tags: ['sessions'], security: bearer, headers: IdempotencyHeaders, params: Params.id, response: { 200: SessionView, ...errorResponses } },
      },
      async (req) => {
        const caller = req.caller
        if (caller?.role !== 'vehicle') throw refuse('FORBIDDEN')
        return cancelSession(deps, caller, (req.params as { id: string }).id)
      },
    )

    app.get(
      '/v1/receipts/:sessionId',
      {
        config: { roles: ['vehicle', 'operator', 'admin'] },
        schema: { tags: ['sessions'], security: bearer, params: Params.sessionId, response: { 200: Receipt, ...errorResponses } },
      },
      async (req) => getReceipt(deps, req.caller!, (req.params as { sessionId: string }).sessionId),
    )
  }
}
