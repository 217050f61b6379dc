import {
  API_PREFIX,
  ErrorBody,
  fail,
  type FuelAuthorizationRequest,
  FuelAuthorizationResponse,
  IDEMPOTENCY_HEADER,
  isReasonCode,
  MqttCredentialResponse,
  ok,
  type Position,
  Receipt,
  type Result,
  SessionView,
  type SigningKey,
  signClientAssertion,
  StationSummary,
  validate,
} from '@fuelpay/proto'
import { Type } from '@sinclair/typebox'
import type { Logger } from 'pino'

/**
 * The cloud's HTTP API as the car uses it. Every call is bounded by a
 * timeout; every answer is validated against proto's shapes; a refusal comes
 * back as a Result with the cloud's reason code, never a throw.
 *
 * @example
 *   const cloud = createCloudClient({ baseUrl, vehicleId: 'car7', key, log })
 *   const near = await cloud.stationsNear({ lat: 52.5, lon: 13.4 })
 */
export interface CloudClient {
  mqttCredentials(idempotencyKey: string): Promise<Result<MqttCredentialResponse>>
  stationsNear(position: Position): Promise<Result<StationSummary[]>>
  stationJwks(stationId: string): Promise<Result<unknown>>
  requestFuelAuthorization(request: FuelAuthorizationRequest, idempotencyKey: string): Promise<Result<FuelAuthorizationResponse>>
  cancelSession(sessionId: string, idempotencyKey: string): Promise<Result<SessionView>>
  getSession(sessionId: string): Promise<Result<SessionView>>
  receipt(sessionId: string): Promise<Result<Receipt>>
}

export interface CloudClientOptions {
  baseUrl: string
  vehicleId: string
  key: SigningKey
  log: Logger
  /** Per-request timeout. */
  requestTimeoutMs?: number
  /** Attempts for a POST that failed in transport or with 5xx/409-in-progress; the same idempotency key each time. */
  maxAttempts?: number
  retryDelayMs?: number
  fetch?: typeof fetch
  now?: () => number
}

const StationList = Type.Array(StationSummary, { maxItems: 100 })
const MAX_BODY_BYTES = 256 * 1024
/** A coordinate for a query string: 7 decimals (about 1 cm), never an exponent. */
const coordinate = (x: number): string => encodeURIComponent(x.toFixed(7))

export function createCloudClient(opts: CloudClientOptions): CloudClient {
  const base = opts.baseUrl.replace(/\/+$/, '')
  const timeoutMs = opts.requestTimeoutMs ?? 10_000
  const maxAttempts = opts.maxAttempts ?? 3
  const retryDelayMs = opts.retryDelayMs ?? 300
  const doFetch = opts.fetch ?? fetch
  const now = opts.now ?? Date.now

  async function once<T>(method: 'GET' | 'POST', path: string, schema: Parameters<typeof validate>[0], body?: unknown, idempotencyKey?: string): Promise<Result<T> & { retry?: boolean }> {
    const assertion = await signClientAssertion({ role: 'vehicle', id: opts.vehicleId }, opts.key, now())
    const headers: Record<string, string> = { authorization: `Bearer ${assertion}`, accept: 'application/json' }
    if (body !== undefined) headers['content-type'] = 'application/json'
    if (idempotencyKey) headers[IDEMPOTENCY_HEADER] = idempotencyKey
    let res: Response
    try {
      res = await doFetch(`${base}${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : method === 'POST' ? { body: '{}', headers: { ...headers, 'content-type': 'application/json' } } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      })
    } catch (e) {
      const timedOut = (e as Error).name === 'TimeoutError'
      return { ...fail(timedOut ? 'TIMEOUT' : 'UNAVAILABLE', `${method} ${path}: ${(e as Error).message}`.slice(0, 300)), retry: true }
    }
    let json: unknown
    try {
      const text = await res.text()
      if (text.length > MAX_BODY_BYTES) return fail('PAYLOAD_TOO_LARGE', `${method} ${path}`)
      json = text.length ? JSON.parse(text) : undefined
    } catch {
      return { ...fail('BAD_JSON', `${method} ${path} answered ${res.status} without JSON`), retry: res.status >= 500 }
    }
    if (!res.ok) {
      const err = validate(ErrorBody, json)
      const retry = res.status >= 500 || res.status === 429 || (err.ok && err.value.error.code === 'IDEMPOTENCY_IN_PROGRESS')
      if (err.ok && isReasonCode(err.value.error.code)) return { ...fail(err.value.error.code, err.value.error.message), retry }
      return { ...fail(res.status >= 500 ? 'UNAVAILABLE' : 'INTERNAL', `${method} ${path} answered ${res.status}`), retry }
    }
    const v = validate(schema, json)
    if (!v.ok) return fail('SCHEMA_INVALID', `${method} ${path}: ${v.reason.message}`)
    return ok(v.value as T)
  }

  async function call<T>(method: 'GET' | 'POST', path: string, schema: Parameters<typeof validate>[0], body?: unknown, idempotencyKey?: string): Promise<Result<T>> {
    let last: Result<T> & { retry?: boolean } = fail('UNAVAILABLE')
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      last = await once<T>(method, path, schema, body, idempotencyKey)
      // A GET is always safe to repeat; a POST only with its idempotency key.
      if (last.ok || !last.retry || (method === 'POST' && !idempotencyKey)) break
      opts.log.warn({ path, attempt, code: last.reason.code }, 'cloud call failed; retrying')
      if (attempt < maxAttempts) await new Promise((r) => setTimeout(r, retryDelayMs * attempt))
    }
    const { retry: _retry, ...result } = last
    return result as Result<T>
  }

  const enc = encodeURIComponent
  return {
    mqttCredentials: (key) => call('POST', `${API_PREFIX}/mqtt-credentials`, MqttCredentialResponse, {}, key),
    stationsNear: (p) => call('GET', `${API_PREFIX}/stations/near?lat=${coordinate(p.lat)}&lon=${coordinate(p.lon)}`, StationList),
    stationJwks: (id) => call('GET', `${API_PREFIX}/stations/${enc(id)}/jwks`, Type.Object({ keys: Type.Array(Type.Unknown(), { maxItems: 32 }) })),
    requestFuelAuthorization: (req, key) => call('POST', `${API_PREFIX}/fuel-authorizations`, FuelAuthorizationResponse, req, key),
    cancelSession: (id, key) => call('POST', `${API_PREFIX}/sessions/${enc(id)}/cancel`, SessionView, {}, key),
    getSession: (id) => call('GET', `${API_PREFIX}/sessions/${enc(id)}`, SessionView),
    receipt: (id) => call('GET', `${API_PREFIX}/receipts/${enc(id)}`, Receipt),
  }
}
