import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { type DatabaseHandle, openDatabase } from '@fuelpay/platform'
import type { Logger } from 'pino'
import type { CloudSessionFact, LedgerFact } from './invariants.ts'

/**
 * The cloud a run talks to: started in this process (the default), started
 * as a child process (`tsx cloud/src/server.ts`, so its sockets do not count
 * against this process's open-file limit), or one already running.
 * `sql` reads the cloud's database for the end-of-run checks when the
 * simulator can reach it (PostgreSQL URL, or the in-process PGlite).
 *
 * @example const cloud = await startCloudTarget({ mode: 'spawn', databaseUrl, log }); ...; await cloud.close()
 */
export interface CloudTarget {
  httpUrl: string
  mqttUrl: string
  adminToken: string
  mode: 'in-process' | 'spawn' | 'external'
  /** Child process id when spawned (its memory can be read from /proc). */
  pid?: number
  sql?: SqlQuery
  /** The cloud's own ledger verification, when reachable. */
  verifyLedger?: () => Promise<{ ok: boolean; [k: string]: unknown }>
  close(): Promise<void>
}

export type SqlQuery = (text: string, params?: unknown[]) => Promise<Record<string, unknown>[]>

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

export interface CloudTargetOptions {
  mode: 'in-process' | 'spawn' | 'external'
  databaseUrl?: string | undefined
  httpUrl?: string | undefined
  mqttUrl?: string | undefined
  adminToken?: string | undefined
  log: Logger
  logLevel?: string
  /** PGlite data directory for an in-process or spawned cloud without PostgreSQL (a temp dir when absent). */
  dataDir?: string | undefined
  /** Extra node flags for a spawned cloud (e.g. --cpu-prof). */
  nodeArgs?: string[]
  /** Extra environment for the cloud (e.g. FUELPAY_HOLD_TTL_MS). */
  env?: Record<string, string>
}

function sqlFromHandle(h: DatabaseHandle<unknown>): SqlQuery | undefined {
  if (h.pool) {
    const pool = h.pool
    return async (text, params) =>
      (await pool.query(text, params as unknown[])).rows as Record<string, unknown>[]
  }
  if (h.pglite) {
    const pg = h.pglite
    return async (text, params) =>
      (await pg.query(text, params as unknown[])).rows as Record<string, unknown>[]
  }
  return undefined
}

type CloudModule = {
  startCloud?: (config: unknown, opts?: { log?: Logger }) => Promise<Record<string, unknown>>
  loadConfig?: (env: Record<string, string | undefined>) => unknown
  verifyLedger?: (db: unknown) => Promise<{ ok: boolean; [k: string]: unknown }>
}

async function loadCloudModule(): Promise<CloudModule> {
  // A variable specifier: the simulator typechecks while the cloud's index is still being written.
  const name = '@fuelpay/cloud'
  return (await import(name)) as CloudModule
}

