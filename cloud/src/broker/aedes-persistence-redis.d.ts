// aedes-persistence-redis ships no types; this is the part fuelpay uses.
declare module 'aedes-persistence-redis' {
  interface RedisPersistenceOptions {
    host?: string
    port?: number
    username?: string
    password?: string
    db?: number
    tls?: object
    maxSessionDelivery?: number
    lazyConnect?: boolean
    maxRetriesPerRequest?: number | null
    connectTimeout?: number
    /** An ioredis connection of the caller's to use instead of one of its own (it is disconnected on destroy). */
    conn?: unknown
  }
  interface RedisPersistence {
    setup(broker: unknown): Promise<void>
    destroy(): Promise<void>
  }
  function aedesPersistenceRedis(opts?: RedisPersistenceOptions): RedisPersistence
  export default aedesPersistenceRedis
}
