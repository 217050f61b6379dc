import type { Currency, Grade } from '@fuelpay/proto'
import type { Lang } from './numbers.ts'
import { tokenize } from './normalize.ts'

/**
 * What each language says for each intent, written in plain spelling (with
 * accents and hamzas); `compileLexicon` runs every phrase through the same
 * normaliser as the driver's words, so both sides always agree.
 *
 * Intent rules (intent.parser.ts) decide with these lists:
 * - `fuelVerbs` mean "fuel my car" on their own (refuel, volltanken, faire le plein, عبي);
 * - `payVerbs` (pay, zahlen, payer, ادفع) need fuel context: a pump, a grade or a fuel noun,
 *   so "pay the phone bill" stays unknown;
 * - `activateVerbs` (unlock, freischalten, active, شغل) need a pump;
 * - `exclusions` ("bill", "gas station", "where") veto a payment unless a pump number was said.
 */
export interface LexiconSource {
  confirm: string[]
  deny: string[]
  cancel: string[]
  status: string[]
  fuelVerbs: string[]
  payVerbs: string[]
  activateVerbs: string[]
  fuelNouns: string[]
  pumpNouns: string[]
  numberMarkers: string[]
  amountPreps: string[]
  negations: string[]
  exclusions: string[]
  currencies: [string, Currency[]][]
  /** Grade phrases; the list is the preference order when the pump sells several. */
  grades: [string, Grade[]][]
  cardNouns: string[]
  methodMarkers: string[]
  determiners: string[]
  /** Common words that tell the language apart. */
  markers: string[]
}

export interface Lexicon {
  lang: Lang
  confirm: string[][]
  deny: string[][]
  cancel: string[][]
  status: string[][]
  fuelVerbs: string[][]
  payVerbs: string[][]
  activateVerbs: string[][]
  fuelNouns: string[][]
  pumpNouns: Set<string>
  numberMarkers: Set<string>
  amountPreps: Set<string>
  negations: string[][]
  exclusions: string[][]
  currencies: { phrase: string[]; currencies: Currency[] }[]
  grades: { phrase: string[]; grades: Grade[]; said: string }[]
  cardNouns: Set<string>
  methodMarkers: Set<string>
  determiners: Set<string>
  markers: Set<string>
}

const DOLLARS: Currency[] = ['USD', 'CAD', 'AUD', 'NZD', 'SGD', 'HKD', 'MXN']
const RIYALS: Currency[] = ['SAR', 'QAR', 'OMR']
const DIRHAMS: Currency[] = ['AED', 'MAD']
const DINARS: Currency[] = ['KWD', 'BHD', 'JOD', 'TND', 'LYD']
const POUNDS: Currency[] = ['GBP', 'EGP']
const PETROL: Grade[] = ['unleaded95', 'regular', 'e10', 'midgrade', 'premium', 'unleaded98']

/** Payment-method names the driver may say, in any language, to the name the cloud matches. */
export const METHOD_NAMES: Record<string, string> = Object.fromEntries(
  (
    [
      ['business', ['business', 'company', 'work', 'corporate', 'fleet', 'firmen', 'firma', 'geschäfts', 'geschäftlich', 'geschäftliche', 'dienst', 'dienstliche', 'pro', 'professionnelle', 'professionnel', 'entreprise', 'société', 'travail', 'عمل', 'العمل', 'شركة', 'الشركة']],
      ['personal', ['personal', 'private', 'own', 'privat', 'private', 'persönlich', 'persönliche', 'perso', 'personnelle', 'personnel', 'شخصية', 'الشخصية', 'شخصي', 'الشخصي', 'خاصة', 'الخاصة']],
      ['visa', ['visa', 'فيزا']],
      ['mastercard', ['mastercard', 'master', 'ماستركارد', 'ماستر']],
      ['amex', ['amex', 'american express']],
    ] as [string, string[]][]
  ).flatMap(([canonical, words]) => words.map((w) => [tokenize(w).join(' '), canonical])),
)

const ISO_CODES: [string, Currency[]][] = (
  ['EUR', 'USD', 'GBP', 'CHF', 'CAD', 'AUD', 'SEK', 'NOK', 'DKK', 'PLN', 'AED', 'SAR', 'QAR', 'KWD', 'BHD', 'OMR', 'JOD', 'EGP', 'MAD', 'TND', 'JPY'] as Currency[]
).map((c) => [c.toLowerCase(), [c]])

