import type { CarFactory } from './run.ts'
import { createWireCar } from './sim-car.ts'

/**
 * Picks how cars are made: `agent` (the real vehicle agent, agent-car.ts) or
 * `wire` (protocol-level). Loaded lazily so the wire car works even when
 * the agent package cannot be loaded.
 *
 * @example const factory = await carFactoryFor('agent')
 */
export async function carFactoryFor(kind: 'agent' | 'wire'): Promise<CarFactory> {
  if (kind === 'wire')
    return ({ plan, target }) =>
      createWireCar({ plan, httpUrl: target.httpUrl, brokerUrl: target.mqttUrl })
  const { createAgentCarFactory } = await import('./agent-car.ts')
  return createAgentCarFactory()
}
