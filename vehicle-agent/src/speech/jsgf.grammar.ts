import { lexiconSource } from '../intent/lexicon.ts'
import { tokenize } from '../intent/normalize.ts'

/**
 * A JSGF grammar for pocketsphinx, generated from the English command set
 * (intent/lexicon.ts), so the recognizer listens for exactly what the intent
 * parser understands. Without a grammar pocketsphinx's general language
 * model recognizes short commands poorly.
 *
 * Words the pronouncing dictionary does not know are left out (pocketsphinx
 * refuses a grammar with unknown words); pass the dictionary's word set.
 *
 * @example const gram = buildEnglishGrammar({ knownWords: await loadDictionaryWords(dictPath) })
 */
export function buildEnglishGrammar(opts: { knownWords?: Set<string> } = {}): string {
  const src = lexiconSource('en')
  const known = opts.knownWords
  const clean = (list: string[]): string[] => {
    const out = new Set<string>()
    for (const p of list) {
      const words = tokenize(p)
      if (words.length === 0) continue
      if (!words.every((w) => /^[a-z]+$/.test(w) && (!known || known.has(w)))) continue
      out.add(words.join(' '))
    }
    return [...out].sort()
  }
  const alt = (list: string[]) => list.map((p) => (p.includes(' ') ? `( ${p} )` : p)).join(' | ')
  const units = ['one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine']
  const teens = ['ten', 'eleven', 'twelve', 'thirteen', 'fourteen', 'fifteen', 'sixteen', 'seventeen', 'eighteen', 'nineteen']
  const tens = ['twenty', 'thirty', 'forty', 'fifty', 'sixty', 'seventy', 'eighty', 'ninety']
  // Grades with digits ("super 95") are spoken with number words.
  const gradePhrases = src.grades.map(([p]) => p.replace(/\b95\b/, 'ninety five').replace(/\b98\b/, 'ninety eight').replace(/\b10\b/, 'ten').replace(/\b(87|89|91|93)\b/, (n) => ({ '87': 'eighty seven', '89': 'eighty nine', '91': 'ninety one', '93': 'ninety three' })[n] as string))
  const currencies = clean(src.currencies.map(([p]) => p).filter((p) => /^[a-z ]+$/.test(p) && p.length > 3))
  const methodNames = clean(['business', 'company', 'work', 'personal', 'private', 'visa', 'mastercard'])
  const polite = clean(['please', 'can you', 'could you', 'i want to', 'i would like to', 'i need to', 'now'])
  // A short, fixed verb list keeps the search space small: open word lists make pocketsphinx hallucinate.
  const payVerbs = clean(['pay', 'pay for', 'refuel', 'fill up', 'fuel up', 'authorize', 'activate', 'unlock', 'buy', 'put', 'i want', 'i need'])
  const lines = [
    '#JSGF V1.0;',
    'grammar fuelpay;',
    'public <utterance> = <pay> | <answer>;',
    '<answer> = ( <confirm> | <deny> | <cancel> | <status> ) [please];',
    `<confirm> = ${alt(clean(src.confirm))};`,
    `<deny> = ${alt(clean(src.deny))};`,
    `<cancel> = ${alt(clean(src.cancel))};`,
    `<status> = ${alt(clean(src.status))};`,
    `<polite> = ${alt(polite)};`,
    `<payverb> = ${alt(payVerbs)};`,
    '<pay> = [<polite>] <payverb> [<slots>] [please];',
    '<slots> = <slot> [[<join>] <slot> [[<join>] <slot> [[<join>] <slot>]]];',
    '<join> = and | with | at | for | of | on | using;',
    '<slot> = [the] <pump> | [for] <amount> [of] | [some] <grade> | [my] <method>;',
    `<pump> = ( ${alt(clean(src.pumpNouns))} ) [number] <number>;`,
    `<amount> = <number> ( ${alt(currencies)} );`,
    `<grade> = ${alt(clean(gradePhrases))};`,
    `<method> = ( ${alt(methodNames)} ) card;`,
    '<number> = <below100> | [one | a] hundred [[and] <below100>];',
    `<below100> = ${alt(units)} | ${alt(teens)} | ( ${alt(tens)} ) [ ${alt(units)} ];`,
  ]
  return `${lines.join('\n')}\n`
}

/** The words of a CMU-style pronouncing dictionary ("word(2)" variants folded). */
export function dictionaryWords(dictText: string): Set<string> {
  const out = new Set<string>()
  for (const line of dictText.split('\n')) {
    const w = line.split(/\s/, 1)[0]
    if (w) out.add(w.replace(/\(\d+\)$/, ''))
  }
  return out
}
