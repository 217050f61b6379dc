/**
 * @fuelpay/pump-controller: one per station. A state machine per pump,
 * offline verification of pump authorizations, a pump driver interface with
 * a simulated dispenser, a durable journal and store-and-forward of sales.
 * Simulators build many stations in one process from these pieces.
 */
export * from './cloud/cloud-client.ts'
export * from './config.ts'
export * from './controller.ts'
export * from './http/health.server.ts'
export * from './journal/journal.open.ts'
export * from './journal/journal.repository.ts'
export * from './journal/journal.schema.ts'
export * from './keys/key-cache.ts'
export * from './metrics.ts'
export * from './mqtt/mqtt-link.ts'
export * from './pump/pump.machine.ts'
export * from './pump/pump-driver.ts'
export * from './pump/simulated-dispenser.ts'
export * from './sales/sale-forwarder.ts'
