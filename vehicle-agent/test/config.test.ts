import t from 'tap'
import { parseArgs, UsageError } from '../src/config.ts'

t.test('the command line', async (t) => {
  const base = ['--vehicle-id', 'car7', '--cloud-url', 'http://x', '--key-file', 'car.jwk']
  const c = parseArgs([...base, '--lat', '52.5', '--lon', '13.4', '--yes', '--beacon', '4242:2:-48', 'say', 'pay', 'for', 'pump', '2'], {})
  t.match(c, { vehicleId: 'car7', lat: 52.5, lon: 13.4, yes: true, lang: 'en', mode: { kind: 'say', text: 'pay for pump 2' } })
  t.same(c.beacons, [{ major: 4242, minor: 2, rssi: -48, txPower: -59 }])
  t.ok(Object.isFrozen(c))
  t.match(parseArgs([...base, '--audio', 'x.wav'], {}).mode, { kind: 'audio', path: 'x.wav' })
  t.match(parseArgs([...base, '--lang', 'ar', 'interactive'], {}), { lang: 'ar', mode: { kind: 'interactive' } })
  for (const bad of [
    [...base],
    ['--cloud-url', 'http://x', '--key-file', 'k', 'say', 'hi'],
    [...base, '--lat', '1', 'say', 'x'],
    [...base, '--lat', 'north', '--lon', '1', 'say', 'x'],
    [...base, '--lang', 'xx', 'say', 'x'],
    [...base, '--beacon', 'oops', 'say', 'x'],
    [...base, 'say'],
    [...base, 'bogus'],
    [...base, '--audio'],
    // A mistyped option must not be dropped: without --lat the car has no position and finds no station.
    [...base, '--latitude', '52.5', '--lon', '13.4', 'say', 'x'],
    [...base, '--state_dir', '/var/lib/car', 'say', 'x'],
    [...base, '--lat', '95', '--lon', '13.4', 'say', 'x'],
    [...base, '--lat', '52.5', '--lon', '-181', 'say', 'x'],
  ]) t.throws(() => parseArgs(bad, {}), UsageError, bad.join(' '))
})
