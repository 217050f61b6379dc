import { createHash } from 'node:crypto'
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
  /**
   * Runs repeated parameterized statements as named prepared statements on
   * each pooled connection (default true): PostgreSQL then parses and plans
   * each shape once per connection instead of on every execution.
   */
  prepare?: boolean
  /** Close a pooled connection idle this long (pg's default 10 s); a service keeps them longer. */
  idleTimeoutMs?: number
  /** Open this many pooled connections before returning, so the first requests do not pay for them. */
  warmConnections?: number
  /**
   * Told when the server ends an idle pooled connection (a restart, a
   * failover, an administrator): the pool drops it and the next query opens
   * a new one. Without a listener pg would throw it from the socket and end
   * the process.
   */
  onConnectionLost?: (err: Error) => void
}

/** How long close() waits for the server to see the pool's connections go. */
const CLOSE_WAIT_MS = 5000

/** Executions of one SQL text before it is prepared; rarer shapes (long IN lists) stay unnamed. */
const PREPARE_AFTER = 3
/** At most this many distinct texts are prepared, so no connection holds an unbounded set. */
const PREPARED_MAX = 400

/**
 * The statement names of a process: a text seen PREPARE_AFTER times gets a
 * name derived from its text (the same text gets the same name on every
 * connection, which pg parses once per connection). `reset()` starts a new
 * generation of names, for when prepared statements went stale.
 *
 * @example const name = statementNames.nameFor('select * from t where id = $1') // undefined until repeated
 */
export function createStatementNames(after = PREPARE_AFTER, max = PREPARED_MAX) {
  const seen = new Map<string, number>()
  const names = new Map<string, string>()
  let generation = 0
  return {
    nameFor(text: string): string | undefined {
      const known = names.get(text)
      if (known !== undefined) return known
      if (names.size >= max) return undefined
      const n = (seen.get(text) ?? 0) + 1
      if (n < after) {
        // Counting is bounded too: shapes that never repeat do not accumulate.
        if (seen.size >= max * 8) seen.clear()
        seen.set(text, n)
        return undefined
      }
      seen.delete(text)
      const name = `fp${generation}_${createHash('sha1').update(text).digest('base64url').slice(0, 20)}`
      names.set(text, name)
      return name
    },
    reset(): void {
      names.clear()
      seen.clear()
      generation++
    },
    get size() {
      return names.size
    },
  }
}

/**
 * A prepared `select *` or `returning *` fails once its table gains or loses
 * a column (a migration run by another replica): PostgreSQL refuses to change
 * a prepared statement's result type. That statement's request fails; the
 * next ones are prepared afresh under new names.
 */
const isStalePlan = (err: unknown): boolean =>
  (err as { code?: unknown } | null)?.code === '0A000' &&
  /cached plan must not change result type/.test(String((err as Error).message))

/** A pg client whose repeated parameterized statements are prepared (see `prepare`). */
function preparingClient(names: ReturnType<typeof createStatementNames>): typeof pg.Client {
  return class PreparingClient extends pg.Client {
    // biome-ignore lint/suspicious/noExplicitAny: pg's query overloads cannot be re-declared one by one
    override query(config: any, values?: any, callback?: any): any {
      if (typeof config === 'string' && Array.isArray(values) && values.length > 0 && callback === undefined) {
        const name = names.nameFor(config)
        if (name !== undefined) {
          return (super.query({ name, text: config, values }) as Promise<unknown>).catch((err: unknown) => {
            if (isStalePlan(err)) names.reset()
            throw err
          })
        }
      }
      return super.query(config, values, callback)
    }
  } as typeof pg.Client
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
      ...(opts.idleTimeoutMs !== undefined ? { idleTimeoutMillis: opts.idleTimeoutMs } : {}),
      ...(opts.prepare === false ? {} : { Client: preparingClient(createStatementNames()) }),
      connectionTimeoutMillis: 10_000,
      types: {
        getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
          oid === INT8_OID || oid === NUMERIC_OID ? toNumber : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
      },
    })
    // pg's pool.end() resolves once it has asked each connection to end, not
    // when they have: count them out, so a database dropped right after close()
    // (tests) or a process exiting does not cut a session mid-goodbye.
    const open = new Set<pg.PoolClient>()
    let allClosed: (() => void) | undefined
    const gone = (client: pg.PoolClient) => {
      open.delete(client)
      if (open.size === 0) allClosed?.()
    }
    pool.on('connect', (client) => {
      open.add(client)
      // A connection the server ends under a running query: the query fails
      // with the error, and pg also emits it on the client, where nobody
      // listens while it is checked out (the pool listens only to idle ones).
      client.on('error', () => {})
    })
    pool.on('remove', gone)
    pool.on('error', (err, client) => {
      gone(client)
      opts.onConnectionLost?.(err)
    })
    const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) })
    // Kysely ends the pool only if it ever used it: end it here in any case.
    const close = async () => {
      await db.destroy()
      if (!pool.ended) await pool.end()
      if (open.size === 0) return
      let timer: NodeJS.Timeout | undefined
      await new Promise<void>((resolve) => {
        allClosed = resolve
        timer = setTimeout(resolve, CLOSE_WAIT_MS)
      })
      clearTimeout(timer)
    }
    const warm = Math.min(opts.warmConnections ?? 0, opts.poolSize ?? 10)
    if (warm > 0) {
      const clients = await Promise.allSettled(Array.from({ length: warm }, () => pool.connect()))
      for (const c of clients) if (c.status === 'fulfilled') c.value.release()
      const failed = clients.find((c) => c.status === 'rejected')
      if (failed) {
        await close()
        throw failed.reason
      }
    }
    return { db, kind: 'postgres', pool, url: opts.url, close }
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
