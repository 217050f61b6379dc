import { ErrorBody } from '@fuelpay/proto'
import { Type } from '@sinclair/typebox'

/** Shared pieces of route schemas. */
export const Params = {
  id: Type.Object({ id: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$' }) }, { additionalProperties: false }),
  sessionId: Type.Object({ sessionId: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$' }) }, { additionalProperties: false }),
}

export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.:-]{8,128}$' })),
})

/** Error answers documented on every route. */
export const errorResponses = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  409: ErrorBody,
  422: ErrorBody,
}

/** Paging: `limit` (1-100) and an opaque `cursor` from the previous page. */
export const PageQuery = Type.Object(
  {
    limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$' })),
    cursor: Type.Optional(Type.String({ maxLength: 200, pattern: '^[A-Za-z0-9_-]+$' })),
  },
  { additionalProperties: false },
)

export function pageLimit(q: { limit?: string | undefined }): number {
  const n = q.limit === undefined ? 20 : Number(q.limit)
  return Math.min(100, Math.max(1, n))
}

export function encodeCursor(c: { createdAt: Date | string; id: string }): string {
  return Buffer.from(JSON.stringify([new Date(c.createdAt).toISOString(), c.id])).toString('base64url')
}

export function decodeCursor(cursor: string | undefined): { createdAt: Date; id: string } | undefined {
  if (!cursor) return undefined
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string, string]
    const createdAt = new Date(at)
    if (typeof id !== 'string' || Number.isNaN(createdAt.getTime())) return undefined
    return { createdAt, id }
  } catch {
    return undefined
  }
}
