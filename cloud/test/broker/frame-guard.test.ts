import t from 'tap'
import { createFrameScanner } from '../../src/broker/frame-guard.ts'

/** A PUBLISH-like frame: fixed header byte, variable-length remaining length, body. */
function frame(bodyBytes: number): Buffer {
  const len: number[] = []
  let x = bodyBytes
  do {
    let b = x % 128
    x = Math.floor(x / 128)
    if (x > 0) b |= 0x80
    len.push(b)
  } while (x > 0)
  return Buffer.concat([Buffer.from([0x30, ...len]), Buffer.alloc(bodyBytes, 0x61)])
}

t.test('packets up to the limit pass, in any chunking', async (t) => {
  const stream = Buffer.concat([frame(0), frame(100), frame(127), frame(128), frame(1000 - 3)])
  for (const size of [1, 2, 3, 7, 64, stream.length]) {
    const scan = createFrameScanner(1000)
    let verdict: ReturnType<typeof scan> = { ok: true }
    for (let i = 0; i < stream.length && verdict.ok; i += size)
      verdict = scan(stream.subarray(i, i + size))
    t.same(verdict, { ok: true }, `chunks of ${size}`)
  }
})

t.test('a packet over the limit is caught from its header, before its body', async (t) => {
  const scan = createFrameScanner(1000)
  t.same(scan(frame(10)), { ok: true })
  const big = frame(1000)
  t.same(scan(big.subarray(0, 3)), { ok: false, reason: 'oversize', packetBytes: 1003 })
  const huge = createFrameScanner(1000)
  t.same(huge(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f])), {
    ok: false,
    reason: 'oversize',
    packetBytes: 268435460,
  })
})

t.test('a remaining length over four bytes is malformed [MQTT-2.2.3]', async (t) => {
  const scan = createFrameScanner(1 << 30)
  t.same(scan(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x80, 0x01])), {
    ok: false,
    reason: 'malformed-length',
  })
})