const SOURCES: Record<Lang, LexiconSource> = {
  en: {
    confirm: ['yes', 'yeah', 'yep', 'yup', 'yes please', 'sure', 'ok', 'okay', 'correct', 'right', 'that is right', "that's right", 'confirm', 'confirmed', 'affirmative', 'go ahead', 'do it', 'sounds good', 'please do', 'absolutely', 'of course', 'go for it', 'alright', 'all right', 'no problem'],
    deny: ['no', 'nope', 'nah', 'negative', 'wrong', 'incorrect', 'not right', 'that is wrong', "that's wrong", 'not that'],
    cancel: ['cancel', 'stop', 'abort', 'never mind', 'nevermind', 'forget it', 'quit', 'call it off'],
    status: ['status', 'how much', 'how far', 'how many', 'progress', 'how is it going', "how's it going", 'what is the total', "what's the total", 'so far', 'how long'],
    fuelVerbs: ['refuel', 'fill up', 'fill it up', 'fill her up', 'fill the tank', 'fill my tank', 'fuel up', 'gas up', 'top up', 'full tank', 'tank up'],
    payVerbs: ['pay', 'payment', 'buy', 'get', 'put', 'charge', 'want', 'need', 'purchase'],
    activateVerbs: ['activate', 'unlock', 'authorize', 'authorise', 'enable', 'start', 'turn on', 'open', 'use'],
    fuelNouns: ['fuel', 'petrol', 'gas', 'gasoline'],
    pumpNouns: ['pump', 'dispenser', 'pumps'],
    numberMarkers: ['number', 'no', 'nr', 'num', '#'],
    amountPreps: ['for', 'of', 'worth', 'up to', 'max', 'maximum'],
    negations: ['not', 'never', 'no need', 'dont'],
    exclusions: ['bill', 'invoice', 'rent', 'subscription', 'gas station', 'petrol station', 'fuel station', 'where', 'when', 'fuel level', 'weather', 'music', 'volume', 'pump up'],
    currencies: [['euro', ['EUR']], ['euros', ['EUR']], ['€', ['EUR']], ['dollar', DOLLARS], ['dollars', DOLLARS], ['bucks', DOLLARS], ['$', DOLLARS], ['pound', POUNDS], ['pounds', POUNDS], ['quid', ['GBP']], ['£', ['GBP']], ['franc', ['CHF']], ['francs', ['CHF']], ['dirham', DIRHAMS], ['dirhams', DIRHAMS], ['riyal', RIYALS], ['riyals', RIYALS], ['rial', RIYALS], ['dinar', DINARS], ['dinars', DINARS], ['yen', ['JPY']], ...ISO_CODES],
    grades: [
      ['premium diesel', ['premium_diesel']], ['diesel premium', ['premium_diesel']], ['ultimate diesel', ['premium_diesel']], ['super diesel', ['premium_diesel']],
      ['diesel', ['diesel']],
      ['super plus', ['unleaded98']], ['super 98', ['unleaded98']], ['unleaded 98', ['unleaded98']], ['98 octane', ['unleaded98']], ['super unleaded', ['unleaded98', 'premium']], ['ultimate', ['unleaded98', 'premium']],
      ['super e10', ['e10']], ['e10', ['e10']], ['e 10', ['e10']],
      ['super 95', ['unleaded95']], ['unleaded 95', ['unleaded95']], ['95 octane', ['unleaded95']], ['e5', ['unleaded95']],
      ['premium unleaded', ['premium', 'unleaded98']], ['premium', ['premium', 'unleaded98']], ['91 octane', ['premium', 'regular']], ['93 octane', ['premium']],
      ['regular unleaded', ['regular', 'unleaded95']], ['regular', ['regular', 'unleaded95']], ['87 octane', ['regular']],
      ['unleaded', ['unleaded95', 'regular', 'e10']],
      ['midgrade', ['midgrade']], ['mid grade', ['midgrade']], ['plus', ['midgrade']], ['89 octane', ['midgrade']],
      ['lpg', ['lpg']], ['autogas', ['lpg']], ['propane', ['lpg']],
      ['petrol', PETROL], ['gasoline', PETROL], ['gas', PETROL],
    ],
    cardNouns: ['card', 'account', 'credit card'],
    methodMarkers: ['with', 'using', 'on', 'from', 'via'],
    determiners: ['my', 'the', 'our', 'a', 'me'],
    markers: ['i', 'want', 'to', 'please', 'for', 'the', 'pump', 'pay', 'with', 'and', 'yes', 'no', 'fill', 'up', 'cancel', 'at', 'of', 'my', 'how', 'much', 'would', 'like', 'could', 'you', 'can', 'it', 'that', 'is', 'what', 'number', 'dollars', 'unleaded', 'petrol', 'gas', 'fuel', 'me', 'go', 'ahead', 'yeah', 'nope', 'stop', 'card', 'do', 'not', 'this', 'some', 'put', 'on', 'just'],
  },
  de: {
    confirm: ['ja', 'jawohl', 'jo', 'jep', 'genau', 'richtig', 'korrekt', 'okay', 'ok', 'bestätigen', 'bestätige', 'bestätigt', 'mach das', 'mach es', 'machs', "mach's", 'los', 'los gehts', 'passt', 'in ordnung', 'gerne', 'sicher', 'klar', 'einverstanden', 'stimmt', 'ja bitte', 'jawoll', 'kein problem'],
    deny: ['nein', 'ne', 'nee', 'nö', 'falsch', 'nicht richtig', 'stimmt nicht', 'auf keinen fall'],
    cancel: ['abbrechen', 'abbruch', 'brich ab', 'stopp', 'stop', 'stornieren', 'storniere', 'storno', 'vergiss es', 'halt', 'hör auf', 'beenden', 'beende'],
    status: ['status', 'wie viel', 'wieviel', 'wie weit', 'stand', 'wie lange', 'fortschritt', 'wie viele liter', 'wie läuft'],
    fuelVerbs: ['tanken', 'tanke', 'volltanken', 'tank voll', 'betanken', 'auftanken', 'vollmachen', 'voll machen', 'nachtanken', 'tankfüllung'],
    payVerbs: ['zahlen', 'bezahlen', 'bezahle', 'zahle', 'bezahl', 'zahl', 'kaufen', 'möchte', 'will', 'hätte gern', 'hätte gerne', 'brauche', 'gib', 'geben'],
    activateVerbs: ['freischalten', 'freigeben', 'frei', 'aktivieren', 'aktiviere', 'starten', 'starte', 'einschalten', 'nehmen', 'nehme'],
    fuelNouns: ['sprit', 'kraftstoff', 'treibstoff', 'benzin'],
    pumpNouns: ['säule', 'zapfsäule', 'saeule', 'zapfsaeule', 'tanksäule', 'zapfsäulen', 'pumpe', 'zapfpunkt'],
    numberMarkers: ['nummer', 'nr', 'no', '#'],
    amountPreps: ['für', 'fur', 'bis', 'maximal', 'höchstens', 'um'],
    negations: ['nicht', 'kein', 'keine', 'nie', 'niemals'],
    exclusions: ['rechnung', 'miete', 'tankstelle', 'wo', 'wann', 'tankanzeige', 'wetter', 'musik', 'radio'],
    currencies: [['euro', ['EUR']], ['euros', ['EUR']], ['€', ['EUR']], ['dollar', DOLLARS], ['$', DOLLARS], ['franken', ['CHF']], ['fränkli', ['CHF']], ['pfund', ['GBP']], ['£', ['GBP']], ...ISO_CODES],
    grades: [
      ['premium diesel', ['premium_diesel']], ['diesel premium', ['premium_diesel']], ['super diesel', ['premium_diesel']], ['ultimate diesel', ['premium_diesel']],
      ['diesel', ['diesel']],
      ['super plus', ['unleaded98']], ['superplus', ['unleaded98']], ['super 98', ['unleaded98']], ['98 oktan', ['unleaded98']], ['bleifrei 98', ['unleaded98']], ['ultimate', ['unleaded98', 'premium']],
      ['super e10', ['e10']], ['e10', ['e10']], ['e 10', ['e10']],
      ['super 95', ['unleaded95']], ['super e5', ['unleaded95']], ['e5', ['unleaded95']], ['bleifrei 95', ['unleaded95']], ['95 oktan', ['unleaded95']],
      ['super', ['unleaded95', 'e10', 'premium']], ['bleifrei', ['unleaded95', 'e10', 'regular']],
      ['normalbenzin', ['regular', 'unleaded95']], ['normal', ['regular', 'unleaded95']],
      ['premium', ['premium', 'unleaded98']],
      ['autogas', ['lpg']], ['lpg', ['lpg']], ['flüssiggas', ['lpg']],
      ['benzin', PETROL], ['benziner', PETROL],
    ],
    cardNouns: ['karte', 'kreditkarte', 'konto'],
    methodMarkers: ['mit', 'über', 'per', 'von'],
    determiners: ['meiner', 'meine', 'der', 'die', 'dem', 'meinem', 'unserer', 'einer'],
    markers: ['ich', 'bitte', 'möchte', 'will', 'für', 'die', 'der', 'das', 'an', 'säule', 'zapfsäule', 'zahlen', 'bezahlen', 'tanken', 'ja', 'nein', 'mit', 'und', 'volltanken', 'abbrechen', 'wie', 'viel', 'nummer', 'bleifrei', 'mal', 'doch', 'genau', 'richtig', 'können', 'sie', 'du', 'mir', 'meine', 'meiner', 'nicht', 'den', 'dem', 'einmal', 'ist', 'es', 'los', 'bis', 'zu', 'hätte', 'gern', 'gerne', 'euro', 'nee', 'stopp', 'vergiss', 'benzin', 'passt', 'machen', 'mach'],
  },
  fr: {
    confirm: ['oui', 'ouais', "d'accord", 'daccord', "c'est bon", "c'est ça", "c'est correct", 'exact', 'exactement', 'vas-y', 'allez-y', 'confirme', 'confirmer', 'confirmez', 'je confirme', 'parfait', 'bien sûr', 'ok', 'okay', 'correct', 'tout à fait', 'volontiers', 'oui merci', 'bien', 'pas de problème', 'pas de souci', 'sans problème'],
    deny: ['non', 'pas ça', 'faux', "c'est faux", 'incorrect', 'pas du tout', 'non merci'],
    cancel: ['annule', 'annuler', 'annulez', 'arrête', 'arrêter', 'arrêtez', 'stop', 'laisse tomber', 'laissez tomber', 'oublie', 'oubliez'],
    status: ['statut', 'état', 'combien', 'où en est', 'où en sommes', 'progression', 'ça avance', 'ça en est où'],
    fuelVerbs: ['faire le plein', 'fais le plein', 'faites le plein', 'le plein', 'plein', 'ravitailler', 'remplir', 'remplis', 'remplissez'],
    payVerbs: ['payer', 'paye', 'paie', 'payez', 'régler', 'règle', 'réglez', 'acheter', 'mets', 'mettez', 'mettre', 'prendre', 'prends', 'voudrais', 'veux', 'aimerais', 'donne', 'donnez', 'souhaite'],
    activateVerbs: ['activer', 'active', 'activez', 'débloquer', 'débloque', 'débloquez', 'autoriser', 'autorise', 'autorisez', 'démarrer', 'démarre', 'lancer', 'lance', 'ouvre', 'ouvrir'],
    fuelNouns: ['carburant', 'essence'],
    pumpNouns: ['pompe', 'pompes', 'borne', 'distributeur'],
    numberMarkers: ['numéro', 'no', 'n', 'nº', 'num', '#'],
    amountPreps: ['pour', 'de', "jusqu'à", 'maximum', 'max'],
    negations: ['pas', 'jamais', 'ne'],
    exclusions: ['facture', 'loyer', 'station service', 'station essence', 'où est', 'où se trouve', 'quand', 'météo', 'musique', 'radio', 'jauge'],
    currencies: [['euro', ['EUR']], ['euros', ['EUR']], ['€', ['EUR']], ['dollar', DOLLARS], ['dollars', DOLLARS], ['$', DOLLARS], ['franc', ['CHF']], ['francs', ['CHF']], ['livre', ['GBP']], ['livres', ['GBP']], ['dirham', ['MAD', 'AED']], ['dirhams', ['MAD', 'AED']], ['dinar', ['TND', ...DINARS]], ['dinars', ['TND', ...DINARS]], ...ISO_CODES],
    grades: [
      ['gazole premium', ['premium_diesel']], ['gasoil premium', ['premium_diesel']], ['diesel premium', ['premium_diesel']], ['premium diesel', ['premium_diesel']], ['excellium diesel', ['premium_diesel']],
      ['gazole', ['diesel']], ['gasoil', ['diesel']], ['gas oil', ['diesel']], ['gazoil', ['diesel']], ['diesel', ['diesel']],
      ['sans plomb 98', ['unleaded98']], ['sp 98', ['unleaded98']], ['sp98', ['unleaded98']], ['super 98', ['unleaded98']], ['super plus', ['unleaded98']],
      ['sans plomb 95 e10', ['e10']], ['sp95 e10', ['e10']], ['sp 95 e10', ['e10']], ['sans plomb e10', ['e10']], ['e10', ['e10']], ['e 10', ['e10']],
      ['sans plomb 95', ['unleaded95']], ['sp 95', ['unleaded95']], ['sp95', ['unleaded95']], ['super 95', ['unleaded95']], ['e5', ['unleaded95']],
      ['sans plomb', ['unleaded95', 'e10', 'regular']], ['super', ['unleaded95', 'premium']],
      ['ordinaire', ['regular', 'unleaded95']],
      ['premium', ['premium', 'unleaded98']],
      ['gpl', ['lpg']],
      ['essence', PETROL],
    ],
    cardNouns: ['carte', 'compte'],
    methodMarkers: ['avec', 'par', 'sur'],
    determiners: ['ma', 'la', 'mon', 'le', 'notre', 'une'],
    markers: ['je', 'pompe', 'payer', 'oui', 'non', 'le', 'la', 'les', 'pour', 'de', 'du', 'des', 'plein', 'voudrais', 'vous', 'plait', 'sil', 'annule', 'annuler', 'numero', 'avec', 'ma', 'mon', 'est', 'fais', 'faire', 'mets', 'merci', 'c', 'd', 'l', 'j', 'combien', 'arrete', 'carte', 'essence', 'gazole', 'sans', 'plomb', 'et', 'en', 'a', 'accord', 'ouais', 'bon', 'moi', 'une', 'sur', 'veux', 'aimerais', 'on', 'y', 'au', 'deux', 'trois', 'quatre', 'cinq'],
  },
  ar: {
    confirm: ['نعم', 'أجل', 'اي', 'إي', 'ايوه', 'أيوه', 'ايوا', 'إيه', 'تمام', 'حسنا', 'حسناً', 'طيب', 'موافق', 'أكد', 'أكّد', 'اكيد', 'أكيد', 'صحيح', 'صح', 'بالتأكيد', 'يلا', 'اوكي', 'أوكي', 'ok', 'مضبوط', 'نعم من فضلك', 'لا مشكلة', 'ما في مشكلة', 'مافي مشكلة'],
    deny: ['لا', 'كلا', 'خطأ', 'غلط', 'مش صح', 'مو صحيح', 'غير صحيح', 'ليس صحيحا'],
    cancel: ['ألغ', 'الغ', 'ألغي', 'الغي', 'إلغاء', 'الغاء', 'ألغِ', 'ألغيها', 'وقف', 'أوقف', 'توقف', 'بطل', 'انس', 'انسى'],
    status: ['كم', 'الحالة', 'حالة', 'وين وصل', 'التقدم', 'كم وصل', 'كم صار', 'كم لتر'],
    fuelVerbs: ['عبي', 'عبّي', 'عبئ', 'عبئي', 'عبيلي', 'عبّيلي', 'تعبئة', 'تعبئه', 'تفويل', 'فول', 'فوّل', 'املأ', 'املا', 'املي', 'املئ', 'اعبي', 'زود'],
    payVerbs: ['ادفع', 'إدفع', 'أدفع', 'دفع', 'ادفعي', 'يدفع', 'تدفع', 'سدد', 'اسدد', 'اشتري', 'أريد', 'اريد', 'بدي', 'ابغى', 'أبغى', 'عايز', 'حط', 'ضع', 'اعطني', 'أعطني'],
    activateVerbs: ['فعل', 'فعّل', 'شغل', 'شغّل', 'افتح', 'جهز', 'جهّز', 'استخدم'],
    fuelNouns: ['وقود', 'بنزين', 'محروقات'],
    pumpNouns: ['مضخة', 'مضخه', 'طرمبة', 'طرمبه', 'طلمبة', 'طلمبه', 'ماكينة', 'ماكينه', 'مكينة', 'مسدس'],
    numberMarkers: ['رقم', 'نمرة', 'نمره'],
    amountPreps: ['ب', 'بقيمة', 'بقيمه', 'حتى', 'بحد', 'لحد'],
    negations: ['لا', 'لن', 'ما', 'مش', 'ليس', 'بلاش'],
    exclusions: ['فاتورة', 'فاتوره', 'إيجار', 'محطة', 'محطه', 'أين', 'وين', 'متى', 'الطقس', 'موسيقى', 'الموسيقى', 'اغنية', 'اتصل'],
    currencies: [['يورو', ['EUR']], ['€', ['EUR']], ['دولار', DOLLARS], ['دولارات', DOLLARS], ['$', DOLLARS], ['ريال', RIYALS], ['ريالات', RIYALS], ['درهم', DIRHAMS], ['دراهم', DIRHAMS], ['دينار', DINARS], ['دنانير', DINARS], ['جنيه', ['EGP', 'GBP']], ['جنيهات', ['EGP', 'GBP']], ['ليرة', ['TRY']], ...ISO_CODES],
    grades: [
      ['ديزل ممتاز', ['premium_diesel']], ['ديزل بريميوم', ['premium_diesel']],
      ['ديزل', ['diesel']], ['سولار', ['diesel']], ['مازوت', ['diesel']], ['غازوال', ['diesel']], ['جازولين', ['diesel']],
      ['بنزين 98', ['unleaded98']], ['بنزين ممتاز 98', ['unleaded98']], ['سوبر 98', ['unleaded98']],
      ['بنزين 95', ['unleaded95']], ['سوبر 95', ['unleaded95']], ['95 أوكتان', ['unleaded95']],
      ['بنزين 91', ['regular', 'unleaded95']], ['بنزين 92', ['regular', 'unleaded95']], ['بنزين عادي', ['regular', 'unleaded95']], ['عادي', ['regular', 'unleaded95']],
      ['بنزين ممتاز', ['premium', 'unleaded95', 'unleaded98']], ['ممتاز', ['premium', 'unleaded98']], ['بريميوم', ['premium', 'unleaded98']], ['سوبر', ['unleaded95', 'premium']],
      ['غاز', ['lpg']],
      ['بنزين', PETROL],
    ],
    cardNouns: ['بطاقة', 'بطاقه', 'كارت', 'حساب'],
    methodMarkers: ['ب', 'عبر', 'من'],
    determiners: [],
    markers: [],
  },
}

