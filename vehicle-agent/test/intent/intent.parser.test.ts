import t, { type Test } from 'tap'
import { extractVoiceCode, parseUtterance, type Slots } from '../../src/intent/intent.parser.ts'
import type { Lang } from '../../src/intent/numbers.ts'

type Expect = { intent: string; pump?: number; amount?: string; currency?: string; grade?: string; method?: string }
type Case = [string, Expect]

function check(t: Test, lang: Lang, cases: Case[]) {
  for (const [text, want] of cases) {
    const p = parseUtterance(text)
    const s: Slots = p.slots
    const got: Expect = { intent: p.intent }
    if (want.pump !== undefined) got.pump = s.pump as number
    if (want.amount !== undefined) got.amount = s.amount?.text as string
    if (want.currency !== undefined) got.currency = s.amount?.currencies?.[0] as string
    if (want.grade !== undefined) got.grade = s.grade?.grades[0] as string
    if (want.method !== undefined) got.method = s.paymentMethod as string
    t.same(got, want, `${lang}: ${text}`)
    if (want.intent !== 'unknown') t.equal(p.lang, lang, `${text} is ${lang}`)
    if (want.pump === undefined && want.intent === 'pay_fuel') t.equal(s.pump, undefined, `${text}: no pump invented`)
  }
}

t.test('English', async (t) => {
  check(t, 'en', [
    ['pay for pump 2', { intent: 'pay_fuel', pump: 2 }],
    ['Pay for pump two', { intent: 'pay_fuel', pump: 2 }],
    ['please pay for pump number 4', { intent: 'pay_fuel', pump: 4 }],
    ['Could you pay for pump no. 7, please?', { intent: 'pay_fuel', pump: 7 }],
    ['fill up at pump 3', { intent: 'pay_fuel', pump: 3 }],
    ['fill her up', { intent: 'pay_fuel' }],
    ['I want 40 euros of diesel at pump 3', { intent: 'pay_fuel', pump: 3, amount: '40', currency: 'EUR', grade: 'diesel' }],
    ['put $45.50 of premium on pump twelve', { intent: 'pay_fuel', pump: 12, amount: '45.50', currency: 'USD', grade: 'premium' }],
    ['pay for pump 2 with fifty dollars of regular', { intent: 'pay_fuel', pump: 2, amount: '50', grade: 'regular' }],
    ['Activate the second pump', { intent: 'pay_fuel', pump: 2 }],
    ['unlock pump 9 for a hundred and twenty pounds of super plus', { intent: 'pay_fuel', pump: 9, amount: '120', currency: 'GBP', grade: 'unleaded98' }],
    ['refuel with diesel using my business card', { intent: 'pay_fuel', grade: 'diesel', method: 'business' }],
    ['pay for pump 6 with visa', { intent: 'pay_fuel', pump: 6, method: 'visa' }],
    ['pump 5, thirty bucks of unleaded', { intent: 'pay_fuel', pump: 5, amount: '30', grade: 'unleaded95' }],
    ['gas up pump 1 for 60', { intent: 'pay_fuel', pump: 1, amount: '60' }],
    ['I need some LPG at pump 3', { intent: 'pay_fuel', pump: 3, grade: 'lpg' }],
    ['premium diesel at pump 4 please, 80 euros', { intent: 'pay_fuel', pump: 4, amount: '80', grade: 'premium_diesel' }],
    ['yes', { intent: 'confirm' }],
    ['Yeah, go ahead', { intent: 'confirm' }],
    ["that's right", { intent: 'confirm' }],
    ['sure', { intent: 'confirm' }],
    ['no', { intent: 'deny' }],
    ['nope', { intent: 'deny' }],
    ['No, pump 3', { intent: 'deny', pump: 3 }],
    ["don't pay for pump 2", { intent: 'deny' }],
    ['cancel', { intent: 'cancel' }],
    ['stop, never mind', { intent: 'cancel' }],
    ['forget it', { intent: 'cancel' }],
    ['how much so far?', { intent: 'status' }],
    ['status', { intent: 'status' }],
    ["what's the weather like", { intent: 'unknown' }],
    ['pump up the volume', { intent: 'unknown' }],
    ['pay my phone bill', { intent: 'unknown' }],
    ['pay the gas bill', { intent: 'unknown' }],
    ['where is the nearest gas station', { intent: 'unknown' }],
    ['call mom', { intent: 'unknown' }],
    ['play some music', { intent: 'unknown' }],
    ['two', { intent: 'unknown' }],
    ['', { intent: 'unknown' }],
  ])
})

