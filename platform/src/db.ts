import { mkdir } from 'node:fs/promises'
import { PGlite } from '@electric-sql/pglite'
import { Kysely, PGliteDialect, PostgresDialect } from 'kysely'
import pg from 'pg'

/**
 * Opens the database a service runs on: real PostgreSQL when a URL is given,
 * else PGlite (in-process PostgreSQL) on a data directory, or in memory.
 *
 * int8 and numeric come back as JavaScript numbers: every amount fuelpay
 * stores is bounded far below 2^53 (proto money.ts), and a string where a
 * number is expected is a bug waiting to happen.
 *
 * @example const { db, close } = await openDatabase<Tables>({ url: process.env.DATABASE_URL, dataDir: '.data/cloud' })
 */
export interface DatabaseHandle<DB> {
  db: Kysely<DB>
  kind: 'postgres' | 'pglite'
  /** The PGlite instance when kind is 'pglite' (LISTEN/NOTIFY goes through it). */
  pglite?: PGlite
  /** A pg pool when kind is 'postgres'. */
  pool?: pg.Pool
  url?: string
  close(): Promise<void>
}

export interface OpenDatabaseOptions {
  /** postgres:// URL; when absent, PGlite is used. */
  url?: string | undefined
  /** PGlite data directory; in memory when absent. */
  dataDir?: string | undefined
  /** pg pool size. */
  poolSize?: number
}

const INT8_OID = 20
const NUMERIC_OID = 1700
const toNumber = (v: string): number => {
  const n = Number(v)
  if (!Number.isSafeInteger(n) && !Number.isFinite(n)) throw new RangeError(`numeric out of range: ${v}`)
  return n
}

export async function openDatabase<DB>(opts: OpenDatabaseOptions): Promise<DatabaseHandle<DB>> {
  if (opts.url) {
    const pool = new pg.Pool({
      connectionString: opts.url,
      max: opts.poolSize ?? 10,
      connectionTimeoutMillis: 10_000,
      types: {
        getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
          oid === INT8_OID || oid === NUMERIC_OID ? toNumber : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
      },
    })
    const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) })
    return { db, kind: 'postgres', pool, url: opts.url, close: () => db.destroy() }
  }
  if (opts.dataDir) await mkdir(opts.dataDir, { recursive: true })
  const pglite = await PGlite.create(opts.dataDir ?? 'memory://', {
    parsers: { [INT8_OID]: toNumber, [NUMERIC_OID]: toNumber },
  })
  const db = new Kysely<DB>({ dialect: new PGliteDialect({ pglite }) })
  return {
    db,
    kind: 'pglite',
    pglite,
    close: async () => {
      await db.destroy()
      if (!pglite.closed) await pglite.close()
    },
  }
}
