import type { Currency, Grade } from '@fuelpay/proto'
import { LEXICONS, type Lexicon, METHOD_NAMES } from './lexicon.ts'
import { arabicStems, isArabic, tokenize } from './normalize.ts'
import { type Lang, LANGS, type NumberRead, readNumber, readOrdinal } from './numbers.ts'

export const INTENT_TYPES = ['pay_fuel', 'confirm', 'deny', 'cancel', 'status', 'unknown'] as const
export type IntentType = (typeof INTENT_TYPES)[number]

/** What the driver said about the payment. Amounts stay decimal text until a currency is known. */
export interface Slots {
  pump?: number
  /** A pump noun was said without a number ("this pump"). */
  pumpMentioned?: boolean
  /** Major-unit decimal text ("45.50") and the currencies its word may mean (none said: undefined). */
  amount?: { text: string; currencies?: Currency[] }
  /** Candidate grades in preference order, and the words the driver used. */
  grade?: { grades: Grade[]; said: string }
  /** Canonical payment-method name ("business", "personal", "visa") or the word the driver used. */
  paymentMethod?: string
}

/**
 * One utterance, understood. `numbers` are numbers no slot claimed (the
 * answer "two" to "which pump?"). Unknown speech is `unknown`, never a payment.
 *
 * @example parseUtterance('pay for pump 2') // { intent: 'pay_fuel', lang: 'en', slots: { pump: 2 }, ... }
 */
export interface ParsedUtterance {
  intent: IntentType
  lang: Lang
  slots: Slots
  numbers: NumberRead[]
  text: string
}

interface Item {
  tok: string
  num?: NumberRead
  used: boolean
}

const UNUSED = '\u0001'

function tokEq(tok: string, want: string): boolean {
  if (tok === want) return true
  if (!isArabic(tok)) return false
  return arabicStems(tok).some((s) => s.stem === want)
}

function itemMatches(item: Item | undefined, want: string): boolean {
  if (!item || item.used) return false
  if (/^\d+$/.test(want)) return item.num !== undefined && item.num.text === want
  return item.num === undefined && tokEq(item.tok, want)
}

function findPhrase(items: Item[], phrase: string[], from = 0): number {
  outer: for (let k = from; k + phrase.length <= items.length; k++) {
    for (let m = 0; m < phrase.length; m++) {
      if (!itemMatches(items[k + m], phrase[m] as string)) continue outer
    }
    return k
  }
  return -1
}

function hasAny(items: Item[], list: string[][]): number {
  let best = -1
  for (const p of list) {
    const at = findPhrase(items, p)
    if (at >= 0 && (best < 0 || at < best)) best = at
  }
  return best
}

/**
 * Where the first yes and the first no are, each phrase claiming its words
 * longest first, so that a no phrase holding a yes word ("not right",
 * "stimmt nicht") or a yes phrase holding a no word ("no problem", "kein
 * Problem") counts once, as itself. Also returns the items no yes phrase
 * claimed, for the negation check.
 */
function answerWords(free: Item[], lex: Lexicon): { confirmAt: number; denyAt: number; rest: Item[] } {
  const items = free.map((it) => ({ ...it }))
  // On equal length a no claims first: a tie must not make a yes.
  const phrasesByLength = [...lex.deny.map((p) => ({ p, yes: false })), ...lex.confirm.map((p) => ({ p, yes: true }))].sort((a, b) => b.p.length - a.p.length)
  let confirmAt = -1
  let denyAt = -1
  const claimedByYes = new Set<number>()
  for (const { p, yes } of phrasesByLength) {
    for (let at = findPhrase(items, p); at >= 0; at = findPhrase(items, p, at + p.length)) {
      for (let m = 0; m < p.length; m++) {
        ;(items[at + m] as Item).used = true
        if (yes) claimedByYes.add(at + m)
      }
      if (yes && (confirmAt < 0 || at < confirmAt)) confirmAt = at
      if (!yes && (denyAt < 0 || at < denyAt)) denyAt = at
    }
  }
  return { confirmAt, denyAt, rest: free.map((it, k) => (claimedByYes.has(k) ? { tok: UNUSED, used: true } : it)) }
}

function inSet(item: Item | undefined, set: Set<string>): boolean {
  if (!item || item.used || item.num) return false
  if (set.has(item.tok)) return true
  return isArabic(item.tok) && arabicStems(item.tok).some((s) => set.has(s.stem))
}

