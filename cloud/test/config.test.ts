import t from 'tap'
import { loadConfig } from '../src/config.ts'

t.test('defaults, frozen', async (t) => {
  const c = loadConfig({})
  t.equal(c.httpPort, 8080)
  t.equal(c.mqttPort, 1884)
  t.equal(c.httpHost, '127.0.0.1')
  t.equal(c.databaseUrl, undefined)
  t.equal(c.adminTokenGenerated, true)
  t.ok(c.adminToken.length >= 16)
  t.ok(Object.isFrozen(c))
  t.ok(c.idempotencyTtlMs >= 24 * 3_600_000)
  t.equal(c.dbPrepare, true, 'statements run prepared unless told otherwise')
  t.equal(loadConfig({ FUELPAY_DB_PREPARE: 'false' }).dbPrepare, false)
  t.throws(() => loadConfig({ FUELPAY_DB_PREPARE: 'sometimes' }), /FUELPAY_DB_PREPARE/)
})

t.test('reads the environment and refuses bad values, naming each', async (t) => {
  const c = loadConfig({ FUELPAY_HTTP_PORT: '0', FUELPAY_MQTT_PORT: '0', FUELPAY_ADMIN_TOKEN: 'a'.repeat(20), DATABASE_URL: 'postgres://x@h/db', FUELPAY_REQUIRE_POSITION: 'true' })
  t.equal(c.httpPort, 0)
  t.equal(c.databaseUrl, 'postgres://x@h/db')
  t.equal(c.requirePosition, true)
  t.equal(c.adminTokenGenerated, false)
  t.throws(() => loadConfig({ FUELPAY_HTTP_PORT: 'eighty' }), /FUELPAY_HTTP_PORT/)
  t.throws(() => loadConfig({ FUELPAY_HTTP_PORT: '70000' }), /FUELPAY_HTTP_PORT/)
  t.throws(() => loadConfig({ FUELPAY_ADMIN_TOKEN: 'short' }), /FUELPAY_ADMIN_TOKEN/)
  t.throws(() => loadConfig({ DATABASE_URL: 'mysql://x' }), /DATABASE_URL/)
  t.throws(() => loadConfig({ LOG_LEVEL: 'loud' }), /LOG_LEVEL/)
  t.throws(() => loadConfig({ FUELPAY_IDEMPOTENCY_TTL_MS: '1000' }), /IDEMPOTENCY/)
  t.throws(() => loadConfig({ FUELPAY_REQUIRE_POSITION: 'maybe', FUELPAY_MQTT_PORT: '-1' }), /MQTT_PORT.*REQUIRE_POSITION/)
})

t.test('pump authorization lifetime, pump session bound, external broker and Mosquitto passwords', async (t) => {
  const d = loadConfig({})
  t.equal(d.pumpAuthorizationTtlS, 120)
  t.equal(d.pumpSessionMaxMs, 15 * 60_000)
  t.equal(d.embeddedBroker, true)
  t.equal(d.mqttPasswordsFile, undefined)
  const c = loadConfig({
    FUELPAY_PUMP_AUTHORIZATION_TTL_S: '5',
    FUELPAY_PUMP_SESSION_MAX_MS: '60000',
    FUELPAY_EMBEDDED_BROKER: 'false',
    FUELPAY_BROKER_URL: 'mqtt://127.0.0.1:18830',
    FUELPAY_MQTT_PASSWORDS_FILE: '/etc/fuelpay/credentials.json',
  })
  t.equal(c.pumpAuthorizationTtlS, 5)
  t.equal(c.pumpSessionMaxMs, 60_000)
  t.equal(c.embeddedBroker, false)
  t.equal(c.mqttPasswordsFile, '/etc/fuelpay/credentials.json')
  t.throws(() => loadConfig({ FUELPAY_PUMP_AUTHORIZATION_TTL_S: '0' }), /PUMP_AUTHORIZATION_TTL_S/)
  t.throws(() => loadConfig({ FUELPAY_PUMP_AUTHORIZATION_TTL_S: '601' }), /PUMP_AUTHORIZATION_TTL_S/)
  t.throws(() => loadConfig({ FUELPAY_PUMP_SESSION_MAX_MS: '10' }), /PUMP_SESSION_MAX_MS/)
  t.throws(() => loadConfig({ FUELPAY_EMBEDDED_BROKER: 'false' }), /needs FUELPAY_BROKER_URL/)
  t.throws(() => loadConfig({ FUELPAY_MQTT_PASSWORDS_FILE: '/x.json' }), /external broker/)
})

t.test('replicas: FUELPAY_REDIS_URL and FUELPAY_CLOUD_ID', async (t) => {
  t.equal(loadConfig({}).redisUrl, undefined)
  t.equal(loadConfig({}).cloudId, 'main', 'one machine: the cloud is cloud-main')
  const pg = { DATABASE_URL: 'postgres://h/db' }
  const r = loadConfig({ ...pg, FUELPAY_REDIS_URL: 'redis://127.0.0.1:6379/1', FUELPAY_CLOUD_ID: 'eu-1' })
  t.same([r.redisUrl, r.cloudId], ['redis://127.0.0.1:6379/1', 'eu-1'])
  const a = loadConfig({ ...pg, FUELPAY_REDIS_URL: 'redis://h' }).cloudId
  const b = loadConfig({ ...pg, FUELPAY_REDIS_URL: 'redis://h' }).cloudId
  t.match(a, /^r[0-9a-f]{8}$/, 'with Redis and no name, a name of its own')
  t.not(a, b, "so two replicas never take each other's place")
  t.throws(() => loadConfig({ ...pg, FUELPAY_REDIS_URL: 'http://h' }), /redis:\/\//)
  t.throws(() => loadConfig({ FUELPAY_REDIS_URL: 'redis://h' }), /share one PostgreSQL: set DATABASE_URL/)
  t.throws(() => loadConfig({ ...pg, FUELPAY_REDIS_URL: 'redis://h', FUELPAY_EMBEDDED_BROKER: 'false', FUELPAY_BROKER_URL: 'mqtt://h' }), /embedded broker/)
  t.throws(() => loadConfig({ FUELPAY_CLOUD_ID: 'a/b' }), /FUELPAY_CLOUD_ID/)
})

t.test('an admin token that could never be presented as a bearer token is refused at start', async (t) => {
  t.equal(loadConfig({ FUELPAY_ADMIN_TOKEN: 'x'.repeat(4096) }).adminToken.length, 4096)
  for (const bad of ['short', 'has a space inside it', 'x'.repeat(4097), 'tab\there-0123456789', 'ümlaut-0123456789ab'])
    t.throws(() => loadConfig({ FUELPAY_ADMIN_TOKEN: bad }), /FUELPAY_ADMIN_TOKEN must be 16-4096 printable/, JSON.stringify(bad.slice(0, 30)))
})
