import { createHash } from 'node:crypto'

/** JSON with object keys sorted, so that the same body hashes the same whatever its key order. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`
  if (value && typeof value === 'object') {
    const entries = Object.keys(value as object)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`)
    return `{${entries.join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}

export function requestHash(method: string, route: string, params: unknown, body: unknown): string {
  return createHash('sha256').update(`${method}\n${route}\n${stableJson(params ?? {})}\n${stableJson(body ?? null)}`).digest('hex')
}
