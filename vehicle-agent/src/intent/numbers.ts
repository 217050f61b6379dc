import { arabicStems } from './normalize.ts'

/** The languages the agent understands and speaks. */
export const LANGS = ['en', 'de', 'fr', 'ar'] as const
export type Lang = (typeof LANGS)[number]

export function isLang(value: unknown): value is Lang {
  return typeof value === 'string' && (LANGS as readonly string[]).includes(value)
}

/**
 * A number read from speech: its value, the decimal text for money
 * (`"45.50"`, never a float), how many tokens it spanned, and, for Arabic,
 * the preposition glued to it (`بخمسين` = "for fifty").
 */
export interface NumberRead {
  value: number
  text: string
  next: number
  prefix?: string
}

/** Largest number we read from words; bigger amounts are not spoken at a pump. */
const MAX_SPOKEN = 999_999

const DIGITS_RE = /^\d{1,9}(\.\d{1,3})?$/

function digits(tok: string): NumberRead | undefined {
  if (!DIGITS_RE.test(tok)) return undefined
  const [int, frac] = tok.split('.') as [string, string | undefined]
  return { value: Number(int), text: frac === undefined ? String(Number(int)) : `${Number(int)}.${frac}`, next: 0 }
}

// English -------------------------------------------------------------------

const EN_SMALL: Record<string, number> = {
  zero: 0, one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9,
  ten: 10, eleven: 11, twelve: 12, thirteen: 13, fourteen: 14, fifteen: 15, sixteen: 16,
  seventeen: 17, eighteen: 18, nineteen: 19,
}
const EN_TENS: Record<string, number> = {
  twenty: 20, thirty: 30, forty: 40, fourty: 40, fifty: 50, sixty: 60, seventy: 70, eighty: 80, ninety: 90,
}

type Last = 'none' | 'small' | 'teen' | 'tens' | 'hundred' | 'thousand'

function readEnglish(tokens: string[], i: number): NumberRead | undefined {
  let total = 0
  let hundreds = 0
  let seg = 0
  let last: Last = 'none'
  let j = i
  let consumed = 0
  while (j < tokens.length) {
    const t = tokens[j] as string
    const next = tokens[j + 1]
    if (t === 'a' && last === 'none' && (next === 'hundred' || next === 'thousand')) {
      seg = 1
      last = 'small'
      j++
      continue
    }
    if (t === 'and' && (last === 'hundred' || last === 'thousand') && next !== undefined && (next in EN_SMALL || next in EN_TENS)) {
      j++
      continue
    }
    if (Object.hasOwn(EN_SMALL, t)) {
      const v = EN_SMALL[t] as number
      if (last === 'small' || last === 'teen') break
      if (last === 'tens' && (v === 0 || v >= 10)) break
      seg += v
      last = v >= 10 ? 'teen' : 'small'
    } else if (Object.hasOwn(EN_TENS, t)) {
      if (last === 'small' || last === 'teen' || last === 'tens') break
      seg += EN_TENS[t] as number
      last = 'tens'
    } else if (t === 'hundred') {
      if (!(last === 'small' || last === 'teen') || hundreds !== 0) break
      hundreds = seg * 100
      seg = 0
      last = 'hundred'
    } else if (t === 'thousand') {
      if (last === 'none' || last === 'thousand' || total !== 0) break
      total = (hundreds + seg) * 1000
      hundreds = 0
      seg = 0
      last = 'thousand'
    } else break
    j++
    consumed = j
  }
  if (consumed === 0) return undefined
  const value = total + hundreds + seg
  return { value, text: String(value), next: consumed }
}

// German: compounds are one word ("fünfundvierzig", "zweihundertfünfzig") ----

const DE_SMALL: Record<string, number> = {
  null: 0, eins: 1, zwei: 2, zwo: 2, drei: 3, vier: 4, funf: 5, fuenf: 5, sechs: 6, sieben: 7, acht: 8, neun: 9,
  zehn: 10, elf: 11, zwolf: 12, zwoelf: 12, dreizehn: 13, vierzehn: 14, funfzehn: 15, fuenfzehn: 15,
  sechzehn: 16, siebzehn: 17, achtzehn: 18, neunzehn: 19,
}
const DE_UNIT: Record<string, number> = {
  ein: 1, zwei: 2, drei: 3, vier: 4, funf: 5, fuenf: 5, sechs: 6, sieben: 7, acht: 8, neun: 9,
}
const DE_TENS: Record<string, number> = {
  zwanzig: 20, dreissig: 30, dreiig: 30, vierzig: 40, funfzig: 50, fuenfzig: 50, sechzig: 60, siebzig: 70, achtzig: 80, neunzig: 90,
}

