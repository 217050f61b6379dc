import type { Socket } from 'node:net'

/**
 * MQTT 3.1.1 has no way to announce a maximum packet size (that came with
 * MQTT 5), and aedes 1.x has no option for one: its parser buffers a packet
 * of any declared length (up to 256 MB, [MQTT-2.2.3]) before handing it on.
 * So the broker reads each packet's fixed header itself and closes the
 * connection as soon as a packet declares more than the limit, before the
 * body is buffered ([MQTT-4.8.0-1]: a protocol violation closes the network
 * connection; there is no return code to send).
 *
 * The scanner is pure: it walks fixed headers across chunk boundaries and
 * skips bodies, so its state is a few numbers whatever the traffic.
 *
 * @example
 *   const scan = createFrameScanner(20 * 1024)
 *   scan(chunk) // { ok: true } or { ok: false, packetBytes: 300000 }
 */
export type FrameVerdict =
  | { ok: true }
  | { ok: false; reason: 'oversize'; packetBytes: number }
  | { ok: false; reason: 'malformed-length' }

export function createFrameScanner(maxPacketBytes: number): (chunk: Uint8Array) => FrameVerdict {
  let phase: 'header' | 'length' | 'body' = 'header'
  let length = 0
  let multiplier = 1
  let lengthBytes = 0
  let remaining = 0
  return (chunk) => {
    let i = 0
    while (i < chunk.length) {
      if (phase === 'header') {
        i += 1
        phase = 'length'
        length = 0
        multiplier = 1
        lengthBytes = 0
      } else if (phase === 'length') {
        const b = chunk[i] as number
        i += 1
        lengthBytes += 1
        // [MQTT-2.2.3]: the remaining length is at most four bytes.
        if (lengthBytes > 4) return { ok: false, reason: 'malformed-length' }
        length += (b & 0x7f) * multiplier
        multiplier *= 128
        if ((b & 0x80) === 0) {
          const packetBytes = 1 + lengthBytes + length
          if (packetBytes > maxPacketBytes) return { ok: false, reason: 'oversize', packetBytes }
          remaining = length
          phase = remaining === 0 ? 'header' : 'body'
        }
      } else {
        const skip = Math.min(remaining, chunk.length - i)
        i += skip
        remaining -= skip
        if (remaining === 0) phase = 'header'
      }
    }
    return { ok: true }
  }
}

/**
 * Puts the scanner in front of whatever reads the socket. aedes reads its
 * connection with `socket.read()` from a 'readable' listener, so wrapping
 * `read` on this one socket sees every byte before the MQTT parser does; a
 * chunk with an oversize header is never handed on, and the socket is
 * destroyed with an error that aedes reports as a client error (the will, if
 * any, is then published as for any broken connection).
 */
export function guardSocket(
  socket: Socket,
  maxPacketBytes: number,
  onViolation: (verdict: Exclude<FrameVerdict, { ok: true }>) => void,
): void {
  const scan = createFrameScanner(maxPacketBytes)
  const read = socket.read.bind(socket)
  socket.read = ((size?: number) => {
    const chunk: unknown = read(size)
    if (chunk === null || socket.destroyed) return chunk
    const verdict = scan(chunk as Uint8Array)
    if (verdict.ok) return chunk
    onViolation(verdict)
    socket.destroy(
      new Error(
        verdict.reason === 'oversize'
          ? `packet of ${verdict.packetBytes} bytes exceeds the ${maxPacketBytes}-byte limit`
          : 'malformed remaining length',
      ),
    )
    return null
  }) as Socket['read']
}