/** Picks the language: Arabic script decides alone; otherwise the most marker words, ties to the hint. */
export function detectLanguage(tokens: string[], hint: Lang = 'en'): Lang {
  if (tokens.some(isArabic)) return 'ar'
  const scores: Record<Lang, number> = { en: 0, de: 0, fr: 0, ar: 0 }
  for (const lang of LANGS) {
    const lex = LEXICONS[lang]
    const vocabulary = vocabularies[lang]
    for (const t of tokens) {
      if (lex.markers.has(t)) scores[lang] += 1
      else if (vocabulary.has(t)) scores[lang] += 1
      else if (lang !== 'en' && lang !== 'ar' && /[a-z]/.test(t) && readNumber([t], 0, lang, true)) scores[lang] += 1
    }
  }
  let best: Lang = hint
  for (const lang of LANGS) if (scores[lang] > scores[best]) best = lang
  return best
}

const vocabularies: Record<Lang, Set<string>> = Object.fromEntries(
  LANGS.map((lang) => {
    const lex = LEXICONS[lang]
    const all = new Set<string>()
    const lists = [lex.confirm, lex.deny, lex.cancel, lex.status, lex.fuelVerbs, lex.payVerbs, lex.activateVerbs, lex.fuelNouns]
    for (const list of lists) for (const p of list) for (const w of p) all.add(w)
    for (const w of lex.pumpNouns) all.add(w)
    for (const g of lex.grades) for (const w of g.phrase) if (!/^\d+$/.test(w)) all.add(w)
    // Words every language shares say nothing about which one it is.
    for (const shared of ['ok', 'okay', 'stop', 'diesel', 'super', 'premium', 'e10', 'e5', 'no', 'status', 'plus', 'lpg', 'ultimate', 'normal', 'problem']) all.delete(shared)
    return [lang, all]
  }),
) as Record<Lang, Set<string>>

function buildItems(tokens: string[], lex: Lexicon): Item[] {
  const items: Item[] = []
  let i = 0
  while (i < tokens.length) {
    const prev = items[items.length - 1]
    const afterPump = prev !== undefined && (inSet(prev, lex.pumpNouns) || inSet(prev, lex.numberMarkers))
    const n = readNumber(tokens, i, lex.lang, afterPump)
    if (n && n.next > i) {
      items.push({ tok: tokens.slice(i, n.next).join(' '), num: n, used: false })
      i = n.next
    } else {
      items.push({ tok: tokens[i] as string, used: false })
      i++
    }
  }
  return items
}

function isPumpNumber(n: NumberRead | undefined): n is NumberRead {
  return n !== undefined && !n.text.includes('.') && n.value >= 1 && n.value <= 99
}

function extractGrade(items: Item[], lex: Lexicon, slots: Slots): void {
  for (const g of lex.grades) {
    const at = findPhrase(items, g.phrase)
    if (at >= 0) {
      for (let m = 0; m < g.phrase.length; m++) (items[at + m] as Item).used = true
      slots.grade = { grades: [...g.grades], said: g.said }
      return
    }
  }
}

function extractPump(items: Item[], lex: Lexicon, slots: Slots): void {
  for (let k = 0; k < items.length; k++) {
    const it = items[k] as Item
    if (!inSet(it, lex.pumpNouns)) continue
    let j = k + 1
    const marker = inSet(items[j], lex.numberMarkers)
    if (marker) j++
    const next = items[j]
    if (next && !next.used && isPumpNumber(next.num)) {
      it.used = true
      if (marker) (items[k + 1] as Item).used = true
      next.used = true
      slots.pump = next.num.value
      return
    }
    const ordAfter = next && !next.used && !next.num ? readOrdinal(next.tok, lex.lang) : undefined
    if (ordAfter !== undefined) {
      it.used = true
      ;(next as Item).used = true
      slots.pump = ordAfter
      return
    }
    // "the second pump", "die zweite Säule", "la deuxième pompe"
    const before = items[k - 1]
    const ordBefore = before && !before.used && !before.num ? readOrdinal(before.tok, lex.lang) : undefined
    if (ordBefore !== undefined) {
      it.used = true
      ;(before as Item).used = true
      slots.pump = ordBefore
      return
    }
    it.used = true
    slots.pumpMentioned = true
  }
  // "number 4", "Nummer vier", "numéro deux", "رقم ٤" on their own name a pump too.
  for (let k = 0; k < items.length; k++) {
    const it = items[k] as Item
    const next = items[k + 1]
    if (inSet(it, lex.numberMarkers) && next && !next.used && isPumpNumber(next.num) && it.tok !== 'no') {
      it.used = true
      next.used = true
      slots.pump = next.num.value
      return
    }
  }
}

