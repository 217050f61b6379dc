import { readFile } from 'node:fs/promises'
import websocket from '@fastify/websocket'
import type { DatabaseHandle } from '@fuelpay/platform'
import { CONSOLE_LIMITS, CONSOLE_WS_PATH } from '@fuelpay/proto'
import type { FastifyPluginAsync } from 'fastify'
import type { Tables } from '../db/database.ts'
import type { CloudDeps } from '../deps.ts'
import { type AlertThresholds, DEFAULT_ALERT_THRESHOLDS } from './console.alerts.ts'
import { handleConsoleSocket } from './console.connection.ts'
import { type ConsoleHub, createConsoleHub } from './console.hub.ts'
import { DEFAULT_OUTBOUND_LIMITS, type OutboundLimits } from './console.outbound.ts'

/**
 * The operators' live console (issue 6) as one fastify plugin:
 *
 * - `GET /v1/console/ws`: the console protocol (proto console.ts);
 * - `GET /console`: the page (plain HTML/CSS/JS from ./public, no build);
 * - `GET /v1/console/stats` (admin): connected clients and drops.
 *
 * Nothing runs until the first console connects: the hub (outbox reader,
 * alert sweep) starts lazily, so apps built for HTTP tests pay nothing.
 *
 * @example await app.register(consolePlugin({ deps }))
 */
export interface ConsolePluginOptions {
  deps: CloudDeps
  /** The database handle, for LISTEN (PGlite notifications need the instance). Derived from deps when absent. */
  handle?: Pick<DatabaseHandle<Tables>, 'db' | 'kind' | 'pglite' | 'url'>
  limits?: Partial<OutboundLimits>
  thresholds?: Partial<AlertThresholds>
  /** How long a command waits for the station's answer (default 5 s). */
  commandTimeoutMs?: number
  /** How often an open console checks that its API key has not been replaced (default 30 s). */
  keyRecheckMs?: number
  pollMs?: number
  alertSweepMs?: number
  /** Hands out the hub (tests, the demo). */
  onHub?: (hub: ConsoleHub) => void
}

const PUBLIC = new URL('./public/', import.meta.url)
const ASSETS: Record<string, { file: string; type: string }> = {
  '/console': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/console/console.js': { file: 'console.js', type: 'text/javascript; charset=utf-8' },
  '/console/console.css': { file: 'console.css', type: 'text/css; charset=utf-8' },
}
// The page loads only its own files and talks only to its own origin; no framing (the e-stop button must not be clickjacked).
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ws: wss:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

export function consolePlugin(opts: ConsolePluginOptions): FastifyPluginAsync {
  return async (app) => {
    const { deps } = opts
    const handle = opts.handle ?? {
      db: deps.db,
      kind: deps.config.databaseUrl ? ('postgres' as const) : ('pglite' as const),
      url: deps.config.databaseUrl,
    }
    const hub = createConsoleHub({
      handle,
      log: deps.log,
      nowMs: deps.nowMs,
      pollMs: opts.pollMs,
      alertSweepMs: opts.alertSweepMs,
      thresholds: { ...DEFAULT_ALERT_THRESHOLDS, ...opts.thresholds },
    })
    opts.onHub?.(hub)
    const limits = { ...DEFAULT_OUTBOUND_LIMITS, ...opts.limits }
    const dropped = { 'queue-full': 0, stalled: 0 }
    app.addHook('onClose', async () => {
      await hub.close()
    })

    if (!app.hasDecorator('websocketServer')) {
      await app.register(websocket, { options: { maxPayload: CONSOLE_LIMITS.hardMaxClientFrameBytes } })
    }
    app.get(CONSOLE_WS_PATH, { websocket: true, schema: { hide: true } }, (socket, req) => {
      handleConsoleSocket(socket, req.ip, {
        deps,
        hub,
        limits,
        commandTimeoutMs: opts.commandTimeoutMs ?? 5000,
        ...(opts.keyRecheckMs !== undefined ? { keyRecheckMs: opts.keyRecheckMs } : {}),
        onDropped: (why) => {
          dropped[why as keyof typeof dropped]++
        },
      })
    })

    app.get('/v1/console/stats', { config: { roles: ['admin'] }, schema: { hide: true } }, async () => ({ ...hub.stats(), dropped }))

    const files = new Map<string, Buffer>()
    for (const [path, asset] of Object.entries(ASSETS)) {
      files.set(path, await readFile(new URL(asset.file, PUBLIC)))
      app.get(path, { schema: { hide: true } }, async (_req, reply) => {
        reply
          .header('content-type', asset.type)
          .header('cache-control', 'no-cache')
          .header('content-security-policy', CSP)
          .header('x-content-type-options', 'nosniff')
          .header('x-frame-options', 'DENY')
          .header('referrer-policy', 'no-referrer')
        return files.get(path)
      })
    }
  }
}
