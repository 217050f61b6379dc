import { type FuelAuthorizationResponse, type ProgressMessage, type Reason, REASON_CODES } from '@fuelpay/proto'
import t from 'tap'
import { MESSAGE_KEYS, reasonText, say } from '../../src/dialogue/catalog.ts'
import { type DialogueEvent, type DialogueState, type Effect, initialState, transition } from '../../src/dialogue/dialogue.machine.ts'
import { parseUtterance } from '../../src/intent/intent.parser.ts'
import { LANGS } from '../../src/intent/numbers.ts'
import { STATION } from '../helpers/fakes.ts'

const utter = (text: string, hint: DialogueState['lang'] = 'en'): DialogueEvent => ({ type: 'utterance', parsed: parseUtterance(text, hint) })

function run(events: DialogueEvent[], s0 = initialState()) {
  let state = s0
  const effects: Effect[] = []
  for (const e of events) {
    const step = transition(state, e)
    state = step.state
    effects.push(...step.effects)
  }
  return { state, effects, said: effects.filter((e) => e.type === 'say').map((e) => (e as { text: string }).text) }
}

const hold = (over: Partial<FuelAuthorizationResponse> = {}): FuelAuthorizationResponse => ({
  sessionId: 'sess-1', state: 'held', token: 'tok.sess-1.x', holdAmountMinor: 5000, requestedAmountMinor: 5000, partial: false, currency: 'EUR',
  maxVolumeMilli: 27000, volumeUnit: 'L', grades: ['diesel'], expiresAt: new Date(0).toISOString(), station: { id: STATION.id, name: STATION.name }, pump: 2,
  paymentMethod: { id: 'pm-1', brand: 'visa', last4: '4242' }, ...over,
})
const located: DialogueEvent = { type: 'located', station: STATION }
const declined = (code: Reason['code']): DialogueEvent => ({ type: 'hold-declined', reason: { code, number: 400, message: 'x' } })

t.test('asks for the missing pump, then requests the hold with what was said', async (t) => {
  const r = run([utter('I want 50 euros of diesel'), located])
  t.equal(r.state.phase, 'collecting')
  t.equal(r.state.awaiting, 'pump')
  t.match(r.said.at(-1), /Which pump\? This station has pumps 1, 2 or 3/)
  const r2 = run([utter('two')], r.state)
  const req = r2.effects.find((e) => e.type === 'request-hold') as { request: Record<string, unknown> }
  t.same(req.request, { stationId: STATION.id, pump: 2, grade: 'diesel', amountMinor: 5000, currency: 'EUR' })
})

t.test("the hold request carries the car's position, so the cloud checks the geofence", async (t) => {
  const r = run([utter('pay for pump 2'), { type: 'located', station: STATION, position: { lat: 52.52, lon: 13.405, accuracyM: 7.4 } }])
  t.same((r.effects.find((e) => e.type === 'request-hold') as { request: Record<string, unknown> }).request.position, { lat: 52.52, lon: 13.405, accuracyM: 8 }, 'whole metres, rounded up')
  // A changed hold keeps it.
  const change = run([{ type: 'hold-granted', hold: hold() }, utter('no, pump 1')], r.state)
  t.same((change.effects.find((e) => e.type === 'request-hold') as { request: Record<string, unknown> }).request.position, { lat: 52.52, lon: 13.405, accuracyM: 8 })
  const none = run([utter('pay for pump 2'), located])
  t.notOk('position' in (none.effects.find((e) => e.type === 'request-hold') as { request: Record<string, unknown> }).request, 'none known, none sent')
})

t.test('a grade the pump does not sell is refused and asked for', async (t) => {
  const r = run([utter('pay for pump 3 with diesel'), located])
  t.equal(r.state.awaiting, 'grade')
  t.match(r.said.at(-1), /does not sell diesel\. It has LPG/)
  const r2 = run([utter('LPG')], r.state)
  t.ok(r2.effects.some((e) => e.type === 'request-hold'))
})

