import pino, { type Logger } from 'pino'

export type { Logger }

/**
 * The one logger factory: JSON lines on stdout (or fd 2 for programs whose
 * stdout is for people). Secrets and tokens are redacted by path.
 *
 * @example const log = createLogger({ name: 'cloud', level: 'info' })
 */
export function createLogger(opts: { name: string; level?: string; destination?: 1 | 2 }): Logger {
  return pino(
    {
      name: opts.name,
      level: opts.level ?? process.env.LOG_LEVEL ?? 'info',
      redact: {
        paths: [
          'token',
          'password',
          'apiKey',
          'saleJws',
          'req.headers.authorization',
          '*.token',
          '*.password',
          '*.apiKey',
          '*.saleJws',
          '*.authorization',
          '*.privateKey',
          '*.processorToken',
        ],
        censor: '[redacted]',
      },
    },
    pino.destination({ dest: opts.destination ?? 1, sync: false }),
  )
}

/** A logger that writes nothing, for tests and library defaults. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' })
}

/**
 * For errors that repeat on every reconnect attempt: true at most once per
 * `ms`, so the log says it once in a while instead of every time.
 *
 * @example const due = onceEvery(30_000); client.on('error', (err) => due() && log.error({ err }, 'unreachable'))
 */
export function onceEvery(ms: number, now: () => number = Date.now): () => boolean {
  let last = Number.NEGATIVE_INFINITY
  return () => {
    const t = now()
    if (t - last < ms) return false
    last = t
    return true
  }
}
