import type { LiveRates } from './run-stats.ts'

/**
 * The live progress line on stderr. On a terminal it redraws one line in
 * place (a bar, rates, errors, p99); elsewhere (CI logs, pipes) it prints a
 * plain line every `plainEveryMs` so the log stays readable.
 *
 * @example const p = createProgress({ stream: process.stderr, totalS: 30, read: () => stats.live() }); p.start(); ... p.stop()
 */
export interface Progress {
  start(): void
  stop(): void
  /** Writes a message on its own line without breaking the bar. */
  note(text: string): void
}

export interface ProgressOptions {
  stream: NodeJS.WriteStream | NodeJS.WritableStream
  totalS: number
  read(): LiveRates & { active?: number; phase?: string }
  enabled?: boolean
  plainEveryMs?: number
}

const fmt = (n: number | undefined, digits = 0): string =>
  n === undefined || !Number.isFinite(n) ? '-' : n.toFixed(digits)

export function formatProgress(
  r: LiveRates & { active?: number; phase?: string },
  totalS: number,
  width = 20,
): string {
  const frac = Math.min(1, totalS > 0 ? r.elapsedS / totalS : 1)
  const filled = Math.round(frac * width)
  const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`
  return [
    `${bar} ${fmt(r.elapsedS)}/${fmt(totalS)}s${r.phase ? ` ${r.phase}` : ''}`,
    `start ${fmt(r.perS.started, 1)}/s`,
    `done ${fmt(r.perS.finished, 1)}/s`,
    `active ${fmt(r.active)}`,
    `ok ${fmt(r.totals.finished ?? 0)}`,
    `err ${r.errors}`,
    `p99 auth ${fmt(r.p99.authorize, 1)}ms`,
    `p99 capture ${fmt(r.p99.capture, 1)}ms`,
  ].join('  ')
}

export function createProgress(opts: ProgressOptions): Progress {
  const tty = 'isTTY' in opts.stream && opts.stream.isTTY === true
  const enabled = opts.enabled ?? true
  let timer: NodeJS.Timeout | undefined
  let lastLen = 0
  const draw = () => {
    const line = formatProgress(opts.read(), opts.totalS)
    if (tty) {
      const cols = (opts.stream as NodeJS.WriteStream).columns ?? 120
      const cut = line.slice(0, Math.max(20, cols - 1))
      opts.stream.write(`\r${cut}${' '.repeat(Math.max(0, lastLen - cut.length))}`)
      lastLen = cut.length
    } else {
      opts.stream.write(`${line}\n`)
    }
  }
  const clear = () => {
    if (tty && lastLen > 0) {
      opts.stream.write(`\r${' '.repeat(lastLen)}\r`)
      lastLen = 0
    }
  }
  return {
    start() {
      if (!enabled || timer) return
      timer = setInterval(draw, tty ? 250 : (opts.plainEveryMs ?? 5000))
      timer.unref()
    },
    stop() {
      if (timer) clearInterval(timer)
      timer = undefined
      if (enabled) {
        clear()
        if (tty) opts.stream.write(`${formatProgress(opts.read(), opts.totalS)}\n`)
      }
    },
    note(text) {
      clear()
      opts.stream.write(`${text}\n`)
    },
  }
}
