import type { Position, SigningKey } from '@fuelpay/proto'
import { connectMqtt, silentLogger } from '@fuelpay/platform'
import type { Logger } from 'pino'
import { createVehicleAgent, type Reply, type Speaker, type VehicleAgentConfig } from './agent.ts'
import { createCloudClient } from './cloud/cloud.client.ts'
import type { Outcome } from './dialogue/dialogue.machine.ts'
import { type BeaconSighting, staticLocation } from './location/location.ts'
import type { MqttConnector, MqttLike } from './session/pump.link.ts'

/** The real MQTT connector: MQTT 3.1.1 with TCP no-delay (@fuelpay/platform). */
export const realMqtt: MqttConnector = {
  connect: async (url, o) => (await connectMqtt(url, { clientId: o.clientId, username: o.username, password: o.password, connectTimeoutMs: o.connectTimeoutMs, clean: true })) as unknown as MqttLike,
}

export interface RunUtteranceOptions {
  vehicleId: string
  cloudUrl: string
  key: SigningKey
  text: string
  /** Answers to the agent's questions, in order (default: ['yes'] for the read-back). */
  answers?: string[]
  nextAnswer?: () => Promise<string | undefined>
  position?: Position
  beacons?: BeaconSighting[]
  config?: Omit<VehicleAgentConfig, 'vehicleId'>
  speaker?: Speaker
  log?: Logger
}

/**
 * One utterance through the real cloud and pump, start to receipt: what the
 * CLI's `say` does and what the cross-process tests call.
 *
 * @example const o = await runUtterance({ vehicleId: 'car7', cloudUrl, key, text: 'Säule 2 bezahlen', answers: ['ja'], position })
 */
export async function runUtterance(opts: RunUtteranceOptions): Promise<Outcome & { replies: Reply[] }> {
  const log = opts.log ?? silentLogger()
  const cloud = createCloudClient({ baseUrl: opts.cloudUrl, vehicleId: opts.vehicleId, key: opts.key, log })
  const agent = createVehicleAgent({
    log,
    config: { vehicleId: opts.vehicleId, ...opts.config },
    cloud,
    mqtt: realMqtt,
    location: staticLocation(opts.position, opts.beacons ?? []),
    ...(opts.speaker ? { speech: { speaker: opts.speaker } } : {}),
  })
  try {
    return await agent.runUtterance(opts.text, {
      ...(opts.nextAnswer ? { nextAnswer: opts.nextAnswer } : { answers: opts.answers ?? ['yes'] }),
    })
  } finally {
    await agent.close()
  }
}