t.test('German', async (t) => {
  check(t, 'de', [
    ['Säule 2 bezahlen', { intent: 'pay_fuel', pump: 2 }],
    ['Bitte Zapfsäule zwei bezahlen', { intent: 'pay_fuel', pump: 2 }],
    ['Ich möchte an Säule Nummer drei für fünfundvierzig Euro Super tanken', { intent: 'pay_fuel', pump: 3, amount: '45', currency: 'EUR', grade: 'unleaded95' }],
    ['Volltanken an Säule 4 mit Diesel', { intent: 'pay_fuel', pump: 4, grade: 'diesel' }],
    ['Tank mal Super Plus an der fünften Säule', { intent: 'pay_fuel', pump: 5, grade: 'unleaded98' }],
    ['Schalte Säule 7 frei', { intent: 'pay_fuel', pump: 7 }],
    ['Säule 1, 30 Euro Diesel bitte', { intent: 'pay_fuel', pump: 1, amount: '30', grade: 'diesel' }],
    ['Zahl mal die Säule acht mit der Firmenkarte', { intent: 'pay_fuel', pump: 8, method: 'business' }],
    ['Kannst du bitte für sechzig Euro E10 an Säule 2 tanken', { intent: 'pay_fuel', pump: 2, amount: '60', grade: 'e10' }],
    ['Für hundertzwanzig Euro Autogas an Säule 3', { intent: 'pay_fuel', pump: 3, amount: '120', grade: 'lpg' }],
    ['Ich will tanken', { intent: 'pay_fuel' }],
    ['Säule zwölf bezahlen mit Visa', { intent: 'pay_fuel', pump: 12, method: 'visa' }],
    ['ja', { intent: 'confirm' }],
    ['Ja, genau', { intent: 'confirm' }],
    ['passt', { intent: 'confirm' }],
    ['in Ordnung', { intent: 'confirm' }],
    ['nein', { intent: 'deny' }],
    ['Nein, Säule 3', { intent: 'deny', pump: 3 }],
    ['Nicht Säule 2 bezahlen', { intent: 'deny' }],
    ['abbrechen', { intent: 'cancel' }],
    ['Stopp, vergiss es', { intent: 'cancel' }],
    ['Wie viel bisher?', { intent: 'status' }],
    ['Wie wird das Wetter morgen', { intent: 'unknown' }],
    ['Ruf Mama an', { intent: 'unknown' }],
    ['Bezahl die Stromrechnung', { intent: 'unknown' }],
    ['Wo ist die nächste Tankstelle', { intent: 'unknown' }],
    ['Mach das Radio lauter', { intent: 'unknown' }],
    ['Wie voll ist der Tank', { intent: 'unknown' }],
  ])
})

t.test('French', async (t) => {
  check(t, 'fr', [
    ['Je voudrais payer la pompe 2', { intent: 'pay_fuel', pump: 2 }],
    ['payer la pompe numéro deux', { intent: 'pay_fuel', pump: 2 }],
    ['Fais le plein à la pompe 3', { intent: 'pay_fuel', pump: 3 }],
    ['Faites le plein de gazole à la pompe numéro quatre pour quatre-vingt-quinze euros', { intent: 'pay_fuel', pump: 4, amount: '95', currency: 'EUR', grade: 'diesel' }],
    ['Mets trente euros de sans plomb 98 pompe 5 avec ma carte pro', { intent: 'pay_fuel', pump: 5, amount: '30', grade: 'unleaded98', method: 'business' }],
    ['Active la pompe une', { intent: 'pay_fuel', pump: 1 }],
    ["s'il vous plaît, soixante-dix euros de SP95 à la pompe six", { intent: 'pay_fuel', pump: 6, amount: '70', grade: 'unleaded95' }],
    ['cinquante euros de gasoil pompe 2', { intent: 'pay_fuel', pump: 2, amount: '50', grade: 'diesel' }],
    ['Le plein de E10 à la deuxième pompe', { intent: 'pay_fuel', pump: 2, grade: 'e10' }],
    ['débloque la pompe 11 avec la carte perso', { intent: 'pay_fuel', pump: 11, method: 'personal' }],
    ['je veux du GPL pompe 3 pour vingt et un euros', { intent: 'pay_fuel', pump: 3, amount: '21', grade: 'lpg' }],
    ['oui', { intent: 'confirm' }],
    ["d'accord", { intent: 'confirm' }],
    ["Oui, c'est bon", { intent: 'confirm' }],
    ['vas-y', { intent: 'confirm' }],
    ['non', { intent: 'deny' }],
    ['Non, la pompe 4', { intent: 'deny', pump: 4 }],
    ['Ne paye pas la pompe 2', { intent: 'deny' }],
    ['annule', { intent: 'cancel' }],
    ['arrête, laisse tomber', { intent: 'cancel' }],
    ['combien pour l’instant ?', { intent: 'status' }],
    ['Quel temps fait-il', { intent: 'unknown' }],
    ['Appelle maman', { intent: 'unknown' }],
    ['Mets de la musique', { intent: 'unknown' }],
    ['Paye la facture d’électricité', { intent: 'unknown' }],
    ['Où est la station service la plus proche', { intent: 'unknown' }],
  ])
})

