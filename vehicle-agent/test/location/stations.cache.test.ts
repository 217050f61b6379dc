import t from 'tap'
import { createStationsCache, DEFAULT_STATIONS_CACHE } from '../../src/location/stations.cache.ts'
import { OTHER_STATION, STATION } from '../helpers/fakes.ts'

// About 111 m per 0.001 degree of latitude.
const here = { lat: STATION.lat, lon: STATION.lon }
const north = (m: number) => ({ lat: here.lat + m / 111_195, lon: here.lon })

function clock(start = 1_000_000) {
  let nowMs = start
  return { now: () => nowMs, advance: (ms: number) => (nowMs += ms) }
}

t.test('a lookup is reused near where it was made, while it is young', async (t) => {
  const c = clock()
  const cache = createStationsCache({ now: c.now })
  t.equal(cache.get(here), undefined, 'nothing before the first lookup')
  cache.put(here, [STATION])
  t.same(cache.get(here), [STATION], 'same place')
  t.same(cache.get(north(90)), [STATION], '90 m away')
  c.advance(DEFAULT_STATIONS_CACHE.maxAgeMs)
  t.same(cache.get(north(50)), [STATION], 'exactly maxAgeMs old')
})

t.test('not reused once the car moved beyond maxDistanceM', async (t) => {
  const cache = createStationsCache({ now: clock().now })
  cache.put(here, [STATION])
  t.equal(cache.get(north(110)), undefined, '110 m away')
  t.equal(cache.get({ lat: OTHER_STATION.lat, lon: OTHER_STATION.lon }), undefined, 'another city')
})

t.test('not reused once older than maxAgeMs, and an aged entry is dropped', async (t) => {
  const c = clock()
  const cache = createStationsCache({ now: c.now, maxAgeMs: 1000 })
  cache.put(here, [STATION])
  c.advance(1001)
  t.equal(cache.get(here), undefined)
  c.advance(-1001)
  t.equal(cache.get(here), undefined, 'dropped, not just hidden')
})

t.test('a clock that went back does not make an entry young again', async (t) => {
  const c = clock()
  const cache = createStationsCache({ now: c.now })
  cache.put(here, [STATION])
  c.advance(-1)
  t.equal(cache.get(here), undefined)
})

t.test('the nearest fitting lookup wins; entries are bounded; clear empties', async (t) => {
  const c = clock()
  const cache = createStationsCache({ now: c.now, maxEntries: 2 })
  cache.put(north(60), [OTHER_STATION])
  cache.put(north(10), [STATION])
  t.same(cache.get(here), [STATION], 'the lookup 10 m away, not the one 60 m away')
  t.same(cache.get(north(150)), [OTHER_STATION], 'only the lookup 60 m north is within reach')
  cache.put(north(5000), [])
  t.equal(cache.get(north(150)), undefined, 'the oldest entry went when a third came')
  t.same(cache.get(here), [STATION])
  cache.clear()
  t.equal(cache.get(here), undefined)
})

t.test('what was put is a copy: changing the caller\'s array does not change the cache', async (t) => {
  const cache = createStationsCache({ now: clock().now })
  const list = [STATION]
  const at = { ...here }
  cache.put(at, list)
  list.push(OTHER_STATION)
  at.lat += 1
  t.same(cache.get(here), [STATION])
})

t.test('bad bounds are refused', async (t) => {
  const now = () => 0
  t.throws(() => createStationsCache({ now, maxAgeMs: -1 }), RangeError)
  t.throws(() => createStationsCache({ now, maxDistanceM: Number.NaN }), RangeError)
  t.throws(() => createStationsCache({ now, maxEntries: 0 }), RangeError)
  t.throws(() => createStationsCache({ now, maxEntries: 1.5 }), RangeError)
})
