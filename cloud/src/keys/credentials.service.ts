import { readFile } from 'node:fs/promises'
import { clientIdFor, type MqttCredentialResponse, signBrokerCredential } from '@fuelpay/proto'
import type { Caller } from '../auth/caller.ts'
import type { CloudDeps } from '../deps.ts'
import { refuse } from '../errors/errors.ts'

/**
 * POST /v1/mqtt-credentials: a broker login for a vehicle or station.
 * username = client id = `${role}-${id}`.
 *
 * With the embedded broker (or any broker holding the cloud JWKS) the
 * password is a broker credential signed with the cloud key, verified
 * offline. With Mosquitto (FUELPAY_MQTT_PASSWORDS_FILE) it is the client's own
 * secret from the credentials file the Mosquitto config generator writes:
 * Mosquitto checks it against its hashed password file, and its ACL binds
 * the topics to the username. A client not in the file has no login.
 *
 * @example await issueMqttCredential({ ...deps, brokerUrl: () => 'mqtt://127.0.0.1:1884' }, { role: 'vehicle', id: 'car7', accountId: 'a1', fleetId: null })
 */
export async function issueMqttCredential(
  deps: CloudDeps & { brokerUrl: () => string },
  caller: Extract<Caller, { role: 'vehicle' | 'station' }>,
): Promise<MqttCredentialResponse> {
  const nowMs = deps.nowMs()
  const ttlS = deps.config.mqttCredentialTtlS
  const clientId = clientIdFor({ role: caller.role, id: caller.id })
  const file = deps.config.mqttPasswordsFile
  const password = file
    ? await passwordFromFile(file, clientId)
    : await signBrokerCredential({ role: caller.role, id: caller.id }, deps.keys.active(), nowMs, ttlS)
  return {
    clientId,
    username: clientId,
    password,
    brokerUrl: deps.brokerUrl(),
    // A Mosquitto secret does not expire by itself; clients still refresh on this schedule.
    expiresAt: new Date((Math.floor(nowMs / 1000) + ttlS) * 1000).toISOString(),
  }
}

/**
 * The client's secret from a Mosquitto credentials file. Read on every call:
 * provisioning a client regenerates the file (and SIGHUPs Mosquitto), and the
 * cloud must hand out what the broker now accepts without a restart.
 */
export async function passwordFromFile(file: string, clientId: string): Promise<string> {
  let doc: unknown
  try {
    doc = JSON.parse(await readFile(file, 'utf8'))
  } catch {
    throw refuse('UNAVAILABLE', 'broker credentials are not readable')
  }
  const secret = (doc as Record<string, unknown> | null)?.[clientId]
  if (typeof secret !== 'string' || secret.length < 16 || secret.length > 4096) {
    throw refuse('FORBIDDEN', 'no broker login is provisioned for this client')
  }
  return secret
}
