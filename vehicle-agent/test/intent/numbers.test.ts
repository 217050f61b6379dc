import t from 'tap'
import { parseGermanNumberWord, readNumber } from '../../src/intent/numbers.ts'
import { tokenize } from '../../src/intent/normalize.ts'
import type { Lang } from '../../src/intent/numbers.ts'

const read = (text: string, lang: Lang) => readNumber(tokenize(text), 0, lang, true)?.value

t.test('numbers in words and digits, per language', async (t) => {
  const cases: [string, Lang, number][] = [
    ['forty-five', 'en', 45], ['a hundred and twenty', 'en', 120], ['nineteen', 'en', 19], ['two thousand five hundred', 'en', 2500], ['45.50', 'en', 45],
    ['fünfundvierzig', 'de', 45], ['zweihundertfünfzig', 'de', 250], ['fünf und vierzig', 'de', 45], ['zwölf', 'de', 12], ['eintausendeins', 'de', 1001], ['zwo', 'de', 2],
    ['quatre-vingt-quinze', 'fr', 95], ['soixante-dix-sept', 'fr', 77], ['vingt et un', 'fr', 21], ['cent vingt', 'fr', 120], ['deux cents', 'fr', 200], ['dix-huit', 'fr', 18], ['septante', 'fr', 70],
    ['٤٥', 'ar', 45], ['۴۵', 'ar', 45], ['خمسة وعشرين', 'ar', 25], ['مئة وخمسين', 'ar', 150], ['ثلاثة عشر', 'ar', 13], ['مئتين', 'ar', 200], ['ثلاث مئة', 'ar', 300], ['بخمسين', 'ar', 50], ['ألف', 'ar', 1000],
  ]
  for (const [text, lang, want] of cases) t.equal(read(text, lang), want, `${lang}: ${text}`)
})

t.test('adjacent numbers stay apart', async (t) => {
  t.equal(read('two fifty', 'en'), 2)
  t.equal(read('deux trente', 'fr'), 2)
  t.equal(read('zwei dreißig', 'de'), 2)
  t.equal(read('ثلاثة خمسين', 'ar'), 3)
})

t.test('not numbers', async (t) => {
  t.equal(read('pump', 'en'), undefined)
  t.equal(parseGermanNumberWord('und'), undefined)
  t.equal(parseGermanNumberWord('hundertx'), undefined)
  t.equal(readNumber(tokenize('un plein'), 0, 'fr', false), undefined, 'French article is not a number')
  t.equal(read('9999999999', 'en'), undefined, 'longer than nine digits is not read')
})

t.test('a decimal mark survives only between digits, whatever characters the text carries', async (t) => {
  t.same(tokenize('pump 4, 45,50 euros.'), ['pump', '4', '45.50', 'euros'])
  t.same(tokenize('pump 4\u0000 5\ue0003'), ['pump', '4', '5', '3'], 'NUL and the private-use marker in the text are not decimal marks')
})