function phrases(list: string[]): string[][] {
  const out = list.map((p) => tokenize(p)).filter((p) => p.length > 0)
  // Longest first, so that "super plus" wins over "plus".
  return out.sort((a, b) => b.length - a.length)
}
function words(list: string[]): Set<string> {
  return new Set(list.flatMap((w) => tokenize(w)))
}

function compileLexicon(lang: Lang, src: LexiconSource): Lexicon {
  return {
    lang,
    confirm: phrases(src.confirm),
    deny: phrases(src.deny),
    cancel: phrases(src.cancel),
    status: phrases(src.status),
    fuelVerbs: phrases(src.fuelVerbs),
    payVerbs: phrases(src.payVerbs),
    activateVerbs: phrases(src.activateVerbs),
    fuelNouns: phrases(src.fuelNouns),
    pumpNouns: words(src.pumpNouns),
    numberMarkers: words(src.numberMarkers),
    amountPreps: words(src.amountPreps),
    negations: phrases(src.negations),
    exclusions: phrases(src.exclusions),
    currencies: src.currencies
      .map(([p, c]) => ({ phrase: tokenize(p), currencies: c }))
      .sort((a, b) => b.phrase.length - a.phrase.length),
    grades: src.grades
      .map(([p, g]) => ({ phrase: tokenize(p), grades: g, said: p }))
      .sort((a, b) => b.phrase.length - a.phrase.length),
    cardNouns: words(src.cardNouns),
    methodMarkers: words(src.methodMarkers),
    determiners: words(src.determiners),
    markers: words(src.markers),
  }
}

export const LEXICONS: Record<Lang, Lexicon> = {
  en: compileLexicon('en', SOURCES.en),
  de: compileLexicon('de', SOURCES.de),
  fr: compileLexicon('fr', SOURCES.fr),
  ar: compileLexicon('ar', SOURCES.ar),
}

/** The raw phrase lists, for generating recognizer grammars from the command set. */
export function lexiconSource(lang: Lang): Readonly<LexiconSource> {
  return SOURCES[lang]
}
