import {
  CONSOLE_CLOSE_CODES,
  CONSOLE_COMMAND_TYPES,
  CONSOLE_LIMITS,
  CONSOLE_PROTOCOL_VERSION,
  type ConsoleCommand,
  type ConsoleServerMessage,
  decodeConsoleClientMessage,
  FuelpayError,
  reason,
} from '@fuelpay/proto'
import type { WebSocket } from 'ws'
import { authenticate, hashApiKey } from '../auth/auth.service.ts'
import { type CommandServices, runCommand, sessionDetail } from './console.commands.ts'
import { createOutbound, type Outbound, type OutboundLimits } from './console.outbound.ts'
import { findOperator, operatorKeyCurrent } from './console.repository.ts'

/**
 * One console websocket, from hello to close: authenticates the first frame,
 * sends the snapshot, then relays the hub's deltas through a bounded
 * coalescing queue and answers the client's frames. Bad input is answered
 * with an `error` frame and changes nothing; only the handshake's failures,
 * and an API key that has since been replaced, close the socket.
 */
export interface ConnectionServices extends CommandServices {
  limits: OutboundLimits
  onDropped?: (why: string) => void
  /** How often an open console checks that its API key is still the operator's (default 30 s). */
  keyRecheckMs?: number
}

const MAX_COMMANDS_IN_FLIGHT = 4
const HEARTBEAT_MS = 30_000

