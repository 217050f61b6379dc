import { allowed } from '@fuelpay/proto'
import t from 'tap'
import { ACL_CASES, describe } from './acl-table.ts'

t.test("the cross-check table states proto's allowed() exactly", async (t) => {
  for (const c of ACL_CASES) {
    const got =
      c.action === 'publish'
        ? allowed(c.who, { action: 'publish', topic: c.topic, retain: c.retain ?? false })
        : allowed(c.who, { action: 'subscribe', filter: c.topic })
    t.equal(got, c.allowed, describe(c))
  }
})
