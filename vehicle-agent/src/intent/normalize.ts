/**
 * Text normalisation for intent parsing, the same for every language so
 * that lexicons are written once in their plain form:
 * - lower case; Latin accents removed (`fünf` -> `funf`, `numéro` -> `numero`, `ß` -> `ss`);
 * - Arabic-Indic and Eastern Arabic-Indic digits to ASCII (`٢` -> `2`), `٫` as decimal point;
 * - Arabic diacritics and tatweel removed, alef/hamza forms unified, `ة` -> `ه`, `ى` -> `ي`;
 * - punctuation to spaces, currency signs as their own tokens, numbers kept with one decimal mark.
 *
 * @example tokenize("Pay for pump 2, please!") // ['pay', 'for', 'pump', '2', 'please']
 */
export const MAX_UTTERANCE_CHARS = 500
export const MAX_TOKENS = 80

export function normalizeText(text: string): string {
  let s = text.slice(0, MAX_UTTERANCE_CHARS).normalize('NFKC')
  s = s
    .replace(/[\u0660-\u0669]/g, (d) => String(d.charCodeAt(0) - 0x0660))
    .replace(/[\u06f0-\u06f9]/g, (d) => String(d.charCodeAt(0) - 0x06f0))
    .replace(/\u066b/g, '.')
    .replace(/\u066c/g, '')
  s = s.toLowerCase().replace(/ß/g, 'ss')
  // English contractions before apostrophes go: "don't" must keep its "not".
  s = s.replace(/n['’]t\b/g, ' not')
  // NFD splits Latin accents and Arabic hamza/madda carriers alike; drop the marks.
  s = s.normalize('NFD').replace(/[\u0300-\u036f]/g, '')
  s = s
    .replace(/[\u0610-\u061a\u064b-\u065f\u0670\u0640\u06d6-\u06ed]/g, '')
    .replace(/[\u0622\u0623\u0625\u0671]/g, '\u0627')
    .replace(/\u0629/g, '\u0647')
    .replace(/\u0649/g, '\u064a')
  s = s.normalize('NFC')
  // Currency signs stand alone; "€50" and "50€" both become two tokens.
  s = s.replace(/([€$£])/g, ' $1 ')
  // An Arabic letter glued to digits ("ب50") is a prefix and a number.
  s = s.replace(/([\u0600-\u06ff])(\d)/g, '$1 $2').replace(/(\d)([\u0600-\u06ff])/g, '$1 $2')
  // Decimal marks survive only between digits: marked with a private-use
  // character (one the driver's text had is dropped first) while the rest of
  // the punctuation goes.
  s = s.replace(/\ue000/g, ' ').replace(/(\d)[.,](\d)/g, '$1\ue000$2')
  s = s.replace(/[^\p{L}\p{N}\ue000€$£#]+/gu, ' ')
  s = s.replace(/\ue000/g, '.')
  return s.replace(/\s+/g, ' ').trim()
}

export function tokenize(text: string): string[] {
  const n = normalizeText(text)
  return n === '' ? [] : n.split(' ').slice(0, MAX_TOKENS)
}

const ARABIC_RE = /[\u0600-\u06ff]/

export function isArabic(token: string): boolean {
  return ARABIC_RE.test(token)
}

/**
 * Arabic glues conjunctions, prepositions and the article to the word:
 * `والمضخه` is "and the pump". These are the candidate stems, the word itself first.
 */
export function arabicStems(token: string): { stem: string; prefix: string }[] {
  const out = [{ stem: token, prefix: '' }]
  if (!isArabic(token)) return out
  const prefixes = ['وبال', 'وال', 'بال', 'فال', 'كال', 'لل', 'ال', 'و', 'ب', 'ل', 'ف']
  for (const p of prefixes) {
    if (token.startsWith(p) && token.length - p.length >= 2) {
      out.push({ stem: token.slice(p.length), prefix: p })
      // "وب" + stem, "ول" + stem ...
      const rest = token.slice(p.length)
      if ((p === 'و' || p === 'ف') && rest.startsWith('ال') && rest.length > 3) {
        out.push({ stem: rest.slice(2), prefix: `${p}ال` })
      }
    }
  }
  return out
}
