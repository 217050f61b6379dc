import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

/**
 * A fuelpay program running as a real child process (through tsx), with its
 * stdout JSON log lines collected so a test can wait for "ready" and read
 * the ports it chose.
 */
export interface RunningProcess {
  child: ChildProcess
  /** Every stdout line so far (JSON log lines and plain text). */
  lines: string[]
  stderr: string[]
  /** Resolves with the first JSON log line whose msg matches, or rejects after timeoutMs. */
  waitForLog(msg: string | RegExp, timeoutMs?: number): Promise<Record<string, unknown>>
  /** Resolves with the exit code, or rejects after timeoutMs. */
  exited(timeoutMs?: number): Promise<number | null>
  kill(signal?: NodeJS.Signals): Promise<void>
}

export function startProgram(script: string, args: string[], opts: { env?: Record<string, string>; stdin?: boolean } = {}): RunningProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, script), ...args], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'info', ...opts.env },
    stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  })
  const lines: string[] = []
  const stderr: string[] = []
  const waiters: { match: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = []
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line)
    let json: Record<string, unknown> | undefined
    try {
      const parsed = JSON.parse(line)
      if (parsed && typeof parsed === 'object') json = parsed as Record<string, unknown>
    } catch {
      json = undefined
    }
    if (!json) return
    for (const w of [...waiters]) {
      if (w.match(json)) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve(json)
      }
    }
  })
  createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line))
  let exitCode: Promise<number | null> | undefined
  const exitPromise = (): Promise<number | null> => {
    exitCode ??= child.exitCode !== null || child.signalCode !== null
      ? Promise.resolve(child.exitCode)
      : once(child, 'exit').then(([code]) => code as number | null)
    return exitCode
  }
  exitPromise()
  const describe = () => `${script}\n--- stdout (last 30) ---\n${lines.slice(-30).join('\n')}\n--- stderr (last 30) ---\n${stderr.slice(-30).join('\n')}`
  return {
    child,
    lines,
    stderr,
    waitForLog(msg, timeoutMs = 30_000) {
      const match = (l: Record<string, unknown>) => (typeof msg === 'string' ? l.msg === msg : typeof l.msg === 'string' && msg.test(l.msg))
      for (const line of lines) {
        try {
          const l = JSON.parse(line) as Record<string, unknown>
          if (l && match(l)) return Promise.resolve(l)
        } catch {}
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for "${msg}" from ${describe()}`)), timeoutMs)
        const w = {
          match,
          resolve: (l: Record<string, unknown>) => {
            clearTimeout(timer)
            resolve(l)
          },
        }
        waiters.push(w)
        void exitPromise().then((code) => {
          if (waiters.includes(w)) {
            clearTimeout(timer)
            waiters.splice(waiters.indexOf(w), 1)
            reject(new Error(`exited (${code}) before "${msg}": ${describe()}`))
          }
        })
      })
    },
    exited(timeoutMs = 60_000) {
      return Promise.race([
        exitPromise(),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`did not exit in ${timeoutMs} ms: ${describe()}`)), timeoutMs).unref()),
      ])
    },
    async kill(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill(signal)
      const t = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exitPromise()
      clearTimeout(t)
    },
  }
}