export async function startCloudTarget(opts: CloudTargetOptions): Promise<CloudTarget> {
  if (opts.mode === 'external') {
    if (!opts.httpUrl || !opts.mqttUrl || !opts.adminToken)
      throw new Error('external cloud needs httpUrl, mqttUrl and adminToken')
    let db: DatabaseHandle<unknown> | undefined
    if (opts.databaseUrl) db = await openDatabase<unknown>({ url: opts.databaseUrl, poolSize: 2 })
    return withLedger(
      {
        httpUrl: opts.httpUrl,
        mqttUrl: opts.mqttUrl,
        adminToken: opts.adminToken,
        mode: 'external',
        ...(db ? { sql: sqlFromHandle(db) } : {}),
        close: async () => db?.close(),
      },
      db,
    )
  }
  const adminToken = opts.adminToken ?? `adm_${randomBytes(24).toString('base64url')}`
  if (opts.mode === 'spawn') return spawnCloud({ ...opts, adminToken })
  const mod = await loadCloudModule()
  if (typeof mod.startCloud !== 'function')
    throw new Error(
      '@fuelpay/cloud does not export startCloud (yet); use --spawn-cloud or --cloud-url',
    )
  const dir =
    opts.databaseUrl || opts.dataDir
      ? undefined
      : await mkdtemp(join(tmpdir(), 'fuelpay-sim-cloud-'))
  const env: Record<string, string | undefined> = {
    ...(opts.databaseUrl
      ? { DATABASE_URL: opts.databaseUrl }
      : { FUELPAY_DATA_DIR: opts.dataDir ?? dir }),
    FUELPAY_HTTP_HOST: '127.0.0.1',
    FUELPAY_HTTP_PORT: '0',
    FUELPAY_MQTT_PORT: '0',
    FUELPAY_ADMIN_TOKEN: adminToken,
    LOG_LEVEL: opts.logLevel ?? 'warn',
    ...opts.env,
  }
  const config = mod.loadConfig ? mod.loadConfig(env) : env
  const cloud = await mod.startCloud(config, { log: opts.log.child({ component: 'cloud' }) })
  const handle = (cloud.database ?? cloud.db) as DatabaseHandle<unknown> | undefined
  const target: CloudTarget = {
    httpUrl: String(cloud.httpUrl),
    mqttUrl: String(cloud.mqttUrl),
    adminToken: typeof cloud.adminToken === 'string' ? cloud.adminToken : adminToken,
    mode: 'in-process',
    async close() {
      await (cloud.close as () => Promise<void>)()
      if (dir) await rm(dir, { recursive: true, force: true })
    },
  }
  // Prefer the cloud's own handle; else read PostgreSQL directly.
  let own: DatabaseHandle<unknown> | undefined
  if (handle && (handle.pool || handle.pglite)) target.sql = sqlFromHandle(handle)
  else if (opts.databaseUrl) {
    own = await openDatabase<unknown>({ url: opts.databaseUrl, poolSize: 2 })
    target.sql = sqlFromHandle(own)
    const close = target.close
    target.close = async () => {
      await own?.close()
      await close()
    }
  }
  if (mod.verifyLedger && (handle?.db || own?.db)) {
    const db = handle?.db ?? own?.db
    const verify = mod.verifyLedger
    target.verifyLedger = () => verify(db)
  }
  return target
}

async function withLedger(
  t: CloudTarget,
  db: DatabaseHandle<unknown> | undefined,
): Promise<CloudTarget> {
  if (!db) return t
  try {
    const mod = await loadCloudModule()
    const verify = mod.verifyLedger
    if (verify) t.verifyLedger = () => verify(db.db)
  } catch {
    // The SQL fallback in ledgerFact still checks balance.
  }
  return t
}