t.test('a pump that is not at this station is refused', async (t) => {
  const r = run([utter('pay for pump 7'), located])
  t.match(r.said[0], /There is no pump 7 at Fuelpay Berlin Mitte/)
  t.notOk(r.effects.some((e) => e.type === 'request-hold'))
  t.equal(r.state.awaiting, 'pump')
})

t.test('read-back names station, pump, grade, hold and card, and waits for yes', async (t) => {
  const r = run([utter('pay for pump 2 with diesel'), located, { type: 'hold-granted', hold: hold({ partial: true, requestedAmountMinor: 8000 }) }])
  t.equal(r.state.phase, 'confirming')
  t.equal(r.said.at(-1), 'Fuelpay Berlin Mitte, pump 2, diesel, up to 50.00 EUR (your bank approved less than asked) on visa ending 4242. Shall I activate the pump?')
  t.notOk(r.effects.some((e) => e.type === 'authorize-pump'), 'nothing activated before the yes')
  const yes = run([utter('yes')], r.state)
  t.match(yes.effects.find((e) => e.type === 'authorize-pump'), { stationId: STATION.id, pump: 2, sessionId: 'sess-1', token: 'tok.sess-1.x' })
  t.ok(yes.effects.some((e) => e.type === 'start-timer' && e.timer === 'pump-reply'), 'the wait for the pump is bounded')
})

t.test('read-back in each language, amounts spoken with the local decimal mark', async (t) => {
  const texts: [string, RegExp][] = [
    ['Säule 2 bezahlen', /Säule 2, Diesel, bis 50,00 EUR mit visa auf 4242\. Soll ich die Säule freischalten\?/],
    ['payer la pompe 2', /pompe 2, gazole, jusqu'à 50,00 EUR sur la carte visa finissant par 4242\. J'active la pompe \?/],
    ['ادفع للمضخة رقم ٢', /المضخة 2، ديزل، حتى 50\.00 EUR.*هل أشغل المضخة؟/],
  ]
  for (const [text, re] of texts) {
    const r = run([utter(text), located, { type: 'hold-granted', hold: hold() }])
    t.match(r.said.at(-1), re, text)
  }
})

t.test('a "no" voids the hold; "no, pump 1" voids it and asks for pump 1', async (t) => {
  const base = run([utter('pay for pump 2'), located, { type: 'hold-granted', hold: hold() }])
  const no = run([utter('no')], base.state)
  t.equal(no.state.outcome?.code, 'CANCELLED')
  t.ok(no.effects.some((e) => e.type === 'cancel-session' && e.sessionId === 'sess-1'))
  t.notOk(no.effects.some((e) => e.type === 'authorize-pump'))
  const change = run([utter('no, pump 1')], base.state)
  t.ok(change.effects.some((e) => e.type === 'cancel-session'))
  t.match(change.effects.find((e) => e.type === 'request-hold'), { request: { pump: 1 } })
  t.equal(change.state.phase, 'requesting_hold')
})