export function handleConsoleSocket(socket: WebSocket, remoteAddress: string | undefined, svc: ConnectionServices): void {
  const { deps, hub } = svc
  const log = deps.log.child({ component: 'console', remoteAddress })
  let state: 'hello' | 'authenticating' | 'ready' | 'closed' = 'hello'
  let operatorId = ''
  // Only the hash is kept: the key itself is not needed after the hello.
  let keyHash = ''
  let out: Outbound | undefined
  let detach: (() => void) | undefined
  let inFlight = 0
  let tokens: number = CONSOLE_LIMITS.clientFrameBurst
  let lastRefill = Date.now()
  let alive = true

  const direct = (frame: ConsoleServerMessage) => {
    if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(frame))
  }
  // Answers go through the queue once it exists, so they keep their order with deltas.
  const reply = (frame: ConsoleServerMessage) => (out ? out.push(JSON.stringify(frame)) : direct(frame))
  const close = (code: number, why: string) => {
    if (state === 'closed') return
    state = 'closed'
    cleanup()
    socket.close(code, why)
    // A peer that does not read never completes the close handshake.
    setTimeout(() => socket.terminate(), 1000).unref()
  }
  const cleanup = () => {
    clearTimeout(authTimer)
    clearInterval(heartbeat)
    clearInterval(keyRecheck)
    detach?.()
    detach = undefined
    out?.close()
  }

  const authTimer = setTimeout(() => {
    if (state === 'hello') {
      direct({ type: 'error', reason: reason('UNAUTHENTICATED', 'no hello in time') })
      close(CONSOLE_CLOSE_CODES.UNAUTHENTICATED, 'no hello in time')
    } else if (state === 'authenticating') {
      // The hello came; the database did not answer in time. That says nothing against the key:
      // 4001 would make the page forget it and sign the operator out. 1013 Try Again Later: it reconnects.
      direct({ type: 'error', reason: reason('UNAVAILABLE', 'could not check the API key in time; try again') })
      close(CONSOLE_CLOSE_CODES.TRY_AGAIN_LATER, 'authentication timed out')
    }
  }, CONSOLE_LIMITS.authTimeoutMs)
  authTimer.unref()

  const heartbeat = setInterval(() => {
    if (!alive) return void socket.terminate()
    alive = false
    socket.ping()
  }, HEARTBEAT_MS)
  heartbeat.unref()
  socket.on('pong', () => {
    alive = true
  })

  /**
   * Re-provisioning an operator replaces its API key: a console opened with
   * the old key must lose the feed and its commands then, not when it next
   * reconnects. A failed read is not a revocation (the database may be down).
   */
  async function keyStillValid(): Promise<boolean> {
    if (await operatorKeyCurrent(deps.db, operatorId, keyHash)) return true
    if (state === 'closed') return false
    log.info({ operatorId }, 'console API key replaced; disconnecting')
    direct({ type: 'error', reason: reason('UNAUTHENTICATED', 'the API key was replaced; sign in again') })
    close(CONSOLE_CLOSE_CODES.UNAUTHENTICATED, 'API key replaced')
    return false
  }
  const keyRecheck = setInterval(() => {
    if (state !== 'ready') return
    keyStillValid().catch((err) => log.warn({ err }, 'console could not recheck its API key'))
  }, svc.keyRecheckMs ?? 30_000)
  keyRecheck.unref()

  function allowFrame(): boolean {
    const now = Date.now()
    tokens = Math.min(CONSOLE_LIMITS.clientFrameBurst, tokens + ((now - lastRefill) * CONSOLE_LIMITS.clientFramesPerS) / 1000)
    lastRefill = now
    if (tokens < 1) return false
    tokens -= 1
    return true
  }

  async function onHello(apiKey: string) {
    state = 'authenticating'
    try {
      const caller = await authenticate({ db: deps.db, adminToken: deps.config.adminToken, nowMs: deps.nowMs }, `Bearer ${apiKey}`)
      if (caller.role !== 'operator') {
        direct({ type: 'error', reason: reason('FORBIDDEN', 'the console is for operators') })
        return close(CONSOLE_CLOSE_CODES.FORBIDDEN, 'not an operator')
      }
      const op = await findOperator(deps.db, caller.id)
      if (state !== 'authenticating' || !op) return
      operatorId = op.id
      keyHash = hashApiKey(apiKey)
      clearTimeout(authTimer)
      const outbound = createOutbound({
        socket,
        limits: svc.limits,
        onTooSlow: (why) => {
          log.warn({ operatorId, why }, 'console client too slow; disconnecting')
          svc.onDropped?.(why)
          close(CONSOLE_CLOSE_CODES.TOO_SLOW, `too slow (${why})`)
        },
      })
      // Deltas that arrive while the snapshot is read wait here, then follow it.
      let early: [string, string | undefined][] | null = []
      detach = await hub.attach({
        operatorId,
        send: (frame, key) => {
          if (early) {
            if (early.length < svc.limits.maxQueued) early.push([frame, key])
            return
          }
          outbound.push(frame, key)
        },
        lost: (why) => {
          direct({ type: 'error', reason: reason('UNAVAILABLE', why) })
          // 1013 Try Again Later (RFC 6455 7.4.2 registry): the page shows itself stale and reconnects.
          close(CONSOLE_CLOSE_CODES.TRY_AGAIN_LATER, 'live updates interrupted')
        },
      })
      if (state !== 'authenticating') return cleanup()
      direct({ type: 'welcome', v: CONSOLE_PROTOCOL_VERSION, operatorId, operatorName: op.name.slice(0, 128), serverTime: new Date(deps.nowMs()).toISOString() })
      const snapshot = await hub.snapshot(operatorId)
      if (state !== 'authenticating') return cleanup()
      out = outbound
      outbound.push(JSON.stringify(snapshot))
      for (const [frame, key] of early) outbound.push(frame, key)
      early = null
      state = 'ready'
      log.info({ operatorId }, 'console connected')
    } catch (err) {
      if ((state as string) === 'closed') return
      if (err instanceof FuelpayError) {
        direct({ type: 'error', reason: err.toReason() })
        return close(CONSOLE_CLOSE_CODES.UNAUTHENTICATED, 'unauthenticated')
      }
      log.error({ err }, 'console hello failed')
      direct({ type: 'error', reason: reason('INTERNAL') })
      close(1011, 'internal error')
    }
  }

  async function onCommand(cmd: ConsoleCommand) {
    if (inFlight >= MAX_COMMANDS_IN_FLIGHT) return reply({ type: 'error', id: cmd.id, reason: reason('RATE_LIMITED', 'too many commands in flight') })
    inFlight++
    try {
      if (!(await keyStillValid())) return
      const answer = await runCommand(svc, { operatorId, remoteAddress }, cmd)
      if (state !== 'ready') return
      reply({ type: 'result', id: cmd.id, ok: answer.ok, ...(answer.reason ? { reason: answer.reason } : {}), ...(answer.auditId ? { auditId: answer.auditId } : {}) })
    } catch (err) {
      log.error({ err }, 'console command crashed')
      reply({ type: 'result', id: cmd.id, ok: false, reason: reason('INTERNAL') })
    } finally {
      inFlight--
    }
  }

  socket.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
    if (state === 'closed') return
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer)
    if (!allowFrame()) return reply({ type: 'error', reason: reason('RATE_LIMITED') })
    const d = isBinary ? ({ ok: false, reason: reason('BAD_JSON', 'binary frames are not accepted') } as const) : decodeConsoleClientMessage(bytes)
    const id = 'id' in d ? d.id : undefined
    if (state === 'hello') {
      if (!d.ok) {
        direct({ type: 'error', reason: d.reason })
        return close(CONSOLE_CLOSE_CODES.PROTOCOL, 'expected hello')
      }
      if (d.value.type !== 'hello') {
        direct({ type: 'error', reason: reason('UNAUTHENTICATED', 'the first frame must be a hello') })
        return close(CONSOLE_CLOSE_CODES.PROTOCOL, 'expected hello')
      }
      return void onHello(d.value.apiKey)
    }
    if (state === 'authenticating') return direct({ type: 'error', ...(id ? { id } : {}), reason: reason('UNAVAILABLE', 'wait for the snapshot') })
    if (!d.ok) return reply({ type: 'error', ...(id ? { id } : {}), reason: d.reason })
    const msg = d.value
    switch (msg.type) {
      case 'hello':
        return reply({ type: 'error', reason: reason('SCHEMA_INVALID', 'already authenticated') })
      case 'ping':
        return reply({ type: 'pong', id: msg.id, serverTime: new Date(deps.nowMs()).toISOString() })
      case 'session-detail':
        return void keyStillValid()
          .then((valid) => (valid ? sessionDetail(svc, { operatorId }, msg.id, msg.sessionId) : undefined))
          .then(
          (frame) => frame && state === 'ready' && reply(frame),
          (err) => {
            log.error({ err }, 'session detail failed')
            reply({ type: 'error', id: msg.id, reason: reason('INTERNAL') })
          },
        )
      default:
        if ((CONSOLE_COMMAND_TYPES as readonly string[]).includes(msg.type)) return void onCommand(msg as ConsoleCommand)
    }
  })

  socket.on('close', () => {
    if (state !== 'closed') {
      state = 'closed'
      cleanup()
    }
  })
  socket.on('error', (err) => log.debug({ err: err.message }, 'console socket error'))
}
