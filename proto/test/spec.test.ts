import { readFileSync } from 'node:fs'
import t from 'tap'
import { fillReadme, generateSections, README_PATH } from '../scripts/gen-spec.ts'
import { MESSAGE_SCHEMAS, REASON_CODES, REASONS } from '../src/index.ts'

const readme = readFileSync(README_PATH, 'utf8')

t.test('the README tables are generated from the current schemas', async (t) => {
  t.equal(fillReadme(readme), readme, 'stale: run `npx tsx proto/scripts/gen-spec.ts`')
})

t.test('the specification covers every message type and reason code', async (t) => {
  for (const type of Object.keys(MESSAGE_SCHEMAS)) t.match(readme, `#### ${type}\n`, type)
  for (const code of REASON_CODES)
    t.match(readme, `| ${REASONS[code].number} | \`${code}\` |`, code)
  const sections = generateSections()
  t.same(Object.keys(sections).sort(), [
    'claims',
    'enums',
    'messages',
    'reasons',
    'topics',
    'types',
  ])
  t.throws(() => fillReadme('no markers'), /no .* section markers/)
})