t.test('Arabic', async (t) => {
  check(t, 'ar', [
    ['ادفع للمضخة رقم ٢', { intent: 'pay_fuel', pump: 2 }],
    ['ادفع للمضخة رقم 2', { intent: 'pay_fuel', pump: 2 }],
    ['ادفع ثمن المضخة اثنين', { intent: 'pay_fuel', pump: 2 }],
    ['عبي بنزين ٩٥ بخمسين ريال من المضخة الثالثة', { intent: 'pay_fuel', pump: 3, amount: '50', currency: 'SAR', grade: 'unleaded95' }],
    ['أريد أن أدفع ثمن المضخة ثلاثة بالبطاقة الشخصية', { intent: 'pay_fuel', pump: 3, method: 'personal' }],
    ['املأ الخزان ديزل بمئة وخمسين درهم من المضخة ٤', { intent: 'pay_fuel', pump: 4, amount: '150', currency: 'AED', grade: 'diesel' }],
    ['فعّل المضخة الخامسة من فضلك', { intent: 'pay_fuel', pump: 5 }],
    ['عبي فل', { intent: 'pay_fuel' }],
    ['من فضلك عبي ديزل بخمسة وعشرين دينار المضخة ٧', { intent: 'pay_fuel', pump: 7, amount: '25', currency: 'KWD', grade: 'diesel' }],
    ['ادفع ١٠٠ يورو للمضخة ١٢', { intent: 'pay_fuel', pump: 12, amount: '100', currency: 'EUR' }],
    ['عبي بنزين ممتاز بالمضخة رقم ٣ ببطاقة العمل', { intent: 'pay_fuel', pump: 3, grade: 'premium', method: 'business' }],
    ['نعم', { intent: 'confirm' }],
    ['أجل، تمام', { intent: 'confirm' }],
    ['موافق', { intent: 'confirm' }],
    ['لا', { intent: 'deny' }],
    ['لا، المضخة ٤', { intent: 'deny', pump: 4 }],
    ['لا تدفع للمضخة ٢', { intent: 'deny' }],
    ['ألغِ', { intent: 'cancel' }],
    ['إلغاء العملية', { intent: 'cancel' }],
    ['توقف', { intent: 'cancel' }],
    ['كم وصل؟', { intent: 'status' }],
    ['ما هو الطقس اليوم', { intent: 'unknown' }],
    ['شغل الموسيقى', { intent: 'unknown' }],
    ['اتصل بأمي', { intent: 'unknown' }],
    ['ادفع فاتورة الكهرباء', { intent: 'unknown' }],
    ['أين أقرب محطة', { intent: 'unknown' }],
  ])
})

