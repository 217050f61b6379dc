import {
  IDEMPOTENCY_HEADER,
  type MqttCredentialResponse,
  newNonce,
  type SigningKey,
  signClientAssertion,
} from '@fuelpay/proto'

/**
 * The controller's HTTP calls to the cloud. Every call authenticates with a
 * fresh client assertion signed by the station's own key; every POST carries
 * an Idempotency-Key.
 *
 * @example
 *   const cloud = createCloudClient({ baseUrl, stationId: 'st1', key })
 *   const creds = await cloud.mqttCredentials()
 */
export interface CloudClient {
  mqttCredentials(): Promise<MqttCredentialResponse>
  /** The cloud's public keys (pump authorizations). */
  jwks(): Promise<unknown>
  /** POST /v1/sales; resolves with the HTTP status and JSON body, rejects on network errors. */
  postSale(saleJws: string, idempotencyKey: string): Promise<{ status: number; body: unknown }>
}

export interface CloudClientOptions {
  baseUrl: string
  stationId: string
  key: SigningKey
  timeoutMs?: number
  clock?: { now(): number }
  fetch?: typeof fetch
}

export class CloudHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`cloud answered ${status}: ${JSON.stringify(body).slice(0, 200)}`)
  }
}

export function createCloudClient(opts: CloudClientOptions): CloudClient {
  const base = opts.baseUrl.replace(/\/+$/, '')
  const timeoutMs = opts.timeoutMs ?? 10_000
  const doFetch = opts.fetch ?? fetch
  const now = () => opts.clock?.now() ?? Date.now()

  async function call(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    idempotencyKey?: string,
  ) {
    const headers: Record<string, string> = { accept: 'application/json' }
    if (method === 'POST' || path.startsWith('/v1/')) {
      headers.authorization = `Bearer ${await signClientAssertion({ role: 'station', id: opts.stationId }, opts.key, now())}`
    }
    if (method === 'POST') {
      headers['content-type'] = 'application/json'
      headers[IDEMPOTENCY_HEADER] = idempotencyKey ?? newNonce()
    }
    const res = await doFetch(`${base}${path}`, {
      method,
      headers,
      ...(method === 'POST' ? { body: JSON.stringify(body ?? {}) } : {}),
      signal: AbortSignal.timeout(timeoutMs),
    })
    const text = await res.text()
    let parsed: unknown
    try {
      parsed = text ? JSON.parse(text) : undefined
    } catch {
      parsed = { raw: text.slice(0, 200) }
    }
    return { status: res.status, body: parsed }
  }

  return {
    async mqttCredentials() {
      const r = await call('POST', '/v1/mqtt-credentials', {})
      if (r.status !== 200 && r.status !== 201) throw new CloudHttpError(r.status, r.body)
      // Checked by hand: proto's validate() has no 'date-time' format registered (see report).
      const b = r.body as Partial<MqttCredentialResponse> | undefined
      const str = (v: unknown, max: number) =>
        typeof v === 'string' && v.length > 0 && v.length <= max
      if (
        !b ||
        !str(b.clientId, 80) ||
        !str(b.username, 80) ||
        !str(b.password, 4096) ||
        !str(b.brokerUrl, 256) ||
        !str(b.expiresAt, 64)
      )
        throw new Error('bad mqtt credential response')
      return {
        clientId: b.clientId,
        username: b.username,
        password: b.password,
        brokerUrl: b.brokerUrl,
        expiresAt: b.expiresAt,
      } as MqttCredentialResponse
    },
    async jwks() {
      const r = await call('GET', '/.well-known/jwks.json')
      if (r.status !== 200) throw new CloudHttpError(r.status, r.body)
      // A 200 that is not JSON with a `keys` array (a captive portal, a proxy's page) is no answer.
      const b = r.body as { keys?: unknown } | undefined
      if (typeof b !== 'object' || b === null || !Array.isArray(b.keys))
        throw new Error(
          `jwks: the answer is not a key set: ${JSON.stringify(r.body ?? null).slice(0, 100)}`,
        )
      return r.body
    },
    postSale(saleJws, idempotencyKey) {
      return call('POST', '/v1/sales', { saleJws }, idempotencyKey)
    },
  }
}
