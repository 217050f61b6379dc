/**
 * @fuelpay/proto: the one place that knows topics, message schemas, token
 * formats, money and volume arithmetic and reason codes. Pure: no I/O.
 */
export * from './acl.ts'
export * from './api.ts'
export * from './beacon.ts'
export * from './codec.ts'
export * from './console.ts'
export * from './geo.ts'
export * from './ids.ts'
export * from './messages.ts'
export * from './money.ts'
export * from './reasons.ts'
export * from './sale.ts'
export * from './tokens.ts'
export * from './topics.ts'