t.test('a yes and a no in one answer is not a confirm', async (t) => {
  const mixed: [string, Lang][] = [
    ['yes no', 'en'], ['yes... actually no', 'en'], ['yes, no wait', 'en'], ['no, yes', 'en'], ['okay, no', 'en'], ['sure, not that', 'en'],
    ['ja nein', 'de'], ['ja... nein, doch nicht', 'de'], ['nein, ja', 'de'],
    ['oui non', 'fr'], ['oui... enfin non', 'fr'], ["d'accord, non", 'fr'],
    ['نعم لا', 'ar'], ['نعم، لا انتظر', 'ar'],
  ]
  for (const [text, lang] of mixed) {
    const p = parseUtterance(text)
    t.equal(p.intent, 'unknown', `${text}: asked again, not a confirm`)
    t.equal(p.lang, lang, `${text} is ${lang}`)
  }
  // A phrase claims its own words: these are one answer each, not a yes and a no.
  check(t, 'en', [['no problem', { intent: 'confirm' }], ["that's not right", { intent: 'deny' }], ['that is not right', { intent: 'deny' }], ['absolutely not', { intent: 'deny' }], ['not yes', { intent: 'deny' }], ['no no', { intent: 'deny' }]])
  check(t, 'de', [['kein Problem', { intent: 'confirm' }], ['ja, kein Problem', { intent: 'confirm' }], ['stimmt nicht', { intent: 'deny' }], ['nicht richtig', { intent: 'deny' }]])
  check(t, 'fr', [['pas de problème', { intent: 'confirm' }], ['pas de souci', { intent: 'confirm' }], ['pas du tout', { intent: 'deny' }], ['non merci', { intent: 'deny' }]])
  check(t, 'ar', [['لا مشكلة', { intent: 'confirm' }], ['ما في مشكلة', { intent: 'confirm' }], ['مش صح', { intent: 'deny' }], ['غير صحيح', { intent: 'deny' }]])
})

t.test('cents said after the currency belong to the amount', async (t) => {
  const cases: [string, string][] = [
    ['pump 4 for 40 euros 50', '40.50'],
    ['pump four, forty euros fifty', '40.50'],
    ['pump 2 for 45 euros and 50 cents', '45.50'],
    ['pump 2 for 45 euros and 5 cents', '45.05'],
    ['Säule vier für vierzig Euro fünfzig', '40.50'],
    ['Säule 4 für 40 Euro und 20 Cent', '40.20'],
    ['pompe quatre pour quarante euros cinquante', '40.50'],
    ['pompe 2 pour 30 euros et 10 centimes', '30.10'],
    ['ادفع للمضخة ٤ بأربعين يورو وخمسين سنت', '40.50'],
    ['pay pump 2 for 40 euros of super 95', '40'],
    ['pump 2 for 40.50 euros 20', '40.50'],
  ]
  for (const [text, amount] of cases) t.equal(parseUtterance(text).slots.amount?.text, amount, text)
  const answer = parseUtterance('40 euros, 3')
  t.equal(answer.slots.amount?.text, '40', 'a lone digit after the amount stays a number of its own')
  t.same(answer.numbers.map((n) => n.value), [3])
})

t.test('bad input never throws and never pays', async (t) => {
  const weird: unknown[] = [undefined, null, 42, {}, 'x'.repeat(100_000), '\u0000\u0001', '💥🔥', 'pump pump pump pump', '999999999999 euros', 'pump 0', 'pump 100']
  for (const w of weird) {
    const p = parseUtterance(w as string)
    t.ok(['unknown', 'status', 'deny', 'confirm', 'cancel', 'pay_fuel'].includes(p.intent))
    t.not(p.slots.pump, 0)
    t.not(p.slots.pump, 100)
  }
  t.equal(parseUtterance('pump 100 pay').slots.pump, undefined, 'pumps are 1..99')
})

t.test('voice codes in words and digits', async (t) => {
  t.equal(extractVoiceCode('four seven one one', 'en'), '4711')
  t.equal(extractVoiceCode('4711', 'en'), '4711')
  t.equal(extractVoiceCode('vier sieben eins eins', 'de'), '4711')
  t.equal(extractVoiceCode('quatre sept un un', 'fr'), '4711')
  t.equal(extractVoiceCode('٤٧١١', 'ar'), '4711')
  t.equal(extractVoiceCode('أربعة سبعة واحد واحد', 'ar'), '4711')
  // Codes said as numbers of more than one digit ("forty-seven eleven" for 4711) are read whole.
  t.equal(extractVoiceCode('forty seven eleven', 'en'), '4711')
  t.equal(extractVoiceCode('forty-seven, eleven', 'en'), '4711')
  t.equal(extractVoiceCode('siebenundvierzig elf', 'de'), '4711')
  t.equal(extractVoiceCode('quarante-sept onze', 'fr'), '4711')
  t.equal(extractVoiceCode('سبعة وأربعين أحد عشر', 'ar'), '4711')
  t.equal(extractVoiceCode('zero seven one one', 'en'), '0711')
  t.equal(extractVoiceCode('blue falcon', 'en'), 'blue falcon')
  t.equal(extractVoiceCode('', 'en'), undefined)
})