function deBelow100(s: string): number | undefined {
  if (Object.hasOwn(DE_SMALL, s)) return DE_SMALL[s]
  if (Object.hasOwn(DE_TENS, s)) return DE_TENS[s]
  const m = s.indexOf('und')
  if (m > 0) {
    const u = DE_UNIT[s.slice(0, m)]
    const t = DE_TENS[s.slice(m + 3)]
    if (u !== undefined && t !== undefined) return u + t
  }
  return undefined
}

function deBelow1000(s: string): number | undefined {
  const h = s.indexOf('hundert')
  if (h < 0) return deBelow100(s)
  const left = s.slice(0, h)
  const right = s.slice(h + 7).replace(/^und/, '')
  const lv = left === '' ? 1 : DE_UNIT[left]
  const rv = right === '' ? 0 : deBelow100(right)
  if (lv === undefined || rv === undefined) return undefined
  return lv * 100 + rv
}

export function parseGermanNumberWord(s: string): number | undefined {
  if (s === '' || s.length > 60) return undefined
  const t = s.indexOf('tausend')
  if (t < 0) return deBelow1000(s)
  const left = s.slice(0, t)
  const right = s.slice(t + 7).replace(/^und/, '')
  const lv = left === '' ? 1 : (DE_UNIT[left] ?? deBelow1000(left))
  const rv = right === '' ? 0 : deBelow1000(right)
  if (lv === undefined || rv === undefined) return undefined
  return lv * 1000 + rv
}

function readGerman(tokens: string[], i: number): NumberRead | undefined {
  // Spoken German is often transcribed in pieces ("fünf und vierzig"); join and re-read.
  for (let len = Math.min(6, tokens.length - i); len >= 1; len--) {
    const parts = tokens.slice(i, i + len)
    if (parts[0] === 'und' || parts[parts.length - 1] === 'und') continue
    const v = parseGermanNumberWord(parts.join(''))
    if (v !== undefined) return { value: v, text: String(v), next: i + len }
  }
  return undefined
}

// French --------------------------------------------------------------------

const FR_SMALL: Record<string, number> = {
  zero: 0, un: 1, une: 1, deux: 2, trois: 3, quatre: 4, cinq: 5, six: 6, sept: 7, huit: 8, neuf: 9,
  dix: 10, onze: 11, douze: 12, treize: 13, quatorze: 14, quinze: 15, seize: 16,
}
const FR_TENS: Record<string, number> = {
  vingt: 20, vingts: 20, trente: 30, quarante: 40, cinquante: 50, soixante: 60,
  septante: 70, huitante: 80, octante: 80, nonante: 90,
}

function readFrench(tokens: string[], i: number, allowArticle: boolean): NumberRead | undefined {
  let total = 0
  let hundreds = 0
  let seg = 0
  let last: Last = 'none'
  let tensValue = 0
  let prev = -1
  let j = i
  let consumed = 0
  while (j < tokens.length) {
    const t = tokens[j] as string
    if (t === 'et' && last === 'tens' && ['un', 'une', 'onze'].includes(tokens[j + 1] ?? '')) {
      j++
      continue
    }
    if (Object.hasOwn(FR_SMALL, t)) {
      const v = FR_SMALL[t] as number
      // dix-sept, dix-huit, dix-neuf are the only unit after a unit.
      if ((last === 'small' || last === 'teen') && !(prev === 10 && v >= 7 && v <= 9)) break
      // After 20..50 only a unit follows; after soixante and quatre-vingt, 1..19.
      if (last === 'tens' && (v === 0 || (v >= 10 && tensValue !== 60 && tensValue !== 80))) break
      seg += v
      prev = v
      last = v >= 10 ? 'teen' : 'small'
    } else if (Object.hasOwn(FR_TENS, t)) {
      const v = FR_TENS[t] as number
      if (v === 20 && last === 'small' && seg % 100 === 4) {
        seg += 76 // quatre-vingt(s)
        tensValue = 80
        last = 'tens'
      } else {
        if (last === 'small' || last === 'teen' || last === 'tens') break
        seg += v
        tensValue = v
        last = 'tens'
      }
    } else if (t === 'cent' || t === 'cents') {
      if (hundreds !== 0 || !(last === 'none' || last === 'small' || last === 'thousand')) break
      hundreds = (seg === 0 ? 1 : seg) * 100
      seg = 0
      last = 'hundred'
    } else if (t === 'mille') {
      if (total !== 0 || last === 'thousand') break
      total = (hundreds + seg === 0 ? 1 : hundreds + seg) * 1000
      hundreds = 0
      seg = 0
      last = 'thousand'
    } else break
    j++
    consumed = j
  }
  if (consumed === 0) return undefined
  // "un"/"une" alone is an article ("un plein"), not a number, unless asked for.
  if (consumed === i + 1 && (tokens[i] === 'un' || tokens[i] === 'une') && !allowArticle) return undefined
  const value = total + hundreds + seg
  return { value, text: String(value), next: consumed }
}

