import { allowed, type Identity } from '@fuelpay/proto'
import t from 'tap'
import { runAclTable } from './acl-runner.ts'
import { ACL_CASES } from './acl-table.ts'
import { brokerKeys, connectAs, startBroker } from './helpers.ts'

t.test('aedes enforces exactly proto allowed() on the cross-check table', async (t) => {
  const { key, keys } = await brokerKeys()
  const { url } = await startBroker(t, { keys })
  const observer: Identity = { role: 'cloud', id: 'observer' }
  await runAclTable(
    t,
    {
      name: 'aedes',
      connect: (id) => connectAs(t, url, id, key),
      observer,
      deniedPublishDisconnects: true,
      grantsEverySubscribe: false,
      // aedes would disconnect a probe it refuses; $SYS has nothing retained.
      canProbe: (p) => p !== 'sys' && allowed(p.from, { action: 'publish', topic: p.topic }),
    },
    ACL_CASES,
    (c) => c.allowed,
  )
})