t.test('a yes naming another pump, fuel, amount or card does not activate the held pump', async (t) => {
  const cases: [string, Partial<FuelAuthorizationResponse>, Record<string, unknown>, RegExp][] = [
    ['yes, pump 3', {}, { pump: 3 }, /not what I read back \(pump\)/],
    ['yes diesel', { grades: ['unleaded95'] }, { pump: 2, grade: 'diesel' }, /\(fuel\)/],
    ['yes 40 euros', {}, { pump: 2, amountMinor: 4000, currency: 'EUR' }, /\(amount\)/],
    ['yes with my business card', {}, { pump: 2, paymentMethodName: 'business' }, /\(card\)/],
    ['yes, pump 1 with the business card', {}, { pump: 1, paymentMethodName: 'business' }, /\(pump and card\)/],
    ['ja, Säule 1', {}, { pump: 1 }, /vorgelesen habe \(Säule\)/],
    ['oui, pompe 1', {}, { pump: 1 }, /lu \(pompe\)/],
  ]
  for (const [text, held, request, re] of cases) {
    const base = run([utter('pay for pump 2'), located, { type: 'hold-granted', hold: hold(held) }])
    const r = run([utter(text)], base.state)
    t.notOk(r.effects.some((e) => e.type === 'authorize-pump'), `${text}: nothing activated`)
    t.ok(r.effects.some((e) => e.type === 'cancel-session' && e.sessionId === 'sess-1'), `${text}: the read-back's hold is released`)
    t.match(r.effects.find((e) => e.type === 'request-hold'), { request }, `${text}: a hold for what was said`)
    t.match(r.said.at(-1), re, `${text}: says what differs`)
    t.equal(r.state.phase, 'requesting_hold')
    t.equal(r.state.hold, undefined)
    // The new hold is read back and waits for its own yes.
    const again = run([{ type: 'hold-granted', hold: hold({ ...held, sessionId: 'sess-2', pump: request.pump as number }) }], r.state)
    t.equal(again.state.phase, 'confirming', `${text}: asked again`)
    t.notOk(again.effects.some((e) => e.type === 'authorize-pump'))
  }
  // A pump that is not here: the hold is released and the pump asked for.
  const base = run([utter('pay for pump 2'), located, { type: 'hold-granted', hold: hold() }])
  const away = run([utter('yes, pump 7')], base.state)
  t.ok(away.effects.some((e) => e.type === 'cancel-session'))
  t.notOk(away.effects.some((e) => e.type === 'authorize-pump' || e.type === 'request-hold'))
  t.equal(away.state.awaiting, 'pump')
})

t.test('a yes and a no in one answer at the read-back asks again', async (t) => {
  for (const text of ['yes... actually no', 'yes no', 'yes, no wait', 'ja nein', 'oui... non', 'نعم لا']) {
    const base = run([utter('pay for pump 2'), located, { type: 'hold-granted', hold: hold() }])
    const r = run([utter(text)], base.state)
    t.notOk(r.effects.some((e) => e.type === 'authorize-pump'), `${text}: nothing activated`)
    t.notOk(r.effects.some((e) => e.type === 'cancel-session'), `${text}: the hold waits for the answer`)
    t.equal(r.state.phase, 'confirming', text)
    t.equal(r.effects.filter((e) => e.type === 'say').at(-1)?.key, 'answerYesNo', `${text}: asked again`)
  }
})

t.test('a yes whose slots are what was read back is a plain yes', async (t) => {
  for (const text of ['yes, pump 2', 'yes diesel', 'yes 50 euros', 'yes with visa', 'ja, Diesel', 'oui, pompe 2']) {
    const base = run([utter('pay for pump 2'), located, { type: 'hold-granted', hold: hold() }])
    const r = run([utter(text)], base.state)
    t.match(r.effects.find((e) => e.type === 'authorize-pump'), { pump: 2, sessionId: 'sess-1' }, text)
    t.notOk(r.effects.some((e) => e.type === 'cancel-session'), `${text}: the hold is kept`)
  }
  const business = run([utter('pay for pump 2 with my business card'), located, { type: 'hold-granted', hold: hold() }, utter('yes, the business card')])
  t.ok(business.effects.some((e) => e.type === 'authorize-pump'), 'the card the hold was asked for')
})

t.test('cancel while waiting for the pump cancels on MQTT and in the cloud', async (t) => {
  const base = run([utter('pay for pump 2'), located, { type: 'hold-granted', hold: hold() }, utter('yes')])
  t.equal(base.state.phase, 'authorizing')
  const c = run([utter('cancel')], base.state)
  t.equal(c.state.outcome?.code, 'CANCELLED')
  t.ok(c.effects.some((e) => e.type === 'cancel-pump' && e.pump === 2 && e.sessionId === 'sess-1'))
  t.ok(c.effects.some((e) => e.type === 'cancel-session'))
  t.ok(c.effects.some((e) => e.type === 'clear-timer' && e.timer === 'pump-reply'))
  t.match(c.said.at(-1), /Cancelled/)
  // In German, after the pump is ready.
  const de = run([utter('Säule 2 bezahlen'), located, { type: 'hold-granted', hold: hold() }, utter('ja'), { type: 'pump-authorized', sessionId: 'sess-1', nozzleTimeoutMs: 60_000 }, utter('abbrechen')])
  t.equal(de.state.outcome?.code, 'CANCELLED')
  t.ok(de.effects.some((e) => e.type === 'cancel-pump'))
  t.match(de.said.at(-1), /Abgebrochen/)
})

