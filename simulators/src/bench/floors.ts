import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { writeFile, rm, mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { connectMqtt } from '@fuelpay/platform'
import type { IClientOptions, MqttClient } from 'mqtt'
import pg from 'pg'
import { createHistogram, summarize } from '../histogram.ts'

/**
 * Floors: what the machine does with nothing of ours in the way, measured in
 * the same run as the figure it bounds, so a ratio means something on a busy
 * shared machine. The database floor is pgbench running single-row insert
 * transactions (or, without pgbench, the same inserts from a pg loop); the
 * broker floor is a bare MQTT publish loop on the same broker.
 *
 * @example const f = await dbInsertFloor({ url, clients: 8, durationS: 5 }); f.txPerS
 */
export interface DbFloor {
  method: 'pgbench' | 'pg-loop'
  clients: number
  durationS: number
  txPerS: number
  /** Mean latency per transaction, ms (pgbench's own figure, or measured). */
  latencyAvgMs: number
}

const run = promisify(execFile)

/** A scratch database on the server of `url`, dropped by `drop()`. */
export async function scratchDatabase(
  url: string,
): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `fp_bench_${process.pid}_${randomBytes(3).toString('hex')}`
  const admin = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 })
  await admin.connect()
  try {
    await admin.query(`CREATE DATABASE ${name}`)
  } finally {
    await admin.end()
  }
  const u = new URL(url)
  u.pathname = `/${name}`
  return {
    url: u.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 })
      await c.connect()
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      } finally {
        await c.end()
      }
    },
  }
}

async function hasPgbench(): Promise<boolean> {
  try {
    await run('pgbench', ['--version'], { timeout: 5000 })
    return true
  } catch {
    return false
  }
}

/**
 * Single-row insert transactions per second with `clients` connections, on a
 * fresh scratch database of the server at `url` (a table shaped like a ledger
 * posting: id, a text key, an amount, a timestamp).
 */
