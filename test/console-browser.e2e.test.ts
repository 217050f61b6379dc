import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { reason } from '@fuelpay/proto'
import { chromium } from 'playwright-core'
import t from 'tap'
import { adminPost, fakeStation, provisionOperator, startTestCloud, testDatabase } from '../cloud/test/console/helpers.ts'
import { admin, startWorld } from './helpers/fixture.ts'
import { ROOT, startProgram } from './helpers/processes.ts'

// Issue 6, browser test: the console page in headless Debian Chromium shows a
// real payment live (cloud, pump controller with a simulated pump and the
// vehicle agent as real processes), and an emergency stop clicked on the page
// stops the real simulated pump. Screenshots go to reports/ (git-ignored).
t.test('the console page shows a payment live and stops the pump', async (t) => {
  const world = await startWorld()
  t.teardown(world.close)
  // A slow pump (0.5 L/s) so that the fuelling lasts long enough to watch and stop.
  const controller = await world.startController(['--sim-flow-rate', '500'])
  const ready = await controller.waitForLog('pump controller ready', 1000)
  // Re-provisioning the fixture's operator issues a fresh API key for it.
  const op = await admin<{ id: string; apiKey: string }>(world.httpUrl, world.adminToken, '/v1/admin/operators', { id: 'op-e2e', name: 'E2E Fuels' })

  const profile = await mkdtemp(join(tmpdir(), 'fuelpay-chromium-'))
  t.teardown(() => rm(profile, { recursive: true, force: true }))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1600, height: 900 },
    timeout: 60_000,
  })
  t.teardown(() => context.close())
  const page = context.pages()[0] ?? (await context.newPage())
  page.setDefaultTimeout(30_000)
  const pageErrors: string[] = []
  page.on('pageerror', (e) => pageErrors.push(e.message))

  await page.goto(`${world.httpUrl}/console`)
  await page.locator('#api-key').fill(op.apiKey)
  await page.locator('#login-go').click()
  const pump2 = page.locator('[data-pump="st-e2e/2"]')
  await pump2.waitFor()
  t.equal(await page.locator('#status').textContent(), 'Live', 'connected and live')
  t.notOk(page.url().includes(op.apiKey), 'the key never appears in the URL')

  const agent = startProgram('vehicle-agent/src/main.ts', [
    '--vehicle-id', world.vehicle.id,
    '--cloud-url', world.httpUrl,
    '--key-file', world.vehicle.keyFile,
    '--state-dir', join(world.dir, 'agent-state'),
    '--lat', String(world.station.lat),
    '--lon', String(world.station.lon),
    '--yes',
    'say', 'pay for pump 2 with 40 euros of diesel',
  ])
  t.teardown(() => agent.kill())

  await page.locator('[data-pump="st-e2e/2"][data-state="fueling"]').waitFor({ timeout: 60_000 })
  const first = (await pump2.locator('.amount').textContent()) ?? ''
  // Ticks: the amount on the page changes while fuel flows (bounded wait).
  let later = first
  for (let i = 0; i < 40 && later === first; i++) {
    await page.waitForTimeout(250)
    later = (await pump2.locator('.amount').textContent()) ?? ''
  }
  t.not(later, first, `the amount ticks live (${first} -> ${later})`)
  t.match(later, /^\d+\.\d{2} EUR$/, 'formatted from integer minor units')
  t.match((await pump2.locator('.grade').textContent()) ?? '', /diesel @ 1\.799 EUR\/L/)
  await page.locator('.session', { hasText: 'st-e2e · pump 2' }).first().waitFor()

  await mkdir(join(ROOT, 'reports'), { recursive: true })
  await page.screenshot({ path: join(ROOT, 'reports', 'console-fueling.png'), fullPage: true })

  // The session's detail with its ledger: the hold is posted while fuel flows.
  await pump2.locator('button', { hasText: 'Session' }).click()
  await page.locator('#detail-ledger tr', { hasText: 'customer_hold' }).waitFor()
  t.match((await page.locator('#detail-ledger').textContent()) ?? '', /40\.00 EUR/, 'the hold entry shows 40.00 EUR')
  await page.screenshot({ path: join(ROOT, 'reports', 'console-session.png'), fullPage: false })
  await page.keyboard.press('Escape')

  // Emergency stop from the page, with its confirmation.
  await pump2.locator('button.estop').click()
  await page.locator('#confirm-yes').click()
  await page.locator('.toast.ok', { hasText: 'Pump 2 stopped' }).waitFor()
  await page.locator('[data-pump="st-e2e/2"][data-state="suspended"]').waitFor()
  const health = (await fetch(String(ready.healthUrl)).then((r) => r.json())) as { pumps: { pump: number; state: string }[] }
  t.equal(health.pumps.find((p) => p.pump === 2)?.state, 'suspended', 'the real pump controller stopped pump 2')
  const stoppedAt = await pump2.locator('.amount').textContent()
  await page.waitForTimeout(1500)
  t.equal(await pump2.locator('.amount').textContent(), stoppedAt, 'no more fuel after the stop')
  await page.screenshot({ path: join(ROOT, 'reports', 'console-stopped.png'), fullPage: true })

  // Narrow screen: the same page on a laptop-sized window stays usable.
  await page.setViewportSize({ width: 900, height: 1000 })
  await page.screenshot({ path: join(ROOT, 'reports', 'console-narrow.png'), fullPage: false })

  // The cloud goes away: the page says, clearly, that what it shows is stale, and keeps retrying.
  await world.cloud.kill()
  await page.locator('#stale', { hasText: 'STALE' }).waitFor()
  t.equal(await page.locator('#status').textContent(), 'Stale')
  t.match((await page.locator('#stale').textContent()) ?? '', /Reconnecting/)
  await page.screenshot({ path: join(ROOT, 'reports', 'console-stale.png'), fullPage: false })
  t.same(pageErrors, [], 'no script errors on the page')
})