t.test('a declined hold says its reason in the driver language', async (t) => {
  for (const [text, re] of [
    ['pay for pump 2', /Payment declined: over the daily limit\./],
    ['Säule 2 bezahlen', /Zahlung abgelehnt: über dem Tageslimit\./],
    ['payer la pompe 2', /Paiement refusé : au-dessus du plafond journalier\./],
    ['ادفع للمضخة ٢', /تم رفض الدفع: المبلغ يتجاوز الحد اليومي\./],
  ] as const) {
    const r = run([utter(text), located, declined('LIMIT_DAILY')])
    t.equal(r.state.outcome?.code, 'LIMIT_DAILY')
    t.match(r.said.at(-1), re)
    t.ok(r.effects.some((e) => e.type === 'finished'))
  }
})

t.test('voice code: asked, retried when wrong, sent with the next request', async (t) => {
  const r = run([utter('pay for pump 2'), located, declined('VOICE_CODE_REQUIRED')])
  t.equal(r.state.phase, 'voice_code')
  t.match(r.said.at(-1), /voice code/)
  const code = run([utter('four seven one one')], r.state)
  t.match(code.effects.find((e) => e.type === 'request-hold'), { request: { voiceCode: '4711' } })
  const wrong = run([declined('VOICE_CODE_WRONG')], code.state)
  t.equal(wrong.state.phase, 'voice_code')
  t.match(wrong.said.at(-1), /not right/)
  const s = run([utter('1 2 3 4'), declined('VOICE_CODE_WRONG'), utter('1 2 3 5'), declined('VOICE_CODE_WRONG')], wrong.state)
  t.equal(s.state.outcome?.code, 'VOICE_CODE_WRONG', 'three wrong codes end the session')
})

t.test('status while fueling, and "cancel" once fuel flows', async (t) => {
  const progress: ProgressMessage = { v: 1, type: 'progress', msgId: 'm1234567', ts: 1, sessionId: 'sess-1', state: 'fueling', volumeMilli: 12500, amountMinor: 2249, currency: 'EUR' }
  const r = run([utter('pay for pump 2'), located, { type: 'hold-granted', hold: hold() }, utter('yes'), { type: 'pump-authorized', sessionId: 'sess-1', nozzleTimeoutMs: 60_000 }, { type: 'progress', message: progress }, utter('how much so far?')])
  t.equal(r.state.phase, 'fueling')
  t.equal(r.said.at(-1), '12.500 L so far, 22.49 EUR.')
  const fr = run([utter('combien ?', 'fr')], r.state)
  t.equal(fr.said.at(-1), "12,500 L pour l'instant, 22,49 EUR.")
  const c = run([utter('cancel')], r.state)
  t.equal(c.state.phase, 'fueling', 'cannot cancel flowing fuel')
  t.match(c.said.at(-1), /hang up the nozzle/)
})

t.test("the sale is verified against the hold's station, pump and session, not the ones it names", async (t) => {
  const sale = { sessionId: 'sess-1', tokenId: 'tok-0001', stationId: 'st-elsewhere', pump: 7, vehicleId: 'car7', outcome: 'completed', grade: 'diesel', unitPriceMilli: 1799, volumeMilli: 1000, volumeUnit: 'L', amountMinor: 180, currency: 'EUR', startedAt: 1, endedAt: 2, seq: 1, totalizerStartMilli: 0, totalizerEndMilli: 1000 } as const
  const r = run([utter('pay for pump 2'), located, { type: 'hold-granted', hold: hold() }, utter('yes'), { type: 'pump-authorized', sessionId: 'sess-1', nozzleTimeoutMs: 60_000 }, { type: 'completed', sale, saleJws: 'jws' }])
  t.same(r.effects.find((e) => e.type === 'verify-sale'), { type: 'verify-sale', stationId: STATION.id, pump: 2, sessionId: 'sess-1', saleJws: 'jws' })
})