async function spawnCloud(opts: CloudTargetOptions & { adminToken: string }): Promise<CloudTarget> {
  const dir = opts.databaseUrl ? undefined : await mkdtemp(join(tmpdir(), 'fuelpay-sim-cloud-'))
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      // After tsx, so an `--import` of a TypeScript file (bench/statement-stats.ts) loads.
      ...(opts.nodeArgs ?? []),
      join(REPO_ROOT, 'simulators/src/cloud-process.ts'),
    ],
    {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        ...(opts.databaseUrl ? { DATABASE_URL: opts.databaseUrl } : { FUELPAY_DATA_DIR: dir }),
        FUELPAY_HTTP_HOST: '127.0.0.1',
        FUELPAY_HTTP_PORT: '0',
        FUELPAY_MQTT_PORT: '0',
        FUELPAY_ADMIN_TOKEN: opts.adminToken,
        LOG_LEVEL: opts.logLevel ?? 'warn',
        ...opts.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  const tail: string[] = []
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`cloud not ready in 90 s:\n${tail.join('\n')}`)),
      90_000,
    )
    const onLine = (line: string) => {
      tail.push(line)
      if (tail.length > 40) tail.shift()
      try {
        const j = JSON.parse(line) as Record<string, unknown>
        if (j.msg === 'fuelpay cloud ready') {
          clearTimeout(timer)
          resolve(j)
        } else if (typeof j.level === 'number' && j.level >= 50)
          opts.log.warn({ cloud: j }, 'cloud logged an error')
      } catch {
        // Not JSON: keep it for the error message.
      }
    }
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', onLine)
    createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (l) => {
      tail.push(l)
      if (tail.length > 40) tail.shift()
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`cloud exited with ${code}:\n${tail.join('\n')}`))
    })
  })
  let db: DatabaseHandle<unknown> | undefined
  if (opts.databaseUrl) db = await openDatabase<unknown>({ url: opts.databaseUrl, poolSize: 2 })
  const t: CloudTarget = {
    httpUrl: String(ready.httpUrl),
    mqttUrl: String(ready.mqttUrl),
    adminToken: opts.adminToken,
    mode: 'spawn',
    ...(child.pid !== undefined ? { pid: child.pid } : {}),
    ...(db ? { sql: sqlFromHandle(db) } : {}),
    async close() {
      await db?.close()
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        const gone = await Promise.race([
          new Promise((r) => child.once('exit', () => r(true))),
          new Promise((r) => setTimeout(() => r(false), 10_000)),
        ])
        if (!gone) child.kill('SIGKILL')
      }
      if (dir) await rm(dir, { recursive: true, force: true })
    },
  }
  return withLedger(t, db)
}

/**
 * The cloud's sessions at the given stations, with capture counts from the
 * ledger. A late capture (a sale after the hold was voided) is a capture: a
 * session with one of each has been charged twice.
 */
export async function cloudSessionFacts(
  sql: SqlQuery,
  stationIds: string[],
): Promise<CloudSessionFact[]> {
  const rows = await sql(
    `SELECT s.id, s.state, s.station_id, s.pump, s.hold_amount_minor, s.captured_minor, (s.sale->>'volumeMilli') AS volume_milli,
       (SELECT count(*) FROM journal_entries e WHERE e.session_id = s.id AND e.kind IN ('capture', 'late_capture'))::int AS captures
     FROM sessions s WHERE s.station_id = ANY($1)`,
    [stationIds],
  )
  return rows.map((r) => ({
    sessionId: String(r.id),
    state: String(r.state),
    holdAmountMinor: Number(r.hold_amount_minor),
    capturedMinor: Number(r.captured_minor),
    captures: Number(r.captures),
    stationId: String(r.station_id),
    pump: Number(r.pump),
    ...(r.volume_milli !== null && r.volume_milli !== undefined && r.state === 'captured'
      ? { volumeMilli: Number(r.volume_milli) }
      : {}),
  }))
}

/** The ledger check: the cloud's own verifyLedger when reachable, else the balance of every entry in SQL. */
export async function ledgerFact(target: CloudTarget): Promise<LedgerFact> {
  if (target.verifyLedger) {
    const r = await target.verifyLedger()
    const { ok, ...rest } = r
    return { balanced: ok, detail: `cloud verifyLedger: ${JSON.stringify(rest).slice(0, 300)}` }
  }
  if (target.sql) {
    const rows = await target.sql(
      `SELECT count(*)::int AS n FROM (SELECT e.id FROM journal_entries e LEFT JOIN postings p ON p.entry_id = e.id
       GROUP BY e.id HAVING COALESCE(SUM(p.amount_minor), 0) <> 0 OR count(p.id) = 0) x`,
    )
    const n = Number(rows[0]?.n ?? -1)
    return {
      balanced: n === 0,
      detail: `SQL check (cloud verifyLedger not reachable): ${n} unbalanced entries`,
    }
  }
  return { balanced: false, detail: 'no way to read the cloud ledger (give --database-url)' }
}
