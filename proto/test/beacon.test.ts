import fc from 'fast-check'
import t from 'tap'
import { beaconProximity, decodeBeacon, encodeBeacon, FUELPAY_BEACON_UUID } from '../src/index.ts'

const codeOf = (r: { ok: boolean; reason?: { code: string } }) => (r.ok ? 'ok' : r.reason?.code)

t.test(
  'layout: iBeacon type, length, fuelpay UUID, big-endian numbers, signed tx power',
  async (t) => {
    const b = encodeBeacon({ major: 0x1234, minor: 4, txPower: -59 })
    t.equal(b.length, 23)
    t.equal(b[0], 0x02)
    t.equal(b[1], 0x15)
    t.equal(b.subarray(2, 18).toString('hex'), FUELPAY_BEACON_UUID.replaceAll('-', ''))
    t.same([...b.subarray(18, 22)], [0x12, 0x34, 0x00, 0x04])
    t.equal(b[22], 256 - 59)
  },
)

t.test('round trip', async (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 0xffff }),
      fc.integer({ min: 0, max: 99 }),
      fc.integer({ min: -127, max: 20 }),
      (major, minor, txPower) => {
        const r = decodeBeacon(encodeBeacon({ major, minor, txPower }))
        return (
          r.ok && r.value.major === major && r.value.minor === minor && r.value.txPower === txPower
        )
      },
    ),
    { numRuns: 500 },
  )
  const r = decodeBeacon(new Uint8Array(encodeBeacon({ major: 1, minor: 0, txPower: -127 })))
  t.same(r, { ok: true, value: { major: 1, minor: 0, txPower: -127 } }, 'a plain Uint8Array')
})

t.test('encodeBeacon refuses numbers out of range', async (t) => {
  for (const bad of [
    { major: 0, minor: 1, txPower: -59 },
    { major: 65536, minor: 1, txPower: -59 },
    { major: 1.5, minor: 1, txPower: -59 },
    { major: 1, minor: -1, txPower: -59 },
    { major: 1, minor: 100, txPower: -59 },
    { major: 1, minor: 1, txPower: -128 },
    { major: 1, minor: 1, txPower: 21 },
    { major: 1, minor: 1, txPower: Number.NaN },
  ]) {
    t.throws(() => encodeBeacon(bad), RangeError, JSON.stringify(bad))
  }
})

t.test('decodeBeacon refuses garbage without throwing', async (t) => {
  const good = encodeBeacon({ major: 7, minor: 3, txPower: -59 })
  const patch = (at: number, ...bytes: number[]) => {
    const b = Buffer.from(good)
    bytes.forEach((v, i) => {
      b[at + i] = v
    })
    return b
  }
  const cases: [string, Uint8Array][] = [
    ['empty', new Uint8Array()],
    ['short', good.subarray(0, 22)],
    ['long', Buffer.concat([good, Buffer.from([0])])],
    ['not an iBeacon', patch(0, 0x03)],
    ['wrong length byte', patch(1, 0x16)],
    ['another UUID', patch(2, 0x00)],
    ['UUID last byte', patch(17, 0x00)],
    ['major 0', patch(18, 0, 0)],
    ['minor 100', patch(20, 0, 100)],
    ['minor 0xffff', patch(20, 0xff, 0xff)],
    ['tx power +21', patch(22, 21)],
    ['tx power -128', patch(22, 0x80)],
  ]
  for (const [name, data] of cases) t.equal(codeOf(decodeBeacon(data)), 'SCHEMA_INVALID', name)
  for (const junk of [undefined, null, 'x'.repeat(23), [...good], {}]) {
    t.equal(
      codeOf(decodeBeacon(junk as unknown as Uint8Array)),
      'SCHEMA_INVALID',
      String(junk).slice(0, 10),
    )
  }
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), (data) => {
      const r = decodeBeacon(data)
      return !r.ok || (r.value.major >= 1 && r.value.minor <= 99 && r.value.txPower <= 20)
    }),
    { numRuns: 500 },
  )
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 5, maxLength: 5 }), (tail) => {
      const b = Buffer.from(good)
      Buffer.from(tail).copy(b, 18)
      const r = decodeBeacon(b)
      return (
        r.ok ===
        (b.readUInt16BE(18) >= 1 &&
          b.readUInt16BE(20) <= 99 &&
          b.readInt8(22) >= -127 &&
          b.readInt8(22) <= 20)
      )
    }),
    { numRuns: 500 },
  )
})

t.test('proximity ranks a stronger signal as closer', async (t) => {
  t.ok(beaconProximity(-50, -59) > beaconProximity(-70, -59))
  t.ok(
    beaconProximity(-60, -70) > beaconProximity(-60, -59),
    'a weaker transmitter heard as loud is closer',
  )
})