t.test('a station-ended session that sold nothing ends with its reason, without a receipt', async (t) => {
  const progress: ProgressMessage = { v: 1, type: 'progress', msgId: 'm1234567', ts: 1, sessionId: 'sess-1', state: 'fueling', volumeMilli: 0, amountMinor: 0, currency: 'EUR' }
  const sale = { sessionId: 'sess-1', tokenId: 'tok-0001', stationId: STATION.id, pump: 2, vehicleId: 'car7', outcome: 'timeout', volumeMilli: 0, volumeUnit: 'L', amountMinor: 0, currency: 'EUR', startedAt: 1, endedAt: 2, seq: 1, totalizerStartMilli: 0, totalizerEndMilli: 0 } as const
  const ended = run([utter('pay for pump 2'), located, { type: 'hold-granted', hold: hold() }, utter('yes'), { type: 'pump-authorized', sessionId: 'sess-1', nozzleTimeoutMs: 60_000 }, { type: 'progress', message: progress }, { type: 'session-ended', reason: { code: 'NO_FLOW_TIMEOUT', number: 308, message: 'x' }, saleJws: 'jws' }])
  t.equal(ended.state.phase, 'settling')
  t.match(ended.said.at(-1), /no fuel flowed/)
  const r = run([{ type: 'sale-verified', ok: true, sale }], ended.state)
  t.equal(r.state.outcome?.code, 'NO_FLOW_TIMEOUT')
  t.equal(r.state.outcome?.paid, false)
  t.notOk(r.effects.some((e) => e.type === 'fetch-receipt'))
})

t.test('a slow bank: the driver hears that the car is still asking, not silence', async (t) => {
  const asking = run([utter('Säule 2 bezahlen'), located])
  t.equal(asking.state.phase, 'requesting_hold')
  t.ok(asking.effects.some((e) => e.type === 'start-timer' && e.timer === 'hold'))
  const slow = run([{ type: 'timeout', timer: 'hold' }], asking.state)
  t.same(slow.said, ['Einen Moment, ich frage bei Ihrer Bank an.'])
  t.equal(slow.state.phase, 'requesting_hold')
  const granted = run([{ type: 'hold-granted', hold: hold() }], slow.state)
  t.ok(granted.effects.some((e) => e.type === 'clear-timer' && e.timer === 'hold'))
  t.same(run([{ type: 'timeout', timer: 'hold' }], granted.state).said, [], 'not once the answer is in')
})

t.test('unknown speech never becomes a payment', async (t) => {
  const r = run([utter("what's the weather"), utter('play music'), utter('yes')])
  t.equal(r.state.phase, 'idle')
  t.notOk(r.effects.some((e) => e.type === 'request-hold' || e.type === 'locate' || e.type === 'authorize-pump'))
  const confirmUnknown = run([utter('pay for pump 2'), located, { type: 'hold-granted', hold: hold() }, utter('play some music')])
  t.equal(confirmUnknown.state.phase, 'confirming', 'unknown at the read-back does not confirm')
  t.match(confirmUnknown.said.at(-1), /yes or no/)
})

t.test('bounded waits end the session with a reason', async (t) => {
  const confirming = run([utter('pay for pump 2'), located, { type: 'hold-granted', hold: hold() }])
  const noAnswer = run([{ type: 'timeout', timer: 'answer' }], confirming.state)
  t.equal(noAnswer.state.outcome?.code, 'TIMEOUT')
  t.ok(noAnswer.effects.some((e) => e.type === 'cancel-session'))
  const waiting = run([utter('yes'), { type: 'timeout', timer: 'pump-reply' }], confirming.state)
  t.equal(waiting.state.outcome?.code, 'TIMEOUT')
  t.ok(waiting.effects.some((e) => e.type === 'cancel-pump'))
  const noStation = run([utter('pay for pump 2'), { type: 'located', reason: { code: 'OUTSIDE_GEOFENCE', number: 500, message: 'x' } }])
  t.equal(noStation.state.outcome?.code, 'OUTSIDE_GEOFENCE')
  t.match(noStation.said.at(-1), /not at a fuelpay station/)
})

