import { readFile } from 'node:fs/promises'
import { formatAmount, importSigningKey } from '@fuelpay/proto'
import { runUtterance } from '@fuelpay/vehicle-agent'
import t from 'tap'
import { startWorld } from './helpers/fixture.ts'

// Issue 5: pay by voice in each language through the cloud and a pump
// controller (both real processes); the agent runs here, as in the car.
const CASES = [
  { lang: 'en', text: 'pay for pump 1 with 20 euros of diesel', yes: 'yes', amountMinor: 2000, pump: 1 },
  { lang: 'de', text: 'Bitte Säule 2 mit 25 Euro Diesel bezahlen', yes: 'ja', amountMinor: 2500, pump: 2 },
  { lang: 'fr', text: 'Payer la pompe 1, 30 euros de gazole', yes: 'oui', amountMinor: 3000, pump: 1 },
  { lang: 'ar', text: 'ادفع للمضخة رقم ٢ بخمسة وثلاثين يورو ديزل', yes: 'نعم', amountMinor: 3500, pump: 2 },
] as const

t.test('a driver pays by voice in English, German, French and Arabic', async (t) => {
  const world = await startWorld({ autoLiftMs: 200 })
  t.teardown(world.close)
  await world.startController()
  const key = await importSigningKey(JSON.parse(await readFile(world.vehicle.keyFile, 'utf8')))

  for (const c of CASES) {
    const outcome = await runUtterance({
      vehicleId: world.vehicle.id,
      cloudUrl: world.httpUrl,
      key,
      text: c.text,
      answers: [c.yes],
      position: { lat: world.station.lat, lon: world.station.lon },
    })
    const said = outcome.replies.map((r) => r.text).join(' | ')
    t.equal(outcome.paid, true, `${c.lang}: paid (${outcome.code ?? ''} ${said})`)
    t.ok(outcome.replies.every((r) => r.lang === c.lang), `${c.lang}: every reply is in the driver's language`)
    // German and French write the decimal comma: 25,00 EUR.
    const [major, minor] = (formatAmount(c.amountMinor, 'EUR').split(' ')[0] as string).split('.')
    t.match(said, new RegExp(`${major}[.,]${minor} EUR`), `${c.lang}: the hold of ${formatAmount(c.amountMinor, 'EUR')} is read back`)
    t.equal(outcome.receipt?.pump, c.pump, `${c.lang}: receipt for pump ${c.pump}`)
    t.ok((outcome.receipt?.amountMinor ?? 0) > 0 && (outcome.receipt?.amountMinor ?? 0) <= c.amountMinor, `${c.lang}: charged within the hold`)
  }

  const res = await fetch(`${world.httpUrl}/v1/admin/ledger/verify`, { headers: { authorization: `Bearer ${world.adminToken}` } })
  const verify = (await res.json()) as { ok: boolean; entries: number }
  t.equal(verify.ok, true, 'ledger balances after four sessions')
})
