import t from 'tap'
import { parseSimConfig } from '../src/config.ts'

t.test('numbers must be plain decimals: empty, blank or hex text is refused, not read as 0', async (t) => {
  for (const [flag, raw] of [
    ['--seed', ''],
    ['--seed', ' '],
    ['--offline', ''],
    ['--seed', '0x10'],
    ['--vehicles', '1e2'],
    ['--rate', '=-5'],
  ] as const) {
    const args = raw.startsWith('=') ? [`${flag}${raw}`] : [flag, raw]
    t.throws(() => parseSimConfig(args), RangeError, `${args.join(' ')} is refused`)
  }
  t.equal(parseSimConfig(['--rate', '2.5']).ratePerS, 2.5)
  t.equal(parseSimConfig(['--seed', '0']).seed, 0)
})

t.test('options that would be ignored are refused', async (t) => {
  t.throws(() => parseSimConfig(['--broker-url', 'mqtt://x']), /--broker-url.*--cloud-url/)
  t.throws(
    () =>
      parseSimConfig([
        '--cloud-url',
        'http://x',
        '--broker-url',
        'mqtt://y',
        '--admin-token',
        'abcdefabcdefabcdef',
        '--spawn-cloud',
      ]),
    /--spawn-cloud/,
  )
  t.throws(() => parseSimConfig(['--log-level', 'loud']), /--log-level/)
  t.throws(() => parseSimConfig(['--mix', 'happy=1,happy=0']), /twice/)
})

t.test('--car is an option like the others', async (t) => {
  t.equal(parseSimConfig([]).car, 'agent')
  t.equal(parseSimConfig(['--car', 'wire']).car, 'wire')
  t.equal(parseSimConfig(['--car=wire']).car, 'wire')
  t.throws(() => parseSimConfig(['--car', 'bus']), RangeError)
  t.throws(() => parseSimConfig(['--car']))
})
