import { randomBytes } from 'node:crypto'
import { createConnection } from 'node:net'
import { cp, mkdtemp, rename, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import pg from 'pg'

/**
 * A throw-away database for one test file: a fresh database on the real
 * PostgreSQL server when one answers, else a PGlite data directory copied
 * from a pre-initialised template (a fresh PGlite takes 4-8 s to create; a
 * copy opens in under a second).
 *
 * FUELPAY_TEST_DB=postgres|pglite forces one; unset means postgres when
 * reachable (FUELPAY_TEST_PG_URL, default postgres://postgres@127.0.0.1:5432/postgres).
 *
 * @example
 *   const tdb = await createTestDatabase()
 *   t.teardown(tdb.cleanup)
 *   const { db } = await openDatabase({ url: tdb.url, dataDir: tdb.dataDir })
 */
export interface TestDatabase {
  kind: 'postgres' | 'pglite'
  /** postgres:// URL of the fresh database (kind postgres). */
  url?: string
  /** PGlite data directory (kind pglite). */
  dataDir?: string
  cleanup(): Promise<void>
}

export const DEFAULT_TEST_PG_URL = 'postgres://postgres@127.0.0.1:5432/postgres'

export function testPgUrl(): string {
  return process.env.FUELPAY_TEST_PG_URL ?? DEFAULT_TEST_PG_URL
}

/** The Redis the broker tests use (FUELPAY_TEST_REDIS_URL, default redis://127.0.0.1:6379/0). */
export const TEST_REDIS_URL = process.env.FUELPAY_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0'

/**
 * Whether a Redis answers PING at `url` within 1.5 s (tests that need one
 * skip, saying why, when none does).
 *
 * @example const skip = (await redisReachable()) ? false : `no Redis at ${TEST_REDIS_URL}`
 */
export function redisReachable(url = TEST_REDIS_URL): Promise<boolean> {
  const u = new URL(url)
  return new Promise((resolve) => {
    const s = createConnection({ host: u.hostname || '127.0.0.1', port: Number(u.port || 6379) })
    const done = (ok: boolean) => {
      s.destroy()
      resolve(ok)
    }
    s.setTimeout(1500, () => done(false))
    s.once('error', () => done(false))
    s.once('connect', () => s.write('PING\r\n'))
    s.once('data', (d) => done(d.toString().startsWith('+PONG')))
  })
}

let reachable: Promise<boolean> | undefined
export function postgresReachable(): Promise<boolean> {
  reachable ??= (async () => {
    const client = new pg.Client({ connectionString: testPgUrl(), connectionTimeoutMillis: 1500 })
    try {
      await client.connect()
      await client.query('select 1')
      return true
    } catch {
      return false
    } finally {
      await client.end().catch(() => {})
    }
  })()
  return reachable
}

export async function testDatabaseKind(): Promise<'postgres' | 'pglite'> {
  const forced = process.env.FUELPAY_TEST_DB
  if (forced === 'postgres' || forced === 'pglite') return forced
  return (await postgresReachable()) ? 'postgres' : 'pglite'
}

export async function createTestDatabase(): Promise<TestDatabase> {
  return (await testDatabaseKind()) === 'postgres' ? createPostgresDatabase() : createPgliteDatabase()
}

async function createPostgresDatabase(): Promise<TestDatabase> {
  const admin = testPgUrl()
  const name = `fp_t_${process.pid}_${randomBytes(4).toString('hex')}`
  const client = new pg.Client({ connectionString: admin, connectionTimeoutMillis: 5000 })
  await client.connect()
  try {
    await client.query(`CREATE DATABASE ${name}`)
  } finally {
    await client.end()
  }
  const url = new URL(admin)
  url.pathname = `/${name}`
  return {
    kind: 'postgres',
    url: url.toString(),
    cleanup: async () => {
      // FORCE signals the database's sessions and waits 5 s for them to go; on
      // a loaded machine one may linger (55006 object_in_use), so try again.
      for (let attempt = 1; ; attempt++) {
        const c = new pg.Client({ connectionString: admin, connectionTimeoutMillis: 5000 })
        try {
          await c.connect()
          await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
          return
        } catch (err) {
          if (attempt >= 3 || (err as { code?: string }).code !== '55006') throw err
        } finally {
          await c.end().catch(() => {})
        }
        await new Promise((r) => setTimeout(r, 500))
      }
    },
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  )
}

/** The shared template: made once per machine (per PGlite version), atomically. */
export async function pgliteTemplate(): Promise<string> {
  const version = (PGlite as unknown as { version?: string }).version ?? 'v'
  const dir = join(tmpdir(), `fuelpay-pglite-template-${String(version).replace(/[^A-Za-z0-9.]/g, '')}`)
  if (await exists(join(dir, 'PG_VERSION'))) return dir
  const staging = await mkdtemp(join(tmpdir(), 'fuelpay-pglite-staging-'))
  const db = await PGlite.create(staging)
  await db.query('select 1')
  await db.close()
  try {
    await rename(staging, dir)
  } catch {
    // Another test process won the race; its template is as good as ours.
    await rm(staging, { recursive: true, force: true })
  }
  return dir
}

async function createPgliteDatabase(): Promise<TestDatabase> {
  const template = await pgliteTemplate()
  const dataDir = await mkdtemp(join(tmpdir(), 'fuelpay-pglite-'))
  await cp(template, dataDir, { recursive: true })
  return { kind: 'pglite', dataDir, cleanup: () => rm(dataDir, { recursive: true, force: true }) }
}