// Arabic --------------------------------------------------------------------

const AR_UNITS: Record<string, number> = {
  صفر: 0,
  واحد: 1, واحده: 1, احد: 1,
  اثنين: 2, اثنان: 2, اتنين: 2, ثنين: 2, اثنتين: 2, اثنتان: 2,
  ثلاثه: 3, ثلاث: 3, تلاته: 3, تلات: 3,
  اربعه: 4, اربع: 4,
  خمسه: 5, خمس: 5,
  سته: 6, ست: 6,
  سبعه: 7, سبع: 7,
  ثمانيه: 8, ثمان: 8, ثماني: 8, تمانيه: 8, تمنيه: 8,
  تسعه: 9, تسع: 9,
  عشره: 10,
  اثنا: 2, اثني: 2,
  حداشر: 11, اطناشر: 12, اتناشر: 12,
}
const AR_TENS: Record<string, number> = {
  عشرين: 20, عشرون: 20,
  ثلاثين: 30, ثلاثون: 30, تلاتين: 30,
  اربعين: 40, اربعون: 40,
  خمسين: 50, خمسون: 50,
  ستين: 60, ستون: 60,
  سبعين: 70, سبعون: 70,
  ثمانين: 80, ثمانون: 80, تمانين: 80,
  تسعين: 90, تسعون: 90,
}
const AR_HUNDREDS: Record<string, number> = {
  مئه: 100, مائه: 100, ميه: 100, مية: 100,
  مئتين: 200, مئتان: 200, مائتين: 200, مائتان: 200, ميتين: 200,
  ثلاثمئه: 300, ثلاثمائه: 300, اربعمئه: 400, اربعمائه: 400, خمسمئه: 500, خمسمائه: 500,
  ستمئه: 600, ستمائه: 600, سبعمئه: 700, سبعمائه: 700, ثمانمئه: 800, ثمانمائه: 800, تسعمئه: 900, تسعمائه: 900,
}
const AR_THOUSAND: Record<string, number> = { الف: 1000, الفين: 2000, الفان: 2000, الاف: 1000 }

type ArWord = { kind: 'unit' | 'tens' | 'hundred' | 'thousand' | 'teen'; value: number; prefix: string }

function arWord(token: string): ArWord | undefined {
  for (const { stem, prefix } of arabicStems(token)) {
    if (stem === 'عشر' || (stem === 'عشره' && prefix === '')) {
      // "عشر" after a unit makes a teen; alone, "عشره" is ten.
      if (stem === 'عشر') return { kind: 'teen', value: 10, prefix }
    }
    if (Object.hasOwn(AR_UNITS, stem)) return { kind: 'unit', value: AR_UNITS[stem] as number, prefix }
    if (Object.hasOwn(AR_TENS, stem)) return { kind: 'tens', value: AR_TENS[stem] as number, prefix }
    if (Object.hasOwn(AR_HUNDREDS, stem)) return { kind: 'hundred', value: AR_HUNDREDS[stem] as number, prefix }
    if (Object.hasOwn(AR_THOUSAND, stem)) return { kind: 'thousand', value: AR_THOUSAND[stem] as number, prefix }
  }
  return undefined
}