// What the page shows of a station that went offline, and of hostile text
// from the station side (its name, a pump's reason message): a cloud with a
// stand-in station on the real broker, the page in headless Chromium.
t.test('an offline station\'s pumps show their last report, not live numbers; hostile names stay text', async (t) => {
  const tdb = await testDatabase(t)
  const cloud = await startTestCloud(t, tdb)
  const op = await provisionOperator(cloud.httpUrl, 'op-page', ['st-page'])
  const hostile = '<img src=x onerror="window.__pwned=1">'
  const key = op.stationKeys['st-page']
  if (!key) throw new Error('station key missing')
  await adminPost(cloud.httpUrl, '/v1/admin/stations', {
    id: 'st-page',
    operatorId: 'op-page',
    name: hostile,
    lat: 48.1,
    lon: 11.5,
    geofenceRadiusM: 150,
    currency: 'EUR',
    volumeUnit: 'L',
    publicJwk: key.publicJwk,
    pumps: [1, 2].map((pump) => ({ pump, grades: [{ grade: 'diesel', unitPriceMilli: 1799 }] })),
  })
  const station = await fakeStation(cloud, 'st-page')
  t.teardown(() => station.close())
  await station.status(true)
  await station.pumpState({ pump: 1, state: 'fueling', grade: 'diesel', unitPriceMilli: 1799, volumeMilli: 5000, amountMinor: 900, currency: 'EUR' })
  await station.pumpState({ pump: 2, state: 'fault', volumeMilli: 0, amountMinor: 0, currency: 'EUR', reason: reason('PUMP_FAULT', hostile) })

  const profile = await mkdtemp(join(tmpdir(), 'fuelpay-chromium-'))
  t.teardown(() => rm(profile, { recursive: true, force: true }))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: 60_000,
  })
  t.teardown(() => context.close())
  const page = context.pages()[0] ?? (await context.newPage())
  page.setDefaultTimeout(15_000)
  const pageErrors: string[] = []
  page.on('pageerror', (e) => pageErrors.push(e.message))
  await page.goto(`${cloud.httpUrl}/console`)
  await page.locator('#api-key').fill(op.apiKey)
  await page.locator('#login-go').click()
  const pump1 = page.locator('[data-pump="st-page/1"][data-state="fueling"]')
  await pump1.waitFor()
  t.equal(await page.locator('.station-head h2').textContent(), hostile, 'the station name is shown as text')
  await page.locator('[data-pump="st-page/2"] .why', { hasText: 'onerror' }).waitFor()
  t.equal(await page.locator('img').count(), 0, 'no element made from station text')
  t.equal(await page.evaluate('window.__pwned'), undefined, 'no script ran')
  t.notOk(await pump1.evaluate((el) => el.classList.contains('unheard')), 'an online station is live')

  await station.status(false)
  await page.locator('[data-pump="st-page/1"].unheard').waitFor()
  t.match((await pump1.textContent()) ?? '', /Station offline: last report/, 'the pump says its numbers are the last report')
  await station.status(true)
  await page.locator('[data-pump="st-page/1"]:not(.unheard)').waitFor()
  t.same(pageErrors, [], 'no script errors on the page')
})