t.test('events out of place change nothing', async (t) => {
  const s = initialState()
  for (const e of [
    { type: 'hold-granted', hold: hold() },
    { type: 'pump-authorized', sessionId: 'sess-1', nozzleTimeoutMs: 1000 },
    { type: 'receipt-failed', reason: { code: 'TIMEOUT', number: 901, message: 'x' } },
    { type: 'timeout', timer: 'settle' },
  ] as DialogueEvent[]) {
    const step = transition(s, e)
    t.same(step.effects, [])
    t.equal(step.state, s)
  }
  const authorizing = run([utter('pay for pump 2'), located, { type: 'hold-granted', hold: hold() }, utter('yes')]).state
  t.same(transition(authorizing, { type: 'pump-authorized', sessionId: 'someone-else', nozzleTimeoutMs: 1 }).effects, [], 'another session is ignored')
})

t.test('every message exists in every language', async (t) => {
  const params = { slots: ['pump', 'card'], pumps: [1], pump: 1, station: 'S', grades: ['diesel'], said: 'x', currency: 'EUR', code: 'DECLINED', holdAmountMinor: 1, partial: false, volumeMilli: 1, unit: 'L', amountMinor: 1, brand: 'visa', last4: '1234' }
  for (const lang of LANGS) for (const key of MESSAGE_KEYS) t.ok(say(lang, key, params as never).length > 0, `${lang} ${key}`)
  // Every reason the cloud or a pump can give is a sentence in the driver's language, never a code.
  for (const lang of LANGS) {
    for (const code of REASON_CODES) {
      const text = reasonText(code, lang)
      t.notMatch(text, /[A-Z]{2,}_/, `${lang} ${code}: ${text}`)
      if (lang !== 'en') t.not(text, reasonText(code, 'en'), `${lang} ${code} is translated`)
    }
  }
  t.equal(reasonText('TOKEN_REPLAYED', 'de'), 'diese Freigabe wurde schon benutzt')
  // The cloud locks an account's voice code after wrong ones (RATE_LIMITED): the driver hears why, in words.
  for (const lang of LANGS) t.notMatch(reasonText('RATE_LIMITED', lang), /RATE_LIMITED/, `${lang}: voice code lock`)
})

