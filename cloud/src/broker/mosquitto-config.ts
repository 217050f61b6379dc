import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import { resolve as resolvePath, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import {
  clientIdFor,
  formatTopic,
  type Identity,
  isId,
  ROOT,
  TOPIC_RULES,
  type Topic,
  type TopicKind,
} from '@fuelpay/proto'
import { DEFAULT_BROKER_LIMITS } from './broker-limits.ts'

/**
 * Mosquitto as the fuelpay broker (design: "any MQTT 3.1.1 broker with
 * equivalent authentication and ACLs can replace it"). This writes a
 * mosquitto.conf, an ACL file derived from proto's topic rules, and a
 * password file.
 *
 * Passwords: Mosquitto cannot verify fuelpay's broker credentials (Ed25519
 * JWTs) without a plugin, so with Mosquitto each client gets its own random
 * secret instead, stored hashed (PBKDF2-SHA512, by `mosquitto_passwd`) in the
 * password file and in clear in `credentials.json` (mode 0600) for whoever
 * provisions the vehicles and stations. The username is still the client id
 * `{role}-{id}`, and `use_username_as_clientid` makes the client id the
 * authenticated username, so no client can take over another's id.
 *
 * ACL: proto's ACL binds the *bare* id (`car7`) into topics while the
 * username is `vehicle-car7`; Mosquitto's `pattern` lines can only substitute
 * the whole username (%u) or client id (%c), so a pattern cannot express
 * "the last level is my id without my role". The ACL is therefore one `user`
 * block per client, generated from proto's topic builders, which is also what
 * lets a vehicle and a station share an id without sharing topics. Adding a
 * client means regenerating and sending Mosquitto SIGHUP (it rereads both
 * files), as adding one to the password file does anyway.
 *
 * Known differences from proto's allowed() (shown by the cross-check test):
 * Mosquitto's `+` matches any level, so it lets a vehicle publish to a
 * request topic with a malformed station id or pump number (`pump/04`)
 * that allowed() refuses; receivers parse topics with proto's parseTopic and
 * drop those. And Mosquitto's ACL has no notion of the retain flag, so it
 * accepts a retained request that allowed() refuses; the controller's
 * single-use token journal makes a replayed request harmless.
 *
 * @example
 *   await writeMosquittoConfig({ outDir: '/etc/fuelpay-mosquitto', port: 1885, vehicles: ['car7'], stations: ['s1'], clouds: ['cloud'] })
 *   // then: mosquitto -c /etc/fuelpay-mosquitto/mosquitto.conf
 */
export interface MosquittoConfigOptions {
  outDir: string
  port: number
  /** Listener bind address. */
  host?: string
  vehicles: string[]
  stations: string[]
  clouds?: string[]
  maxPacketBytes?: number
  keepaliveMaxS?: number
  /** Mosquitto drops root privileges to this user; files must be readable by it. */
  runAsUser?: string
  /** The `mosquitto_passwd` binary. */
  mosquittoPasswd?: string
}

export interface MosquittoConfigFiles {
  confPath: string
  aclPath: string
  passwordPath: string
  credentialsPath: string
  /** clientId -> password, for the clients listed. */
  credentials: Record<string, string>
}

type Placeholders = { station: string; vehicle: string }

// Marker ids and pump number: valid for proto's builders, replaced afterwards.
const STATION_MARK = 'ZZstationZZ'
const VEHICLE_MARK = 'ZZvehicleZZ'
const PUMP_MARK = 99

/** A topic of `kind` from proto's own builder, with the station, pump and vehicle levels filled in. */
export function topicTemplate(kind: TopicKind, fill: Placeholders): string {
  const sample: Topic = {
    kind,
    stationId: STATION_MARK,
    pump: PUMP_MARK,
    vehicleId: VEHICLE_MARK,
  } as Topic
  const levels = formatTopic(sample).split('/')
  const pumpAt = levels.indexOf('pump') + 1
  return levels
    .map((level, i) => {
      if (level === STATION_MARK) return fill.station
      if (level === VEHICLE_MARK) return fill.vehicle
      if (i === pumpAt && pumpAt > 0 && level === String(PUMP_MARK)) return '+'
      return level
    })
    .join('/')
}

/** What each role reads, mirroring acl.ts canSubscribe (the cross-check test holds them together). */
const READS: Record<Exclude<Identity['role'], 'cloud'>, TopicKind[]> = {
  vehicle: ['pump-reply'],
  station: ['pump-request', 'pump-state', 'station-command', 'station-status'],
}

/** Mosquitto ACL lines for one identity: what it may write (proto TOPIC_RULES publisher) and read. */
export function aclFor(identity: Identity): string[] {
  const own: Placeholders =
    identity.role === 'vehicle'
      ? { station: '+', vehicle: identity.id }
      : identity.role === 'station'
        ? { station: identity.id, vehicle: '+' }
        : { station: '+', vehicle: '+' }
  const kinds = Object.keys(TOPIC_RULES) as TopicKind[]
  const writes = kinds
    .filter((k) => TOPIC_RULES[k].publisher === identity.role)
    // acl.ts: a vehicle publishes only requests, the cloud only commands.
    .filter((k) =>
      identity.role === 'vehicle'
        ? k === 'pump-request'
        : identity.role === 'cloud'
          ? k === 'station-command'
          : true,
    )
    .map((k) => `topic write ${topicTemplate(k, own)}`)
  const reads =
    identity.role === 'cloud'
      ? [`topic read ${ROOT}/#`]
      : READS[identity.role].map((k) => `topic read ${topicTemplate(k, own)}`)
  return [`user ${clientIdFor(identity)}`, ...writes, ...reads]
}

export function aclFile(identities: Identity[]): string {
  const blocks = identities.map((i) => aclFor(i).join('\n'))
  return [
    '# Generated by fuelpay (cloud/src/broker/mosquitto-config.ts) from proto topic rules. Do not edit.',
    '# Anything not granted here is denied, $SYS included.',
    '',
    blocks.join('\n\n'),
    '',
  ].join('\n')
}

export function mosquittoConf(o: {
  port: number
  host: string
  passwordPath: string
  aclPath: string
  maxPacketBytes: number
  keepaliveMaxS: number
  runAsUser?: string | undefined
}): string {
  return [
    '# Generated by fuelpay (cloud/src/broker/mosquitto-config.ts). Do not edit.',
    'per_listener_settings false',
    'allow_anonymous false',
    `password_file ${o.passwordPath}`,
    `acl_file ${o.aclPath}`,
    `max_packet_size ${o.maxPacketBytes}`,
    `max_keepalive ${o.keepaliveMaxS}`,
    'persistence false',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_type information',
    ...(o.runAsUser ? [`user ${o.runAsUser}`] : []),
    // Listener settings come after `listener`: set before it, Mosquitto would
    // open a default listener on 1883 to carry them.
    `listener ${o.port} ${o.host}`,
    'protocol mqtt',
    // The client id is the authenticated username: nobody can take over another id.
    'use_username_as_clientid true',
    '',
  ].join('\n')
}

export async function writeMosquittoConfig(
  opts: MosquittoConfigOptions,
): Promise<MosquittoConfigFiles> {
  const identities: Identity[] = [
    ...opts.vehicles.map((id) => ({ role: 'vehicle' as const, id })),
    ...opts.stations.map((id) => ({ role: 'station' as const, id })),
    ...(opts.clouds ?? []).map((id) => ({ role: 'cloud' as const, id })),
  ]
  for (const i of identities) {
    if (!isId(i.id))
      throw new TypeError(`invalid ${i.role} id: ${JSON.stringify(i.id).slice(0, 80)}`)
  }
  if (!Number.isInteger(opts.port) || opts.port < 1 || opts.port > 65535) {
    throw new RangeError('port must be 1..65535')
  }
  const outDir = resolvePath(opts.outDir)
  await mkdir(outDir, { recursive: true, mode: 0o700 })
  const confPath = join(outDir, 'mosquitto.conf')
  const aclPath = join(outDir, 'acl')
  const passwordPath = join(outDir, 'passwd')
  const credentialsPath = join(outDir, 'credentials.json')

  // Keep the secrets of clients already provisioned: regenerating for a new
  // vehicle must not lock every other one out.
  const previous = await readFile(credentialsPath, 'utf8').then(
    (text) => JSON.parse(text) as Record<string, unknown>,
    () => ({}) as Record<string, unknown>,
  )
  const credentials: Record<string, string> = {}
  for (const i of identities) {
    const clientId = clientIdFor(i)
    const old = previous[clientId]
    credentials[clientId] =
      typeof old === 'string' && old.length >= 32 ? old : randomBytes(32).toString('base64url')
  }

  await writeFile(credentialsPath, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 })
  await chmod(credentialsPath, 0o600)
  // Written in clear, then hashed in place by one `mosquitto_passwd -U`: one
  // process for any number of clients, and no secret on a command line
  // (where `-b user password` would show it to every user of the machine).
  await writeFile(
    passwordPath,
    Object.entries(credentials)
      .map(([u, p]) => `${u}:${p}\n`)
      .join(''),
    { mode: 0o600 },
  )
  await chmod(passwordPath, 0o600)
  await run(opts.mosquittoPasswd ?? 'mosquitto_passwd', ['-U', passwordPath])
  await writeFile(aclPath, aclFile(identities), { mode: 0o600 })
  await chmod(aclPath, 0o600)
  await writeFile(
    confPath,
    mosquittoConf({
      port: opts.port,
      host: opts.host ?? '127.0.0.1',
      passwordPath,
      aclPath,
      maxPacketBytes: opts.maxPacketBytes ?? DEFAULT_BROKER_LIMITS.maxPacketBytes,
      keepaliveMaxS: opts.keepaliveMaxS ?? DEFAULT_BROKER_LIMITS.keepaliveMaxS,
      runAsUser: opts.runAsUser,
    }),
    { mode: 0o600 },
  )
  return { confPath, aclPath, passwordPath, credentialsPath, credentials }
}

