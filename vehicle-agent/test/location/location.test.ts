import { GEOFENCE_ACCURACY_ALLOWANCE_M, type StationSummary } from '@fuelpay/proto'
import t from 'tap'
import { BEACON_ONLY_MAX_M, type BeaconSighting, beaconOnlyReachM, resolveWhereabouts } from '../../src/location/location.ts'
import { OTHER_STATION, STATION } from '../helpers/fakes.ts'

// About 111 m per 0.001 degree of latitude; STATION's geofence is 150 m.
const here = { lat: STATION.lat, lon: STATION.lon }
const north = (m: number) => ({ lat: here.lat + m / 111_195, lon: here.lon })
/** A station 2.2 km north of STATION, with its own beacon. */
const FAR: StationSummary = { ...STATION, id: 'st-berlin-far', name: 'Fuelpay Berlin Nord', ...north(2200), beaconMajor: 900 }
/** A station across the road: its geofence overlaps STATION's. */
const ACROSS: StationSummary = { ...STATION, id: 'st-berlin-across', name: 'Fuelpay Berlin Gegenüber', ...north(80), beaconMajor: 901 }
const beacon = (major: number, minor: number, rssi: number): BeaconSighting => ({ major, minor, txPower: -59, rssi })

t.test('inside a geofence, a beacon of a station whose geofence does not hold the car is ignored', async (t) => {
  const w = resolveWhereabouts({ position: { ...here, accuracyM: 5 }, stations: [STATION, FAR], beacons: [beacon(900, 2, -40)] })
  t.equal(w.station?.id, STATION.id, 'the station the car is at')
  t.equal(w.beaconPump, undefined, "the other station's pump beacon proposes nothing here")
  t.equal(w.ignoredBeaconStationId, FAR.id, 'and the ignored beacon is reported')
  const mixed = resolveWhereabouts({ position: here, stations: [STATION, FAR], beacons: [beacon(900, 1, -40), beacon(4242, 3, -75)] })
  t.equal(mixed.station?.id, STATION.id)
  t.equal(mixed.beaconPump, 3, "this station's own pump beacon still proposes, though weaker")
})

t.test('overlapping geofences: the strongest beacon among them picks, else the nearest', async (t) => {
  const between = north(50)
  const byBeacon = resolveWhereabouts({ position: between, stations: [STATION, ACROSS], beacons: [beacon(4242, 1, -80), beacon(901, 2, -50)] })
  t.equal(byBeacon.station?.id, ACROSS.id)
  t.equal(byBeacon.beaconPump, 2)
  t.equal(byBeacon.ignoredBeaconStationId, undefined)
  t.equal(resolveWhereabouts({ position: between, stations: [STATION, ACROSS], beacons: [] }).station?.id, ACROSS.id, '30 m from one, 50 m from the other')
  t.equal(resolveWhereabouts({ position: here, stations: [ACROSS, STATION], beacons: [] }).station?.id, STATION.id)
})

t.test('outside every geofence (GPS under a canopy) a beacon still names its station; nothing heard is outside', async (t) => {
  const off = north(400)
  const w = resolveWhereabouts({ position: off, stations: [STATION, OTHER_STATION], beacons: [beacon(4242, 2, -60)] })
  t.equal(w.station?.id, STATION.id, 'named by its beacon')
  t.equal(w.byBeacon, true, 'so the hold goes without the fix, which the cloud would refuse')
  t.equal(w.beaconPump, 2)
  t.equal(resolveWhereabouts({ position: here, stations: [STATION], beacons: [beacon(4242, 2, -60)] }).byBeacon, undefined, 'inside the geofence the fix goes along')
  t.equal(
    resolveWhereabouts({ position: north(150 + BEACON_ONLY_MAX_M + 50), stations: [STATION], beacons: [beacon(4242, 2, -40)] }).reason?.code,
    'OUTSIDE_GEOFENCE',
    'a beacon of a station farther from the fix than a canopy could explain was carried or copied',
  )
  const named = (m: number, accuracyM?: number) =>
    resolveWhereabouts({ position: { ...north(m), ...(accuracyM !== undefined ? { accuracyM } : {}) }, stations: [STATION], beacons: [beacon(4242, 2, -40)] }).station?.id
  t.equal(named(450, 5), undefined, 'a precise fix 300 m outside the geofence rules the station out')
  t.equal(named(240, 5), STATION.id, 'within 100 m of it, the beacon names it')
  t.equal(named(450, 120), STATION.id, 'a poor fix (120 m) 300 m outside: the beacon names it')
  t.equal(beaconOnlyReachM({ lat: 0, lon: 0, accuracyM: 1000 }), BEACON_ONLY_MAX_M)
  t.equal(resolveWhereabouts({ position: undefined, stations: [STATION], beacons: [beacon(4242, 2, -60)] }).station?.id, STATION.id, 'no fix: the beacon alone')
  t.equal(resolveWhereabouts({ position: off, stations: [STATION], beacons: [] }).reason?.code, 'OUTSIDE_GEOFENCE')
  t.equal(resolveWhereabouts({ position: off, stations: [STATION], beacons: [beacon(5, 1, -40)] }).reason?.code, 'OUTSIDE_GEOFENCE', 'a beacon of no listed station')
  t.equal(resolveWhereabouts({ position: north(155), stations: [STATION], beacons: [] }).reason?.code, 'OUTSIDE_GEOFENCE')
  t.equal(resolveWhereabouts({ position: { ...north(155), accuracyM: 10 }, stations: [STATION], beacons: [] }).station?.id, STATION.id, "the fix's accuracy counts")
  t.equal(
    resolveWhereabouts({ position: { ...north(260), accuracyM: 500 }, stations: [STATION], beacons: [] }).reason?.code,
    'OUTSIDE_GEOFENCE',
    `but at most ${GEOFENCE_ACCURACY_ALLOWANCE_M} m of it, as at the cloud`,
  )
})