t.test('a station message lost while the link was down: after a quiet spell the car asks the cloud', async (t) => {
  const flowing: ProgressMessage = { v: 1, type: 'progress', msgId: 'm7654321', ts: 1, sessionId: 'sess-1', state: 'fueling', volumeMilli: 2000, amountMinor: 360, currency: 'EUR' }
  const ready = run([utter('pay for pump 2'), located, { type: 'hold-granted', hold: hold() }, utter('yes'), { type: 'pump-authorized', sessionId: 'sess-1', nozzleTimeoutMs: 60_000 }])
  const fueling = run([{ type: 'progress', message: flowing }], ready.state)
  t.equal(fueling.state.phase, 'fueling')
  t.ok(fueling.effects.some((e) => e.type === 'start-timer' && e.timer === 'quiet'), 'fueling starts the quiet timer')
  t.ok(run([{ type: 'progress', message: flowing }], fueling.state).effects.some((e) => e.type === 'start-timer' && e.timer === 'quiet'), 'news from the pump starts it again')

  const quiet = run([{ type: 'timeout', timer: 'quiet' }], fueling.state)
  t.same(quiet.effects, [{ type: 'check-session', sessionId: 'sess-1' }], 'silence: ask the cloud')
  const view = (state: string, reason?: Reason) => ({ type: 'session-checked', view: { sessionId: 'sess-1', state, stationId: STATION.id, pump: 2, vehicleId: 'car7', currency: 'EUR', holdAmountMinor: 5000, capturedMinor: 0, releasedMinor: 0, ...(reason ? { reason } : {}), createdAt: '', updatedAt: '' } }) as DialogueEvent

  const stillGoing = run([view('fueling')], quiet.state)
  t.equal(stillGoing.state.phase, 'fueling')
  t.ok(stillGoing.effects.some((e) => e.type === 'start-timer' && e.timer === 'quiet'), 'still fueling at the cloud: wait again')
  t.ok(run([{ type: 'session-checked' }], quiet.state).effects.some((e) => e.type === 'start-timer' && e.timer === 'quiet'), 'the cloud did not answer: wait again')

  const charged = run([view('captured')], quiet.state)
  t.equal(charged.state.phase, 'settling', 'captured: the completed message was lost')
  t.ok(charged.effects.some((e) => e.type === 'fetch-receipt'), 'the receipt tells the driver what was charged')
  const receipt = { receiptId: 'r1', sessionId: 'sess-1', stationName: STATION.name, pump: 2, grade: 'diesel', volumeMilli: 20000, volumeUnit: 'L', unitPriceMilli: 1799, amountMinor: 3598, currency: 'EUR', paymentMethod: { brand: 'visa', last4: '4242' }, capturedAt: '' }
  const paid = run([{ type: 'receipt', receipt } as unknown as DialogueEvent], charged.state)
  t.equal(paid.state.outcome?.paid, true)

  const stopped = run([view('voided', { code: 'EMERGENCY_STOP', number: 304, message: 'stopped by the operator' })], quiet.state)
  t.same([stopped.state.phase, stopped.state.outcome?.paid, stopped.state.outcome?.code], ['done', false, 'EMERGENCY_STOP'], 'ended without a charge: said so')

  // The pump seemed never used (its progress lost): before cancelling, the car asks.
  const nozzle = run([{ type: 'timeout', timer: 'nozzle' }], ready.state)
  t.same(nozzle.effects, [{ type: 'check-session', sessionId: 'sess-1' }], 'nozzle time up: ask first')
  t.equal(nozzle.state.phase, 'pump_ready')
  const wasFueling = run([view('fueling')], nozzle.state)
  t.equal(wasFueling.state.phase, 'fueling', 'the cloud saw fuel flow: follow it')
  t.notOk(wasFueling.effects.some((e) => e.type === 'cancel-pump' || e.type === 'cancel-session'), 'no cancel of a delivery in progress')
  const unused = run([view('pump_authorized')], nozzle.state)
  t.same([unused.state.outcome?.code, unused.effects.some((e) => e.type === 'cancel-pump'), unused.effects.some((e) => e.type === 'cancel-session')], ['NOZZLE_TIMEOUT', true, true], 'really unused: cancelled as before')
  const noCloud = run([{ type: 'session-checked' }], nozzle.state)
  t.equal(noCloud.state.outcome?.code, 'NOZZLE_TIMEOUT', 'and when the cloud does not answer')
})

t.test('a station-ended session with a sale while the car never heard fuel flow (progress lost) is settled, not ended unpaid', async (t) => {
  const sale = { sessionId: 'sess-1', tokenId: 'tok-0001', stationId: STATION.id, pump: 2, vehicleId: 'car7', outcome: 'emergency-stop', grade: 'diesel', unitPriceMilli: 1799, volumeMilli: 10_000, volumeUnit: 'L', amountMinor: 1799, currency: 'EUR', startedAt: 1, endedAt: 2, seq: 1, totalizerStartMilli: 0, totalizerEndMilli: 10_000 } as const
  const ended = run([utter('pay for pump 2'), located, { type: 'hold-granted', hold: hold() }, utter('yes'), { type: 'pump-authorized', sessionId: 'sess-1', nozzleTimeoutMs: 60_000 }, { type: 'session-ended', reason: { code: 'EMERGENCY_STOP', number: 309, message: 'x' }, saleJws: 'jws' }])
  t.equal(ended.state.phase, 'settling', 'the sale is settled')
  t.ok(ended.effects.some((e) => e.type === 'verify-sale'), 'its signed sale is verified')
  t.ok(ended.effects.some((e) => e.type === 'clear-timer' && e.timer === 'nozzle'), 'the nozzle timer no longer runs')
  const r = run([{ type: 'sale-verified', ok: true, sale }], ended.state)
  t.ok(r.effects.some((e) => e.type === 'fetch-receipt'), 'and the driver hears what was charged')
  t.notOk(r.state.outcome, 'not ended unpaid')
})