function currencyAt(items: Item[], k: number, lex: Lexicon): { currencies: Currency[]; len: number } | undefined {
  for (const c of lex.currencies) {
    if (findPhrase(items.slice(k, k + c.phrase.length), c.phrase) === 0) return { currencies: c.currencies, len: c.phrase.length }
  }
  return undefined
}

const AND_WORDS = new Set(['and', 'und', 'et'])
const CENT_WORDS = new Set(['cent', 'cents', 'ct', 'centime', 'centimes', 'سنت', 'سنتات'])

/**
 * "40 euros 50", "vierzig Euro fünfzig", "45 euros and 50 cents", "أربعين يورو وخمسين":
 * a number of 1..99 right after the currency word is the cents of a whole amount.
 */
function withCents(items: Item[], j: number, whole: string): string {
  if (whole.includes('.')) return whole
  let at = j
  const and = items[at]
  if (and && !and.used && !and.num && AND_WORDS.has(and.tok)) at++
  const c = items[at]
  const n = c && !c.used ? c.num : undefined
  if (!n || n.text.includes('.') || n.value < 1 || n.value > 99 || (n.prefix && n.prefix !== 'و')) return whole
  const unit = items[at + 1]
  const centWord = unit !== undefined && !unit.used && !unit.num && CENT_WORDS.has(unit.tok)
  // Without "cents", a single digit after the amount is more likely another answer ("40 euros, 3" to "which pump?").
  if (!centWord && n.value < 10) return whole
  for (let x = j; x <= at; x++) (items[x] as Item).used = true
  if (centWord) (unit as Item).used = true
  return `${whole}.${String(n.value).padStart(2, '0')}`
}

function extractAmount(items: Item[], lex: Lexicon, slots: Slots): void {
  for (let k = 0; k < items.length; k++) {
    const it = items[k] as Item
    if (it.used || !it.num || it.num.value < 1) continue
    const after = currencyAt(items, k + 1, lex)
    if (after) {
      it.used = true
      for (let m = 1; m <= after.len; m++) (items[k + m] as Item).used = true
      slots.amount = { text: withCents(items, k + 1 + after.len, it.num.text), currencies: after.currencies }
      return
    }
    for (let len = 1; len <= 2 && k - len >= 0; len++) {
      const before = currencyAt(items, k - len, lex)
      if (before && before.len === len) {
        it.used = true
        for (let m = 1; m <= len; m++) (items[k - m] as Item).used = true
        slots.amount = { text: it.num.text, currencies: before.currencies }
        return
      }
    }
  }
  // "for 40", "für 40", "pour 40", "بخمسين": an amount in the station's currency.
  for (let k = 0; k < items.length; k++) {
    const it = items[k] as Item
    if (it.used || !it.num || it.num.value < 1) continue
    const prefixed = it.num.prefix === 'ب'
    const prev = items[k - 1]
    if (prefixed || inSet(prev, lex.amountPreps)) {
      it.used = true
      if (!prefixed && prev) prev.used = true
      slots.amount = { text: it.num.text }
      return
    }
  }
}

function methodName(tok: string): string | undefined {
  if (Object.hasOwn(METHOD_NAMES, tok)) return METHOD_NAMES[tok]
  for (const { stem } of arabicStems(tok)) if (Object.hasOwn(METHOD_NAMES, stem)) return METHOD_NAMES[stem]
  return undefined
}

function extractPaymentMethod(items: Item[], lex: Lexicon, slots: Slots): void {
  for (let k = 0; k < items.length; k++) {
    const it = items[k] as Item
    if (it.used || it.num) continue
    // A card noun followed by its name: "carte pro", "بطاقة العمل", "card business".
    const isCard = inSet(it, lex.cardNouns) || (isArabic(it.tok) && arabicStems(it.tok).some((s) => lex.cardNouns.has(s.stem)))
    if (isCard) {
      const name = items[k + 1] && !items[k + 1]?.used ? methodName((items[k + 1] as Item).tok) : undefined
      const prevName = items[k - 1] && !items[k - 1]?.used ? methodName((items[k - 1] as Item).tok) : undefined
      if (prevName) {
        slots.paymentMethod = prevName
        ;(items[k - 1] as Item).used = true
        it.used = true
        return
      }
      if (name) {
        slots.paymentMethod = name
        ;(items[k + 1] as Item).used = true
        it.used = true
        return
      }
    }
    // German compounds: "Firmenkarte", "Privatkarte".
    const m = /^(.+?)(kredit)?karte$/.exec(it.tok)
    if (m?.[1]) {
      const name = methodName(m[1]) ?? methodName(m[1].replace(/n$/, ''))
      if (name) {
        slots.paymentMethod = name
        it.used = true
        return
      }
    }
    // "with visa", "using my business card", "mit Visa".
    if (inSet(it, lex.methodMarkers)) {
      let j = k + 1
      while (inSet(items[j], lex.determiners)) j++
      const cand = items[j]
      const two = cand && items[j + 1] ? methodName(`${cand.tok} ${(items[j + 1] as Item).tok}`) : undefined
      const one = cand && !cand.used && !cand.num ? methodName(cand.tok) : undefined
      if (two || one) {
        slots.paymentMethod = (two ?? one) as string
        for (let x = k; x <= j + (two ? 1 : 0); x++) (items[x] as Item).used = true
        if (inSet(items[j + (two ? 2 : 1)], lex.cardNouns)) (items[j + (two ? 2 : 1)] as Item).used = true
        return
      }
    }
  }
}