function run(cmd: string, args: string[], timeoutMs = 30_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: timeoutMs })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString('utf8')).slice(-2000)
    })
    child.on('error', reject)
    child.on('close', (code, signal) => {
      if (code === 0) resolve()
      else reject(new Error(`${cmd} exited with ${code ?? signal}: ${stderr.trim()}`))
    })
  })
}

const list = (s: string | undefined): string[] =>
  (s ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x.length > 0)

/** `tsx cloud/src/broker/mosquitto-config.ts --out DIR --vehicles car1,car2 --stations s1 [--clouds cloud] [--port 1885]` */
export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      out: { type: 'string' },
      port: { type: 'string', default: '1885' },
      host: { type: 'string', default: '127.0.0.1' },
      vehicles: { type: 'string', default: '' },
      stations: { type: 'string', default: '' },
      clouds: { type: 'string', default: '' },
      user: { type: 'string' },
      'max-packet-bytes': { type: 'string' },
    },
    strict: true,
  })
  if (!values.out) {
    process.stderr.write(
      'usage: mosquitto-config.ts --out DIR --vehicles a,b --stations s1 [--clouds cloud] [--port 1885] [--host 127.0.0.1] [--user mosquitto] [--max-packet-bytes N]\n',
    )
    return 2
  }
  const files = await writeMosquittoConfig({
    outDir: values.out,
    port: Number(values.port),
    host: values.host,
    vehicles: list(values.vehicles),
    stations: list(values.stations),
    clouds: list(values.clouds),
    ...(values.user ? { runAsUser: values.user } : {}),
    ...(values['max-packet-bytes'] ? { maxPacketBytes: Number(values['max-packet-bytes']) } : {}),
  })
  // Paths only: the secrets stay in credentials.json.
  process.stdout.write(
    `${JSON.stringify({ confPath: files.confPath, aclPath: files.aclPath, passwordPath: files.passwordPath, credentialsPath: files.credentialsPath, clients: Object.keys(files.credentials).length })}\n`,
  )
  return 0
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolvePath(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`)
      process.exit(1)
    },
  )
}