export async function dbInsertFloor(opts: {
  url: string
  clients: number
  durationS: number
  preferPgbench?: boolean
}): Promise<DbFloor> {
  const db = await scratchDatabase(opts.url)
  try {
    const c = new pg.Client({ connectionString: db.url })
    await c.connect()
    await c.query(
      'CREATE TABLE floor_insert (id bigserial PRIMARY KEY, k text NOT NULL, amount_minor bigint NOT NULL, at timestamptz NOT NULL DEFAULT now())',
    )
    await c.end()
    if ((opts.preferPgbench ?? true) && (await hasPgbench())) {
      const dir = await mkdtemp(join(tmpdir(), 'fp-pgbench-'))
      try {
        const script = join(dir, 'insert.sql')
        await writeFile(
          script,
          "INSERT INTO floor_insert (k, amount_minor) VALUES ('floor', 1234);\n",
        )
        const threads = Math.min(opts.clients, 2)
        const { stdout } = await run(
          'pgbench',
          [
            '-n',
            '-c',
            String(opts.clients),
            '-j',
            String(threads),
            '-T',
            String(Math.max(1, Math.round(opts.durationS))),
            '-f',
            script,
            db.url,
          ],
          { timeout: (opts.durationS + 30) * 1000 },
        )
        const tps = /tps = ([0-9.]+)/.exec(stdout)
        const lat = /latency average = ([0-9.]+) ms/.exec(stdout)
        if (!tps) throw new Error(`pgbench printed no tps: ${stdout.slice(0, 400)}`)
        return {
          method: 'pgbench',
          clients: opts.clients,
          durationS: opts.durationS,
          txPerS: Number(tps[1]),
          latencyAvgMs: Number(lat?.[1] ?? Number.NaN),
        }
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    }
    return await pgLoopFloor(db.url, opts.clients, opts.durationS)
  } finally {
    await db.drop()
  }
}

async function pgLoopFloor(url: string, clients: number, durationS: number): Promise<DbFloor> {
  const conns = await Promise.all(
    Array.from({ length: clients }, async () => {
      const c = new pg.Client({ connectionString: url })
      await c.connect()
      return c
    }),
  )
  const h = createHistogram()
  const end = performance.now() + durationS * 1000
  let n = 0
  const t0 = performance.now()
  await Promise.all(
    conns.map(async (c) => {
      while (performance.now() < end) {
        const s = performance.now()
        await c.query("INSERT INTO floor_insert (k, amount_minor) VALUES ('floor', 1234)")
        h.record(performance.now() - s)
        n++
      }
    }),
  )
  const elapsed = (performance.now() - t0) / 1000
  await Promise.all(conns.map((c) => c.end()))
  return { method: 'pg-loop', clients, durationS, txPerS: n / elapsed, latencyAvgMs: h.meanMs }
}

export interface MqttFloor {
  messages: number
  payloadBytes: number
  qos: 0 | 1
  /** Delivered to the subscriber per second, publishing with a window of `window` unacknowledged messages. */
  msgsPerS: number
  window: number
  /** One message at a time, publisher to subscriber, ms. */
  oneWay: ReturnType<typeof summarize>
}

/**
 * A bare publish loop: `pub` publishes `messages` payloads to `topic`, `sub`
 * (already allowed to) subscribes to `filter` and counts. Nothing of fuelpay
 * runs on either side: this is the broker and the MQTT stack alone.
 */
export async function mqttPublishFloor(opts: {
  url: string
  pub: IClientOptions
  sub: IClientOptions
  topic: string
  filter: string
  payload: Buffer
  messages: number
  window?: number
  qos?: 0 | 1
  latencySamples?: number
  timeoutMs?: number
}): Promise<MqttFloor> {
  const qos = opts.qos ?? 1
  const window = opts.window ?? 64
  const timeoutMs = opts.timeoutMs ?? 60_000
  const sub = await connectMqtt(opts.url, { ...opts.sub, reconnectPeriod: 0 })
  const pub = await connectMqtt(opts.url, { ...opts.pub, reconnectPeriod: 0 })
  try {
    await sub.subscribeAsync(opts.filter, { qos })
    let received = 0
    let onMsg: (() => void) | undefined
    sub.on('message', () => {
      received++
      onMsg?.()
    })
    // One at a time first: the round trip through the broker with nothing queued.
    const h = createHistogram()
    const samples = opts.latencySamples ?? 200
    for (let i = 0; i < samples; i++) {
      const before = received
      const s = performance.now()
      await withTimeout(
        new Promise<void>((resolve) => {
          onMsg = () => {
            if (received > before) resolve()
          }
          pub.publish(opts.topic, opts.payload, { qos })
        }),
        timeoutMs,
        'mqtt floor one-way',
      )
      h.record(performance.now() - s)
    }
    onMsg = undefined
    // Then throughput with a bounded window of unacknowledged publishes.
    const base = received
    const t0 = performance.now()
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        let sent = 0
        let acked = 0
        const pump = () => {
          while (sent < opts.messages && sent - acked < window) {
            sent++
            pub.publish(opts.topic, opts.payload, { qos }, (err) => {
              if (err) return reject(err)
              acked++
              pump()
            })
          }
        }
        onMsg = () => {
          if (received - base >= opts.messages) resolve()
        }
        pump()
      }),
      timeoutMs,
      'mqtt floor throughput',
    )
    const elapsed = (performance.now() - t0) / 1000
    return {
      messages: opts.messages,
      payloadBytes: opts.payload.length,
      qos,
      window,
      msgsPerS: opts.messages / elapsed,
      oneWay: summarize(h),
    }
  } finally {
    await Promise.all([endClient(pub), endClient(sub)])
  }
}

export async function endClient(c: MqttClient): Promise<void> {
  await withTimeout(c.endAsync(), 5000, 'mqtt end').catch(() => c.end(true))
}

export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}
