/**
 * A seeded pseudo-random generator (sfc32, seeded through splitmix32), so that
 * a run with the same seed makes the same arrivals, scenarios, amounts and
 * fault times. Not for anything secret: keys and nonces come from node:crypto.
 *
 * @example const rng = createRng(42); rng.int(1, 6); rng.fork('arrivals').exponential(5)
 */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number
  /** Uniform integer in [min, max], both inclusive. */
  int(min: number, max: number): number
  /** Exponentially distributed with the given rate (mean 1/rate): Poisson inter-arrival times. */
  exponential(rate: number): number
  /** True with probability p. */
  chance(p: number): boolean
  /** One item by weight; weights need not sum to 1. */
  weighted<T extends string>(weights: Readonly<Record<T, number>>): T
  pick<T>(items: readonly T[]): T
  /** An independent stream derived from this seed and a label: adding draws to one stream does not shift another. */
  fork(label: string): Rng
  readonly seed: number
}

function splitmix32(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x9e3779b9) >>> 0
    let z = s
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
    return (z ^ (z >>> 16)) >>> 0
  }
}

/** FNV-1a: a stable 32-bit hash of a label, to derive fork seeds. */
export function hash32(text: string, basis = 0x811c9dc5): number {
  let h = basis >>> 0
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h
}

export function createRng(seed: number): Rng {
  if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`)
  const init = splitmix32(seed)
  let a = init()
  let b = init()
  let c = init()
  let d = init()
  const u32 = (): number => {
    // sfc32 (Chris Doty-Humphrey's Small Fast Counting generator).
    const t = (((a + b) >>> 0) + d) >>> 0
    d = (d + 1) >>> 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) >>> 0
    c = (c << 21) | (c >>> 11)
    c = (c + t) >>> 0
    return t
  }
  for (let i = 0; i < 12; i++) u32()
  const rng: Rng = {
    seed,
    next: () => u32() / 4294967296,
    int(min, max) {
      if (!Number.isInteger(min) || !Number.isInteger(max) || max < min)
        throw new RangeError(`bad int range [${min}, ${max}]`)
      return min + Math.floor(rng.next() * (max - min + 1))
    },
    exponential(rate) {
      if (!(rate > 0)) throw new RangeError(`rate must be positive, got ${rate}`)
      // 1 - next() is in (0, 1]: log never sees 0.
      return -Math.log(1 - rng.next()) / rate
    },
    chance: (p) => rng.next() < p,
    weighted(weights) {
      const entries = Object.entries(weights) as [string, number][]
      let total = 0
      for (const [, w] of entries) total += Math.max(0, w)
      if (total <= 0) throw new RangeError('weights sum to zero')
      let x = rng.next() * total
      for (const [k, w] of entries) {
        x -= Math.max(0, w)
        if (x < 0) return k as never
      }
      // Floating-point leftovers land on the last positive weight.
      return entries.filter(([, w]) => w > 0).at(-1)?.[0] as never
    },
    pick(items) {
      if (items.length === 0) throw new RangeError('pick from an empty list')
      return items[Math.floor(rng.next() * items.length)] as never
    },
    fork: (label) => createRng(hash32(label, (seed ^ 0x5bd1e995) >>> 0)),
  }
  return rng
}