/**
 * Understands one utterance in English, German, French or Arabic.
 * `hint` is the conversation's language, used when the words do not tell.
 */
export function parseUtterance(text: string, hint: Lang = 'en'): ParsedUtterance {
  const tokens = typeof text === 'string' ? tokenize(text) : []
  const lang = detectLanguage(tokens, hint)
  const lex = LEXICONS[lang]
  const items = buildItems(tokens, lex)
  const slots: Slots = {}
  extractGrade(items, lex, slots)
  extractPump(items, lex, slots)
  extractAmount(items, lex, slots)
  extractPaymentMethod(items, lex, slots)
  const free: Item[] = items.map((it) => (it.used ? { tok: UNUSED, used: true } : it))
  const has = (list: string[][]) => hasAny(free, list) >= 0
  const numbers = items.filter((it) => !it.used && it.num).map((it) => it.num as NumberRead)

  const fuelContext = slots.pump !== undefined || slots.pumpMentioned === true || slots.grade !== undefined || has(lex.fuelNouns)
  const pumpSaid = slots.pump !== undefined || slots.pumpMentioned === true
  const payEvidence =
    has(lex.fuelVerbs) ||
    (has(lex.payVerbs) && fuelContext) ||
    (has(lex.activateVerbs) && pumpSaid) ||
    (slots.pump !== undefined && (slots.amount !== undefined || slots.grade !== undefined)) ||
    (slots.grade !== undefined && slots.amount !== undefined)
  const excluded = has(lex.exclusions) && slots.pump === undefined
  const negated = has(lex.negations)

  let intent: IntentType = 'unknown'
  const cancelAt = hasAny(free, lex.cancel)
  const answer = answerWords(free, lex)
  if (cancelAt >= 0) intent = 'cancel'
  else if (payEvidence && !excluded) intent = negated ? 'deny' : 'pay_fuel'
  else if (has(lex.status) && !excluded) intent = 'status'
  else if (has(lex.exclusions)) intent = 'unknown'
  // A yes and a no in one answer ("yes... actually no", "ja nein") is neither:
  // the driver is asked again rather than the first word taken.
  else if (answer.denyAt >= 0 && answer.confirmAt >= 0) intent = 'unknown'
  else if (answer.denyAt >= 0) intent = 'deny'
  else if (answer.confirmAt >= 0) intent = hasAny(answer.rest, lex.negations) >= 0 ? 'deny' : 'confirm'
  return { intent, lang, slots, numbers, text: typeof text === 'string' ? text.slice(0, 500) : '' }
}

const CODE_MAX = 32

/**
 * Reads a spoken voice code: digits said one by one or as numbers
 * ("four seven one one", "4711", "vier sieben eins eins", "٤٧١١"), else the words themselves.
 */
export function extractVoiceCode(text: string, lang: Lang): string | undefined {
  const tokens = tokenize(text)
  let out = ''
  let words = 0
  for (let i = 0; i < tokens.length; ) {
    const t = tokens[i] as string
    if (/^\d+$/.test(t)) {
      out += t
      i++
      continue
    }
    // A number may span words and digits: "forty seven eleven" is 47 11, "four seven" 4 7.
    const n = readNumber(tokens, i, lang, true)
    if (n && n.next > i && !n.text.includes('.')) {
      out += String(n.value)
      i = n.next
    } else {
      words++
      i++
    }
  }
  if (out.length > 0) return out.slice(0, CODE_MAX)
  const joined = tokens.join(' ').slice(0, CODE_MAX)
  return words > 0 && joined.length > 0 ? joined : undefined
}
