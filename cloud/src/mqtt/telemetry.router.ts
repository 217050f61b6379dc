import type { Message, Topic } from '@fuelpay/proto'
import type { CloudDeps } from '../deps.ts'
import { handleCommandResult, handlePumpState, handleStationStatus } from './telemetry.service.ts'

/** Dispatches a decoded message to its handler; only switches. */
export function telemetryRouter(deps: CloudDeps) {
  return async (topic: Topic, message: Message): Promise<void> => {
    switch (message.type) {
      case 'pump-state':
        return handlePumpState(deps, message)
      case 'station-status':
        return handleStationStatus(deps, message)
      case 'station-command-result':
        return handleCommandResult(deps, topic.stationId, message)
      default:
        return
    }
  }
}