function readArabic(tokens: string[], i: number): NumberRead | undefined {
  const first = arWord(tokens[i] as string)
  if (!first || first.kind === 'teen') return undefined
  // "اثنا"/"احد" only count before "عشر".
  let total = 0
  let cur = first.kind === 'thousand' ? 0 : first.value
  if (first.kind === 'thousand') total = first.value
  let last: ArWord['kind'] = first.kind
  let lastUnit = first.kind === 'unit' ? first.value : 0
  let j = i + 1
  while (j < tokens.length) {
    const w = arWord(tokens[j] as string)
    if (!w) break
    if (w.kind === 'teen' && last === 'unit' && lastUnit <= 9 && w.prefix === '') {
      cur += 10
      last = 'teen'
    } else if ((w.kind === 'hundred' || w.kind === 'thousand') && last === 'unit' && w.prefix === '' && lastUnit >= 3) {
      // "ثلاث مئه" = 300, "خمسه الاف" = 5000
      if (w.kind === 'hundred') cur = cur - lastUnit + lastUnit * 100
      else {
        total += cur * 1000
        cur = 0
      }
      last = w.kind
    } else if (w.prefix.startsWith('و') && w.kind !== 'teen') {
      // Every further part is joined with "و": "خمسه وعشرين", "مئه وخمسين".
      if (w.kind === last || (w.kind === 'hundred' && last !== 'thousand')) break
      if (w.kind === 'thousand') {
        total += (cur || 1) * w.value
        cur = 0
      } else cur += w.value
      last = w.kind
      if (w.kind === 'unit') lastUnit = w.value
    } else break
    j++
  }
  const value = total + cur
  if (j === i + 1 && first.kind === 'unit' && (tokens[i] === 'اثنا' || tokens[i] === 'اثني')) return undefined
  return { value, text: String(value), next: j, prefix: first.prefix }
}

/**
 * Reads a number at `tokens[i]`: digits (any language) or number words of
 * `lang`. `allowArticle` lets French "un"/"une" count (after "pompe").
 *
 * @example readNumber(['fünfundvierzig', 'euro'], 0, 'de') // { value: 45, text: '45', next: 1 }
 */
export function readNumber(
  tokens: string[],
  i: number,
  lang: Lang,
  allowArticle = false,
): NumberRead | undefined {
  const tok = tokens[i]
  if (tok === undefined) return undefined
  const d = digits(tok)
  if (d) return { ...d, next: i + 1 }
  let r: NumberRead | undefined
  switch (lang) {
    case 'en':
      r = readEnglish(tokens, i)
      break
    case 'de':
      r = readGerman(tokens, i)
      break
    case 'fr':
      r = readFrench(tokens, i, allowArticle)
      break
    case 'ar':
      r = readArabic(tokens, i)
      break
  }
  if (r && r.value > MAX_SPOKEN) return undefined
  return r
}

const ORDINALS: Record<Lang, Record<string, number>> = {
  en: { first: 1, second: 2, third: 3, fourth: 4, fifth: 5, sixth: 6, seventh: 7, eighth: 8, ninth: 9, tenth: 10, '1st': 1, '2nd': 2, '3rd': 3, '4th': 4, '5th': 5, '6th': 6, '7th': 7, '8th': 8, '9th': 9, '10th': 10 },
  de: Object.fromEntries(
    ['erste', 'zweite', 'dritte', 'vierte', 'funfte', 'sechste', 'siebte', 'achte', 'neunte', 'zehnte'].flatMap((w, k) => [
      [w, k + 1],
      [`${w}n`, k + 1],
      [`${w}r`, k + 1],
    ]),
  ),
  fr: { premier: 1, premiere: 1, deuxieme: 2, second: 2, seconde: 2, troisieme: 3, quatrieme: 4, cinquieme: 5, sixieme: 6, septieme: 7, huitieme: 8, neuvieme: 9, dixieme: 10 },
  ar: {
    اولي: 1, اول: 1, ثانيه: 2, ثاني: 2, ثالثه: 3, ثالث: 3, رابعه: 4, رابع: 4, خامسه: 5, خامس: 5,
    سادسه: 6, سادس: 6, سابعه: 7, سابع: 7, ثامنه: 8, ثامن: 8, تاسعه: 9, تاسع: 9, عاشره: 10, عاشر: 10,
  },
}

/** An ordinal ("second", "zweite", "deuxième", "الثانية") as a number. */
export function readOrdinal(token: string | undefined, lang: Lang): number | undefined {
  if (token === undefined) return undefined
  const table = ORDINALS[lang]
  for (const { stem } of arabicStems(token)) {
    if (Object.hasOwn(table, stem)) return table[stem]
  }
  return undefined
}
