/**
 * A console client's outbound queue: bounded, coalescing, never blocking the
 * service (issue 6: "slow clients do not slow the service").
 *
 * - Frames with a key (a pump's live numbers, a station's status, an alert)
 *   replace the queued frame with the same key and move to the back: a slow
 *   client skips stale ticks but never sees an older state after a newer one.
 * - Frames are written only while the socket's own buffer is below
 *   `highWaterBytes`; above it the queue waits and retries.
 * - A client whose socket stays above the mark for `stallMs`, or whose queue
 *   of distinct frames passes `maxQueued`, is reported through `onTooSlow`
 *   (the connection closes it with CONSOLE_CLOSE_CODES.TOO_SLOW).
 *
 * @example
 *   const out = createOutbound({ socket: ws, limits, onTooSlow: () => ws.close(4008) })
 *   out.push(JSON.stringify(frame), `pump:${stationId}/${pump}`)
 */
export interface OutboundLimits {
  highWaterBytes: number
  maxQueued: number
  stallMs: number
  /** How often a blocked queue looks again. */
  retryMs: number
}

export const DEFAULT_OUTBOUND_LIMITS: OutboundLimits = {
  highWaterBytes: 512 * 1024,
  maxQueued: 5000,
  stallMs: 15_000,
  retryMs: 50,
}

export interface OutboundSocket {
  readonly bufferedAmount: number
  send(data: string): void
}

export interface Outbound {
  push(frame: string, key?: string): void
  /** Frames waiting (distinct keys). */
  size(): number
  close(): void
}

export function createOutbound(opts: {
  socket: OutboundSocket
  limits: OutboundLimits
  onTooSlow: (why: 'queue-full' | 'stalled') => void
  nowMs?: () => number
}): Outbound {
  const { socket, limits } = opts
  const now = opts.nowMs ?? Date.now
  const queue = new Map<string, string>()
  let seq = 0
  let blockedSince: number | undefined
  let scheduled: NodeJS.Immediate | NodeJS.Timeout | undefined
  let closed = false

  const tooSlow = (why: 'queue-full' | 'stalled') => {
    if (closed) return
    closed = true
    queue.clear()
    opts.onTooSlow(why)
  }

  function flush() {
    scheduled = undefined
    if (closed) return
    for (const [key, frame] of queue) {
      if (socket.bufferedAmount > limits.highWaterBytes) {
        blockedSince ??= now()
        if (now() - blockedSince >= limits.stallMs) return tooSlow('stalled')
        scheduled = setTimeout(flush, limits.retryMs)
        return
      }
      queue.delete(key)
      socket.send(frame)
    }
    if (socket.bufferedAmount > limits.highWaterBytes) {
      // Everything is written but the peer is not reading: keep watching so a silent stall is noticed.
      blockedSince ??= now()
      if (now() - blockedSince >= limits.stallMs) return tooSlow('stalled')
      scheduled = setTimeout(flush, limits.retryMs)
      return
    }
    blockedSince = undefined
  }

  return {
    push(frame, key) {
      if (closed) return
      const k = key ?? `#${seq++}`
      queue.delete(k)
      queue.set(k, frame)
      if (queue.size > limits.maxQueued) return tooSlow('queue-full')
      scheduled ??= setImmediate(flush)
    },
    size: () => queue.size,
    close() {
      closed = true
      queue.clear()
      if (scheduled) {
        clearTimeout(scheduled as NodeJS.Timeout)
        clearImmediate(scheduled as NodeJS.Immediate)
      }
      scheduled = undefined
    },
  }
}
