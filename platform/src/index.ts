/**
 * @fuelpay/platform: shared I/O plumbing for the services (database opening,
 * MQTT connection with TCP no-delay, logging). No domain logic lives here.
 */
export * from './db.ts'
export * from './log.ts'
export * from './mqtt.ts'
