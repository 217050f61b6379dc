import { type ErrorBody, FuelpayError, REASONS, type ReasonCode, reason } from '@fuelpay/proto'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'

/**
 * The one place the cloud makes errors. Every refusal is a proto reason code
 * (stable name and number, see proto reasons.ts); handlers throw
 * `refuse(code)` and this module turns it into the ErrorBody wire form.
 *
 * @example throw refuse('SESSION_NOT_FOUND')
 */
export function refuse(code: ReasonCode, detail?: string): FuelpayError {
  return new FuelpayError(code, detail)
}

export function isFuelpayError(e: unknown): e is FuelpayError {
  return e instanceof FuelpayError
}

/**
 * PostgreSQL or the way to it is down or restarting: the server's codes for
 * a connection it ended or cannot take (57P01-03, 53300, class 08) and the
 * socket's own errors. A retry will do; it is no bug of ours.
 */
const DATABASE_DOWN_CODES = new Set(['57P01', '57P02', '57P03', '53300', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN'])
const DATABASE_DOWN_MESSAGES = /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error)/

export function isDatabaseUnavailable(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false
  const code = (err as { code?: unknown }).code
  if (typeof code === 'string' && (DATABASE_DOWN_CODES.has(code) || /^08[0-9A-Z]{3}$/.test(code))) return true
  return DATABASE_DOWN_MESSAGES.test(String((err as { message?: unknown }).message ?? ''))
}

/**
 * The HTTP status and body for any thrown value; internal errors say nothing
 * of their cause. `unavailable`: the database could not be reached (503
 * UNAVAILABLE, worth a retry), `internal`: anything else unexpected (500).
 */
export function errorResponse(
  err: unknown,
  requestId?: string,
): { status: number; body: ErrorBody; internal: boolean; unavailable: boolean } {
  if (isFuelpayError(err)) {
    return { status: err.httpStatus, body: { error: err.toReason(), requestId }, internal: false, unavailable: false }
  }
  if (isDatabaseUnavailable(err)) {
    return { status: 503, body: { error: reason('UNAVAILABLE', 'database unavailable'), requestId }, internal: false, unavailable: true }
  }
  const code = mapFrameworkError(err as FastifyError)
  const r = REASONS[code]
  const detail =
    code === 'SCHEMA_INVALID' ? String((err as Error).message ?? '').slice(0, 300) : undefined
  return {
    status: r.httpStatus,
    body: { error: reason(code, detail || undefined), requestId },
    internal: code === 'INTERNAL',
    unavailable: false,
  }
}

function mapFrameworkError(err: FastifyError | undefined): ReasonCode {
  if (!err || typeof err !== 'object') return 'INTERNAL'
  if (err.validation) return 'SCHEMA_INVALID'
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return 'BAD_JSON'
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'PAYLOAD_TOO_LARGE'
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return 'SCHEMA_INVALID'
  }
  if (err instanceof SyntaxError) return 'BAD_JSON'
  if (typeof err.statusCode === 'number' && err.statusCode === 404) return 'NOT_FOUND'
  if (typeof err.statusCode === 'number' && err.statusCode === 413) return 'PAYLOAD_TOO_LARGE'
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500)
    return 'SCHEMA_INVALID'
  return 'INTERNAL'
}

/** fastify error handler: logs internal errors in full, answers with the wire form only. */
export function errorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const { status, body, internal, unavailable } = errorResponse(err, String(request.id))
  if (internal) request.log.error({ err }, 'internal error')
  else if (unavailable) {
    request.log.warn({ err }, 'database unavailable')
    void reply.header('retry-after', '1')
  } else request.log.info({ code: body.error.code }, 'refused')
  void reply.status(status).send(body)
}

/** Answer for routes that do not exist. */
export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): void {
  void reply.status(404).send({ error: reason('NOT_FOUND'), requestId: String(request.id) })
}
