import { readFileSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createLogger } from '@fuelpay/platform'
import { type CloudTarget, startCloudTarget } from '../cloud-target.ts'
import { formatMachine, machineInfo, type MachineInfo } from '../machine.ts'
import { scratchDatabase } from './floors.ts'

/**
 * What every benchmark shares: its knobs from the environment (so `npm run
 * bench` stays short and a long run is one variable away), the machine
 * line, a scratch database on the real PostgreSQL, a cloud in its own
 * process on it, and one JSON result per benchmark under reports/.
 *
 * @example const env = benchEnv(); const { cloud, close } = await benchCloud(env)
 */
export interface BenchEnv {
  pgUrl: string
  durationS: number
  concurrency: number
}

export function envNumber(name: string, dflt: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return dflt
  const n = Number(raw)
  if (!Number.isFinite(n) || n <= 0)
    throw new RangeError(`${name} must be a positive number, got ${raw}`)
  return n
}

export function benchEnv(): BenchEnv {
  return {
    pgUrl:
      process.env.BENCH_DATABASE_URL ??
      process.env.FUELPAY_TEST_PG_URL ??
      'postgres://postgres@127.0.0.1:5432/postgres',
    durationS: envNumber('BENCH_DURATION', 8),
    concurrency: envNumber('BENCH_CONCURRENCY', 8),
  }
}

export const benchLog = createLogger({
  name: 'bench',
  level: process.env.LOG_LEVEL ?? 'warn',
  destination: 2,
})

export function header(title: string): MachineInfo {
  const m = machineInfo()
  process.stdout.write(`\n== ${title} ==\n${formatMachine(m)}\n`)
  return m
}

/** A cloud in its own process on a fresh PostgreSQL database; both go away on close. */
export async function benchCloud(
  env: BenchEnv,
  extraEnv: Record<string, string> = {},
): Promise<{ cloud: CloudTarget; dbUrl: string; close(): Promise<void> }> {
  const db = await scratchDatabase(env.pgUrl)
  try {
    // BENCH_CLOUD_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the cloud process.
    const nodeArgs = process.env.BENCH_CLOUD_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? []
    const cloud = await startCloudTarget({
      mode: 'spawn',
      databaseUrl: db.url,
      log: benchLog,
      logLevel: 'warn',
      env: extraEnv,
      nodeArgs,
    })
    return {
      cloud,
      dbUrl: db.url,
      async close() {
        await cloud.close()
        await db.drop()
      },
    }
  } catch (e) {
    await db.drop()
    throw e
  }
}

/** Resident memory of a process, from /proc (Linux), in bytes. */
export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const m = /VmRSS:\s+(\d+) kB/.exec(status)
  return m ? Number(m[1]) * 1024 : Number.NaN
}

export function fmt(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '-'
}

export async function saveResult(name: string, result: Record<string, unknown>): Promise<string> {
  const dir = process.env.BENCH_REPORT_DIR ?? 'reports'
  await mkdir(dir, { recursive: true })
  const path = join(dir, `bench-${name}.json`)
  await writeFile(
    path,
    `${JSON.stringify(result, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`,
  )
  process.stdout.write(`result: ${path}\n`)
  return path
}

export async function forceGc(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc
  for (let i = 0; i < 3; i++) {
    gc?.()
    await new Promise((r) => setTimeout(r, 50))
  }
}
