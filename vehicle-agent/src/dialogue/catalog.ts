import {
  type Currency,
  formatAmount,
  formatVolume,
  type Grade,
  type ReasonCode,
  type VolumeUnit,
} from '@fuelpay/proto'
import type { Lang } from '../intent/numbers.ts'

/**
 * Everything the agent says, per language. Amounts go through proto's
 * `formatAmount` (integers only); German and French use the decimal comma.
 *
 * @example say('fr', 'pumpReady', { pump: 2 }) // 'La pompe 2 est prête. Vous pouvez décrocher le pistolet.'
 */
export interface ReadBack {
  station: string
  pump: number
  grades: Grade[]
  holdAmountMinor: number
  currency: Currency
  partial: boolean
  card?: { brand: string; last4: string } | undefined
  pumpFromBeacon?: boolean
}

export interface MessageParams {
  notUnderstood: Record<string, never>
  askPump: { pumps: number[] }
  pumpProposed: { pump: number }
  pumpNotAtStation: { pump: number; station: string }
  askGrade: { grades: Grade[] }
  gradeNotSold: { said: string; grades: Grade[] }
  currencyMismatch: { currency: Currency }
  noStation: { code: ReasonCode }
  checkingHold: Record<string, never>
  readBack: ReadBack
  askVoiceCode: Record<string, never>
  voiceCodeWrong: Record<string, never>
  declined: { code: ReasonCode }
  activating: { pump: number }
  pumpReady: { pump: number }
  pumpRejected: { code: ReasonCode }
  pumpNoAnswer: Record<string, never>
  cancelled: Record<string, never>
  cannotCancelFlowing: Record<string, never>
  statusFueling: { volumeMilli: number; unit: VolumeUnit; amountMinor: number; currency: Currency }
  statusWaiting: Record<string, never>
  statusNone: Record<string, never>
  fuelingStarted: Record<string, never>
  completed: { volumeMilli: number; unit: VolumeUnit; amountMinor: number; currency: Currency }
  saleUnverified: Record<string, never>
  receipt: { amountMinor: number; currency: Currency; brand: string; last4: string; station: string }
  receiptUnavailable: Record<string, never>
  sessionEnded: { code: ReasonCode }
  noAnswer: Record<string, never>
  answerYesNo: Record<string, never>
  nothingToConfirm: Record<string, never>
  changing: Record<string, never>
  /** A yes that named a pump, fuel, amount or card other than the read-back's. */
  confirmDiffers: { slots: SlotName[] }
}
/** The parts of a hold a driver can name in a sentence. */
export type SlotName = 'pump' | 'grade' | 'amount' | 'card'
export type MessageKey = keyof MessageParams

type Catalog = { [K in MessageKey]: (p: MessageParams[K]) => string }

const GRADE_NAMES: Record<Lang, Record<Grade, string>> = {
  en: { unleaded95: 'unleaded 95', unleaded98: 'super 98', e10: 'E10', regular: 'regular', midgrade: 'midgrade', premium: 'premium', diesel: 'diesel', premium_diesel: 'premium diesel', lpg: 'LPG' },
  de: { unleaded95: 'Super 95', unleaded98: 'Super Plus', e10: 'Super E10', regular: 'Normalbenzin', midgrade: 'Midgrade', premium: 'Premium', diesel: 'Diesel', premium_diesel: 'Premium-Diesel', lpg: 'Autogas' },
  fr: { unleaded95: 'sans plomb 95', unleaded98: 'sans plomb 98', e10: 'SP95-E10', regular: 'ordinaire', midgrade: 'intermédiaire', premium: 'premium', diesel: 'gazole', premium_diesel: 'gazole premium', lpg: 'GPL' },
  ar: { unleaded95: 'بنزين 95', unleaded98: 'بنزين 98', e10: 'بنزين E10', regular: 'بنزين عادي', midgrade: 'بنزين متوسط', premium: 'بنزين ممتاز', diesel: 'ديزل', premium_diesel: 'ديزل ممتاز', lpg: 'غاز' },
}

export function gradeName(grade: Grade, lang: Lang): string {
  return GRADE_NAMES[lang][grade]
}

/** Codes that only a fault in the car, the station or the service produces: the driver hears "a technical error". */
const TECHNICAL_CODES = [
  'BAD_JSON', 'SCHEMA_INVALID', 'PAYLOAD_TOO_LARGE', 'UNKNOWN_TOPIC', 'TOPIC_MISMATCH', 'UNSUPPORTED_VERSION', 'TOKEN_MALFORMED',
  'TOKEN_ALG_NOT_ALLOWED', 'TOKEN_CLAIMS_INVALID', 'IDEMPOTENCY_KEY_REUSED', 'CLIENT_ID_MISMATCH', 'INTERNAL',
] as const satisfies readonly ReasonCode[]
/** The pump could not check the authorization's signature. */
const UNCHECKED_CODES = ['TOKEN_BAD_SIGNATURE', 'TOKEN_UNKNOWN_KEY', 'KEY_REVOKED'] as const satisfies readonly ReasonCode[]
type ReasonTexts = Record<Exclude<ReasonCode, (typeof TECHNICAL_CODES)[number] | (typeof UNCHECKED_CODES)[number]>, string>

function reasonTexts(own: ReasonTexts, technical: string, unchecked: string): Record<ReasonCode, string> {
  return {
    ...own,
    ...Object.fromEntries(TECHNICAL_CODES.map((c) => [c, technical])),
    ...Object.fromEntries(UNCHECKED_CODES.map((c) => [c, unchecked])),
  } as Record<ReasonCode, string>
}

/** Every reason, in words, in every language (the driver hears each one as a sentence, never a code). */
const REASON_TEXT: Record<Lang, Record<ReasonCode, string>> = {
  en: reasonTexts({
    INSUFFICIENT_FUNDS: 'insufficient funds', CARD_EXPIRED: 'the card has expired', SUSPECTED_FRAUD: 'the bank suspects fraud',
    ISSUER_UNAVAILABLE: 'the bank is not reachable', LIMIT_TRANSACTION: 'over the limit per purchase', LIMIT_DAILY: 'over the daily limit',
    LIMIT_MONTHLY: 'over the monthly limit', GRADE_NOT_PERMITTED: 'this fuel is not allowed for this vehicle',
    STATION_NOT_PERMITTED: 'this station is not allowed for this vehicle', OUTSIDE_HOURS: 'purchases are not allowed at this hour',
    VOICE_CODE_WRONG: 'the voice code is wrong', NO_PAYMENT_METHOD: 'there is no usable card', DECLINED: 'the bank declined',
    PROCESSOR_TIMEOUT: 'the bank did not answer in time', OUTSIDE_GEOFENCE: 'the car is not at a fuelpay station',
    PUMP_NOT_AT_STATION: 'that pump is not at this station', UNKNOWN_STATION: 'the station is not known', PUMP_BUSY: 'the pump is busy',
    PUMP_FAULT: 'the pump is out of order', PUMP_OFFLINE: 'the pump is offline', PUMP_OUT_OF_SERVICE: 'the pump is out of service',
    NOZZLE_TIMEOUT: 'the nozzle was not lifted in time', CANCELLED: 'the session was cancelled', EMERGENCY_STOP: 'the pump was stopped by the station',
    UNKNOWN_GRADE: 'the pump does not sell this fuel', TIMEOUT: 'no answer in time', UNAVAILABLE: 'the service is not available',
    NO_FLOW_TIMEOUT: 'no fuel flowed', MAX_DURATION: 'the session took too long', UNAUTHENTICATED: 'the car could not sign in', RATE_LIMITED: 'too many wrong voice codes, try again later',
    TOKEN_EXPIRED: 'the payment authorization expired', TOKEN_NOT_YET_VALID: 'the payment authorization is not valid yet',
    WRONG_STATION: 'the authorization is for another station', WRONG_PUMP: 'the authorization is for another pump', WRONG_VEHICLE: 'the authorization is for another vehicle',
    TOKEN_REPLAYED: 'this authorization was already used', GRADE_NOT_ALLOWED: 'this fuel is not covered by the payment', UNKNOWN_PUMP: 'the station does not know this pump',
    FUEL_ALREADY_FLOWING: 'fuel is already flowing', VOICE_CODE_REQUIRED: 'a voice code is required', SESSION_NOT_FOUND: 'the payment session is not known',
    SESSION_STATE_CONFLICT: 'the payment session has already moved on', SALE_SIGNATURE_INVALID: "the station's sale record does not verify",
    SALE_ARITHMETIC_INVALID: "the station's sale record does not add up", IDEMPOTENCY_IN_PROGRESS: 'the request is still being processed',
    SALE_MISMATCH: "the station's sale record is for another session", CURRENCY_MISMATCH: "the amount is not in this station's currency",
    UNKNOWN_CURRENCY: 'the currency is not supported', AMOUNT_OUT_OF_RANGE: 'the amount is not possible', FORBIDDEN: 'this car is not allowed to do that', NOT_FOUND: 'it was not found',
  }, 'a technical error', 'the pump could not check the payment authorization'),
  de: reasonTexts({
    INSUFFICIENT_FUNDS: 'das Guthaben reicht nicht', CARD_EXPIRED: 'die Karte ist abgelaufen', SUSPECTED_FRAUD: 'die Bank vermutet Betrug',
    ISSUER_UNAVAILABLE: 'die Bank ist nicht erreichbar', LIMIT_TRANSACTION: 'über dem Limit pro Einkauf', LIMIT_DAILY: 'über dem Tageslimit',
    LIMIT_MONTHLY: 'über dem Monatslimit', GRADE_NOT_PERMITTED: 'diese Sorte ist für dieses Fahrzeug nicht erlaubt',
    STATION_NOT_PERMITTED: 'diese Tankstelle ist für dieses Fahrzeug nicht erlaubt', OUTSIDE_HOURS: 'zu dieser Uhrzeit nicht erlaubt',
    VOICE_CODE_WRONG: 'der Sprachcode ist falsch', NO_PAYMENT_METHOD: 'keine nutzbare Karte', DECLINED: 'die Bank hat abgelehnt',
    PROCESSOR_TIMEOUT: 'die Bank hat nicht rechtzeitig geantwortet', OUTSIDE_GEOFENCE: 'das Auto steht an keiner fuelpay-Tankstelle',
    PUMP_NOT_AT_STATION: 'diese Säule gibt es an dieser Tankstelle nicht', UNKNOWN_STATION: 'die Tankstelle ist unbekannt', PUMP_BUSY: 'die Säule ist belegt',
    PUMP_FAULT: 'die Säule ist gestört', PUMP_OFFLINE: 'die Säule ist nicht erreichbar', PUMP_OUT_OF_SERVICE: 'die Säule ist außer Betrieb',
    NOZZLE_TIMEOUT: 'die Zapfpistole wurde nicht rechtzeitig abgenommen', CANCELLED: 'der Vorgang wurde abgebrochen', EMERGENCY_STOP: 'die Tankstelle hat die Säule gestoppt',
    UNKNOWN_GRADE: 'die Säule hat diese Sorte nicht', TIMEOUT: 'keine Antwort', UNAVAILABLE: 'der Dienst ist nicht verfügbar',
    NO_FLOW_TIMEOUT: 'es floss kein Kraftstoff', MAX_DURATION: 'der Vorgang dauerte zu lange', UNAUTHENTICATED: 'das Auto konnte sich nicht anmelden', RATE_LIMITED: 'zu viele falsche Sprachcodes, bitte später noch einmal',
    TOKEN_EXPIRED: 'die Zahlungsfreigabe ist abgelaufen', TOKEN_NOT_YET_VALID: 'die Zahlungsfreigabe ist noch nicht gültig',
    WRONG_STATION: 'die Freigabe gilt für eine andere Tankstelle', WRONG_PUMP: 'die Freigabe gilt für eine andere Säule', WRONG_VEHICLE: 'die Freigabe gilt für ein anderes Fahrzeug',
    TOKEN_REPLAYED: 'diese Freigabe wurde schon benutzt', GRADE_NOT_ALLOWED: 'diese Sorte ist von der Zahlung nicht gedeckt', UNKNOWN_PUMP: 'die Tankstelle kennt diese Säule nicht',
    FUEL_ALREADY_FLOWING: 'es wird schon getankt', VOICE_CODE_REQUIRED: 'ein Sprachcode ist nötig', SESSION_NOT_FOUND: 'der Zahlungsvorgang ist unbekannt',
    SESSION_STATE_CONFLICT: 'der Zahlungsvorgang ist schon weiter', SALE_SIGNATURE_INVALID: 'der Verkaufsbeleg der Tankstelle ist nicht gültig signiert',
    SALE_ARITHMETIC_INVALID: 'der Verkaufsbeleg der Tankstelle ist falsch gerechnet', IDEMPOTENCY_IN_PROGRESS: 'die Anfrage wird noch bearbeitet',
    SALE_MISMATCH: 'der Verkaufsbeleg gehört zu einem anderen Vorgang', CURRENCY_MISMATCH: 'der Betrag ist nicht in der Währung dieser Tankstelle',
    UNKNOWN_CURRENCY: 'diese Währung wird nicht unterstützt', AMOUNT_OUT_OF_RANGE: 'dieser Betrag ist nicht möglich', FORBIDDEN: 'das ist für dieses Auto nicht erlaubt', NOT_FOUND: 'nicht gefunden',
  }, 'ein technischer Fehler', 'die Säule konnte die Zahlungsfreigabe nicht prüfen'),
  fr: reasonTexts({
    INSUFFICIENT_FUNDS: 'provision insuffisante', CARD_EXPIRED: 'la carte a expiré', SUSPECTED_FRAUD: 'la banque suspecte une fraude',
    ISSUER_UNAVAILABLE: 'la banque est injoignable', LIMIT_TRANSACTION: 'au-dessus du plafond par achat', LIMIT_DAILY: 'au-dessus du plafond journalier',
    LIMIT_MONTHLY: 'au-dessus du plafond mensuel', GRADE_NOT_PERMITTED: "ce carburant n'est pas autorisé pour ce véhicule",
    STATION_NOT_PERMITTED: "cette station n'est pas autorisée pour ce véhicule", OUTSIDE_HOURS: "les achats ne sont pas autorisés à cette heure",
    VOICE_CODE_WRONG: 'le code vocal est faux', NO_PAYMENT_METHOD: 'aucune carte utilisable', DECLINED: 'la banque a refusé',
    PROCESSOR_TIMEOUT: "la banque n'a pas répondu à temps", OUTSIDE_GEOFENCE: "la voiture n'est pas dans une station fuelpay",
    PUMP_NOT_AT_STATION: "cette pompe n'est pas dans cette station", UNKNOWN_STATION: 'station inconnue', PUMP_BUSY: 'la pompe est occupée',
    PUMP_FAULT: 'la pompe est en panne', PUMP_OFFLINE: 'la pompe est hors ligne', PUMP_OUT_OF_SERVICE: 'la pompe est hors service',
    NOZZLE_TIMEOUT: "le pistolet n'a pas été décroché à temps", CANCELLED: 'la session a été annulée', EMERGENCY_STOP: 'la station a arrêté la pompe',
    UNKNOWN_GRADE: 'la pompe ne vend pas ce carburant', TIMEOUT: 'pas de réponse à temps', UNAVAILABLE: "le service n'est pas disponible",
    NO_FLOW_TIMEOUT: "aucun carburant n'a coulé", MAX_DURATION: 'la session a duré trop longtemps', UNAUTHENTICATED: "la voiture n'a pas pu s'identifier", RATE_LIMITED: 'trop de codes vocaux faux, réessayez plus tard',
    TOKEN_EXPIRED: "l'autorisation de paiement a expiré", TOKEN_NOT_YET_VALID: "l'autorisation de paiement n'est pas encore valable",
    WRONG_STATION: "l'autorisation est pour une autre station", WRONG_PUMP: "l'autorisation est pour une autre pompe", WRONG_VEHICLE: "l'autorisation est pour un autre véhicule",
    TOKEN_REPLAYED: 'cette autorisation a déjà servi', GRADE_NOT_ALLOWED: "ce carburant n'est pas couvert par le paiement", UNKNOWN_PUMP: 'la station ne connaît pas cette pompe',
    FUEL_ALREADY_FLOWING: 'le carburant coule déjà', VOICE_CODE_REQUIRED: 'un code vocal est nécessaire', SESSION_NOT_FOUND: 'session de paiement inconnue',
    SESSION_STATE_CONFLICT: 'la session de paiement a déjà avancé', SALE_SIGNATURE_INVALID: "le ticket de la station n'a pas une signature valide",
    SALE_ARITHMETIC_INVALID: 'le ticket de la station est mal calculé', IDEMPOTENCY_IN_PROGRESS: 'la demande est encore en cours',
    SALE_MISMATCH: 'le ticket de la station est pour une autre session', CURRENCY_MISMATCH: "le montant n'est pas dans la devise de cette station",
    UNKNOWN_CURRENCY: "cette devise n'est pas prise en charge", AMOUNT_OUT_OF_RANGE: "ce montant n'est pas possible", FORBIDDEN: "ce n'est pas permis pour cette voiture", NOT_FOUND: 'introuvable',
  }, 'une erreur technique', "la pompe n'a pas pu vérifier l'autorisation de paiement"),
  ar: reasonTexts({
    INSUFFICIENT_FUNDS: 'الرصيد غير كاف', CARD_EXPIRED: 'انتهت صلاحية البطاقة', SUSPECTED_FRAUD: 'البنك يشتبه في احتيال',
    ISSUER_UNAVAILABLE: 'البنك غير متاح', LIMIT_TRANSACTION: 'المبلغ يتجاوز حد العملية', LIMIT_DAILY: 'المبلغ يتجاوز الحد اليومي',
    LIMIT_MONTHLY: 'المبلغ يتجاوز الحد الشهري', GRADE_NOT_PERMITTED: 'هذا الوقود غير مسموح لهذه السيارة',
    STATION_NOT_PERMITTED: 'هذه المحطة غير مسموحة لهذه السيارة', OUTSIDE_HOURS: 'الشراء غير مسموح في هذه الساعة',
    VOICE_CODE_WRONG: 'الرمز الصوتي خاطئ', NO_PAYMENT_METHOD: 'لا توجد بطاقة صالحة', DECLINED: 'رفض البنك العملية',
    PROCESSOR_TIMEOUT: 'لم يرد البنك في الوقت المحدد', OUTSIDE_GEOFENCE: 'السيارة ليست في محطة فيول باي',
    PUMP_NOT_AT_STATION: 'هذه المضخة ليست في هذه المحطة', UNKNOWN_STATION: 'المحطة غير معروفة', PUMP_BUSY: 'المضخة مشغولة',
    PUMP_FAULT: 'المضخة معطلة', PUMP_OFFLINE: 'المضخة غير متصلة', PUMP_OUT_OF_SERVICE: 'المضخة خارج الخدمة',
    NOZZLE_TIMEOUT: 'لم يتم رفع المسدس في الوقت المحدد', CANCELLED: 'تم إلغاء العملية', EMERGENCY_STOP: 'أوقفت المحطة المضخة',
    UNKNOWN_GRADE: 'المضخة لا تبيع هذا الوقود', TIMEOUT: 'لا يوجد رد', UNAVAILABLE: 'الخدمة غير متاحة',
    NO_FLOW_TIMEOUT: 'لم يتدفق أي وقود', MAX_DURATION: 'استغرقت العملية وقتا طويلا', UNAUTHENTICATED: 'لم تتمكن السيارة من تسجيل الدخول', RATE_LIMITED: 'رموز صوتية خاطئة كثيرة، حاول لاحقا',
    TOKEN_EXPIRED: 'انتهت صلاحية إذن الدفع', TOKEN_NOT_YET_VALID: 'إذن الدفع ليس صالحا بعد',
    WRONG_STATION: 'الإذن لمحطة أخرى', WRONG_PUMP: 'الإذن لمضخة أخرى', WRONG_VEHICLE: 'الإذن لسيارة أخرى',
    TOKEN_REPLAYED: 'تم استخدام هذا الإذن من قبل', GRADE_NOT_ALLOWED: 'هذا الوقود غير مشمول بالدفع', UNKNOWN_PUMP: 'المحطة لا تعرف هذه المضخة',
    FUEL_ALREADY_FLOWING: 'الوقود يتدفق بالفعل', VOICE_CODE_REQUIRED: 'الرمز الصوتي مطلوب', SESSION_NOT_FOUND: 'عملية الدفع غير معروفة',
    SESSION_STATE_CONFLICT: 'عملية الدفع تقدمت بالفعل', SALE_SIGNATURE_INVALID: 'توقيع إيصال المحطة غير صالح',
    SALE_ARITHMETIC_INVALID: 'حساب إيصال المحطة غير صحيح', IDEMPOTENCY_IN_PROGRESS: 'الطلب قيد المعالجة',
    SALE_MISMATCH: 'إيصال المحطة لعملية أخرى', CURRENCY_MISMATCH: 'المبلغ ليس بعملة هذه المحطة',
    UNKNOWN_CURRENCY: 'هذه العملة غير مدعومة', AMOUNT_OUT_OF_RANGE: 'هذا المبلغ غير ممكن', FORBIDDEN: 'هذا غير مسموح لهذه السيارة', NOT_FOUND: 'غير موجود',
  }, 'خطأ تقني', 'لم تتمكن المضخة من التحقق من إذن الدفع'),
}

export function reasonText(code: ReasonCode, lang: Lang): string {
  return REASON_TEXT[lang][code] ?? REASON_TEXT[lang].INTERNAL
}

/** Proto's amount text, with the decimal comma where the language writes one. */
export function sayAmount(amountMinor: number, currency: Currency, lang: Lang): string {
  const text = formatAmount(amountMinor, currency)
  return lang === 'de' || lang === 'fr' ? text.replace('.', ',') : text
}
function sayVolume(volumeMilli: number, unit: VolumeUnit, lang: Lang): string {
  const text = formatVolume(volumeMilli, unit)
  return lang === 'de' || lang === 'fr' ? text.replace('.', ',') : text
}
function list(items: string[], lang: Lang): string {
  const and = { en: 'or', de: 'oder', fr: 'ou', ar: 'أو' }[lang]
  if (items.length <= 1) return items.join('')
  return `${items.slice(0, -1).join(', ')} ${and} ${items[items.length - 1]}`
}
const SLOT_NAMES: Record<Lang, Record<SlotName, string>> = {
  en: { pump: 'pump', grade: 'fuel', amount: 'amount', card: 'card' },
  de: { pump: 'Säule', grade: 'Sorte', amount: 'Betrag', card: 'Karte' },
  fr: { pump: 'pompe', grade: 'carburant', amount: 'montant', card: 'carte' },
  ar: { pump: 'المضخة', grade: 'الوقود', amount: 'المبلغ', card: 'البطاقة' },
}
const slotNames = (s: SlotName[], lang: Lang) => s.map((x) => SLOT_NAMES[lang][x]).join(lang === 'ar' ? ' و' : { en: ' and ', de: ' und ', fr: ' et ' }[lang])
const grades = (g: Grade[], lang: Lang) => list(g.map((x) => gradeName(x, lang)), lang)
const pumps = (p: number[]) => p.map(String)

const CATALOGS: Record<Lang, Catalog> = {
  en: {
    notUnderstood: () => "Sorry, I didn't understand that.",
    askPump: (p) => `Which pump?${p.pumps.length ? ` This station has pumps ${list(pumps(p.pumps), 'en')}.` : ''}`,
    pumpProposed: (p) => `You seem to be at pump ${p.pump}.`,
    pumpNotAtStation: (p) => `There is no pump ${p.pump} at ${p.station}.`,
    askGrade: (p) => `Which fuel: ${grades(p.grades, 'en')}?`,
    gradeNotSold: (p) => `This pump does not sell ${p.said}. It has ${grades(p.grades, 'en')}.`,
    currencyMismatch: (p) => `This station takes ${p.currency}; I'll use your usual amount.`,
    noStation: (p) => `I can't pay here: ${reasonText(p.code, 'en')}.`,
    checkingHold: () => 'One moment, I am asking your bank.',
    readBack: (r) =>
      `${r.station}, pump ${r.pump}${r.pumpFromBeacon ? ' (the one you are at)' : ''}, ${r.grades.length === 1 ? gradeName(r.grades[0] as Grade, 'en') : grades(r.grades, 'en')}, up to ${sayAmount(r.holdAmountMinor, r.currency, 'en')}${r.partial ? ' (your bank approved less than asked)' : ''}${r.card ? ` on ${r.card.brand} ending ${r.card.last4}` : ''}. Shall I activate the pump?`,
    askVoiceCode: () => 'Please say your voice code.',
    voiceCodeWrong: () => 'That voice code is not right. Please say it again.',
    declined: (p) => `Payment declined: ${reasonText(p.code, 'en')}.`,
    activating: (p) => `Activating pump ${p.pump}.`,
    pumpReady: (p) => `Pump ${p.pump} is ready. You can lift the nozzle.`,
    pumpRejected: (p) => `The pump refused: ${reasonText(p.code, 'en')}.`,
    pumpNoAnswer: () => 'The pump did not answer. I released the payment.',
    cancelled: () => 'Cancelled. Nothing was charged.',
    cannotCancelFlowing: () => 'Fuel is already flowing; hang up the nozzle to stop.',
    statusFueling: (p) => `${sayVolume(p.volumeMilli, p.unit, 'en')} so far, ${sayAmount(p.amountMinor, p.currency, 'en')}.`,
    statusWaiting: () => 'Waiting for the pump.',
    statusNone: () => 'No fueling in progress.',
    fuelingStarted: () => 'Fueling started.',
    completed: (p) => `Done: ${sayVolume(p.volumeMilli, p.unit, 'en')} for ${sayAmount(p.amountMinor, p.currency, 'en')}.`,
    saleUnverified: () => "Warning: the station's sale record does not verify.",
    receipt: (p) => `Charged ${sayAmount(p.amountMinor, p.currency, 'en')} to ${p.brand} ending ${p.last4} at ${p.station}. Thank you!`,
    receiptUnavailable: () => 'The receipt is not ready yet; you will find it in the app.',
    sessionEnded: (p) => `The session ended: ${reasonText(p.code, 'en')}.`,
    noAnswer: () => 'No answer; I cancelled the payment.',
    answerYesNo: () => 'Please answer yes or no.',
    nothingToConfirm: () => 'There is nothing to confirm.',
    changing: () => 'Okay, changing that.',
    confirmDiffers: (p) => `That is not what I read back (${slotNames(p.slots, 'en')}). I released that hold and will ask again.`,
  },
  de: {
    notUnderstood: () => 'Entschuldigung, das habe ich nicht verstanden.',
    askPump: (p) => `Welche Säule?${p.pumps.length ? ` Hier gibt es die Säulen ${list(pumps(p.pumps), 'de')}.` : ''}`,
    pumpProposed: (p) => `Sie stehen an Säule ${p.pump}.`,
    pumpNotAtStation: (p) => `Bei ${p.station} gibt es keine Säule ${p.pump}.`,
    askGrade: (p) => `Welche Sorte: ${grades(p.grades, 'de')}?`,
    gradeNotSold: (p) => `Diese Säule hat kein ${p.said}. Sie hat ${grades(p.grades, 'de')}.`,
    currencyMismatch: (p) => `Diese Tankstelle rechnet in ${p.currency}; ich nehme Ihren üblichen Betrag.`,
    noStation: (p) => `Hier kann ich nicht bezahlen: ${reasonText(p.code, 'de')}.`,
    checkingHold: () => 'Einen Moment, ich frage bei Ihrer Bank an.',
    readBack: (r) =>
      `${r.station}, Säule ${r.pump}${r.pumpFromBeacon ? ' (an der Sie stehen)' : ''}, ${grades(r.grades, 'de')}, bis ${sayAmount(r.holdAmountMinor, r.currency, 'de')}${r.partial ? ' (Ihre Bank hat weniger freigegeben)' : ''}${r.card ? ` mit ${r.card.brand} auf ${r.card.last4}` : ''}. Soll ich die Säule freischalten?`,
    askVoiceCode: () => 'Bitte sagen Sie Ihren Sprachcode.',
    voiceCodeWrong: () => 'Der Sprachcode stimmt nicht. Bitte noch einmal.',
    declined: (p) => `Zahlung abgelehnt: ${reasonText(p.code, 'de')}.`,
    activating: (p) => `Ich schalte Säule ${p.pump} frei.`,
    pumpReady: (p) => `Säule ${p.pump} ist bereit. Sie können die Zapfpistole abnehmen.`,
    pumpRejected: (p) => `Die Säule hat abgelehnt: ${reasonText(p.code, 'de')}.`,
    pumpNoAnswer: () => 'Die Säule hat nicht geantwortet. Ich habe die Zahlung freigegeben.',
    cancelled: () => 'Abgebrochen. Es wurde nichts berechnet.',
    cannotCancelFlowing: () => 'Es wird schon getankt; hängen Sie die Zapfpistole ein, um aufzuhören.',
    statusFueling: (p) => `Bisher ${sayVolume(p.volumeMilli, p.unit, 'de')}, ${sayAmount(p.amountMinor, p.currency, 'de')}.`,
    statusWaiting: () => 'Ich warte auf die Säule.',
    statusNone: () => 'Es läuft kein Tankvorgang.',
    fuelingStarted: () => 'Tankvorgang gestartet.',
    completed: (p) => `Fertig: ${sayVolume(p.volumeMilli, p.unit, 'de')} für ${sayAmount(p.amountMinor, p.currency, 'de')}.`,
    saleUnverified: () => 'Achtung: der Verkaufsbeleg der Tankstelle ist nicht gültig signiert.',
    receipt: (p) => `${sayAmount(p.amountMinor, p.currency, 'de')} wurden von ${p.brand} auf ${p.last4} bei ${p.station} abgebucht. Danke!`,
    receiptUnavailable: () => 'Der Beleg ist noch nicht fertig; Sie finden ihn in der App.',
    sessionEnded: (p) => `Der Vorgang wurde beendet: ${reasonText(p.code, 'de')}.`,
    noAnswer: () => 'Keine Antwort; ich habe die Zahlung abgebrochen.',
    answerYesNo: () => 'Bitte antworten Sie mit ja oder nein.',
    nothingToConfirm: () => 'Es gibt nichts zu bestätigen.',
    changing: () => 'In Ordnung, ich ändere das.',
    confirmDiffers: (p) => `Das weicht von dem ab, was ich vorgelesen habe (${slotNames(p.slots, 'de')}). Ich habe die Reservierung freigegeben und frage neu an.`,
  },
  fr: {
    notUnderstood: () => "Désolé, je n'ai pas compris.",
    askPump: (p) => `Quelle pompe ?${p.pumps.length ? ` Cette station a les pompes ${list(pumps(p.pumps), 'fr')}.` : ''}`,
    pumpProposed: (p) => `Vous êtes à la pompe ${p.pump}.`,
    pumpNotAtStation: (p) => `Il n'y a pas de pompe ${p.pump} à ${p.station}.`,
    askGrade: (p) => `Quel carburant : ${grades(p.grades, 'fr')} ?`,
    gradeNotSold: (p) => `Cette pompe ne vend pas de ${p.said}. Elle a ${grades(p.grades, 'fr')}.`,
    currencyMismatch: (p) => `Cette station encaisse en ${p.currency} ; je prends votre montant habituel.`,
    noStation: (p) => `Je ne peux pas payer ici : ${reasonText(p.code, 'fr')}.`,
    checkingHold: () => 'Un instant, je demande à votre banque.',
    readBack: (r) =>
      `${r.station}, pompe ${r.pump}${r.pumpFromBeacon ? ' (celle où vous êtes)' : ''}, ${grades(r.grades, 'fr')}, jusqu'à ${sayAmount(r.holdAmountMinor, r.currency, 'fr')}${r.partial ? ' (votre banque a accordé moins)' : ''}${r.card ? ` sur la carte ${r.card.brand} finissant par ${r.card.last4}` : ''}. J'active la pompe ?`,
    askVoiceCode: () => 'Dites votre code vocal, s’il vous plaît.',
    voiceCodeWrong: () => "Ce code vocal n'est pas bon. Répétez, s’il vous plaît.",
    declined: (p) => `Paiement refusé : ${reasonText(p.code, 'fr')}.`,
    activating: (p) => `J'active la pompe ${p.pump}.`,
    pumpReady: (p) => `La pompe ${p.pump} est prête. Vous pouvez décrocher le pistolet.`,
    pumpRejected: (p) => `La pompe a refusé : ${reasonText(p.code, 'fr')}.`,
    pumpNoAnswer: () => "La pompe n'a pas répondu. J'ai libéré le paiement.",
    cancelled: () => "Annulé. Rien n'a été débité.",
    cannotCancelFlowing: () => 'Le carburant coule déjà ; raccrochez le pistolet pour arrêter.',
    statusFueling: (p) => `${sayVolume(p.volumeMilli, p.unit, 'fr')} pour l'instant, ${sayAmount(p.amountMinor, p.currency, 'fr')}.`,
    statusWaiting: () => "J'attends la pompe.",
    statusNone: () => 'Aucun plein en cours.',
    fuelingStarted: () => 'Le plein a commencé.',
    completed: (p) => `Terminé : ${sayVolume(p.volumeMilli, p.unit, 'fr')} pour ${sayAmount(p.amountMinor, p.currency, 'fr')}.`,
    saleUnverified: () => "Attention : le ticket de la station n'a pas une signature valide.",
    receipt: (p) => `${sayAmount(p.amountMinor, p.currency, 'fr')} débités sur ${p.brand} finissant par ${p.last4} à ${p.station}. Merci !`,
    receiptUnavailable: () => "Le reçu n'est pas encore prêt ; vous le trouverez dans l'application.",
    sessionEnded: (p) => `La session est terminée : ${reasonText(p.code, 'fr')}.`,
    noAnswer: () => "Pas de réponse ; j'ai annulé le paiement.",
    answerYesNo: () => 'Répondez par oui ou par non, s’il vous plaît.',
    nothingToConfirm: () => "Il n'y a rien à confirmer.",
    changing: () => "D'accord, je change.",
    confirmDiffers: (p) => `Ce n'est pas ce que j'ai lu (${slotNames(p.slots, 'fr')}). J'ai libéré cette réservation et je redemande.`,
  },
  ar: {
    notUnderstood: () => 'عذرا، لم أفهم ذلك.',
    askPump: (p) => `أي مضخة؟${p.pumps.length ? ` في هذه المحطة المضخات ${list(pumps(p.pumps), 'ar')}.` : ''}`,
    pumpProposed: (p) => `أنت عند المضخة ${p.pump}.`,
    pumpNotAtStation: (p) => `لا توجد مضخة ${p.pump} في ${p.station}.`,
    askGrade: (p) => `أي وقود: ${grades(p.grades, 'ar')}؟`,
    gradeNotSold: (p) => `هذه المضخة لا تبيع ${p.said}. لديها ${grades(p.grades, 'ar')}.`,
    currencyMismatch: (p) => `هذه المحطة تتعامل بـ ${p.currency}؛ سأستخدم المبلغ المعتاد.`,
    noStation: (p) => `لا يمكنني الدفع هنا: ${reasonText(p.code, 'ar')}.`,
    checkingHold: () => 'لحظة، أتواصل مع البنك.',
    readBack: (r) =>
      `${r.station}، المضخة ${r.pump}${r.pumpFromBeacon ? ' (التي أنت عندها)' : ''}، ${grades(r.grades, 'ar')}، حتى ${sayAmount(r.holdAmountMinor, r.currency, 'ar')}${r.partial ? ' (وافق البنك على مبلغ أقل)' : ''}${r.card ? ` على بطاقة ${r.card.brand} المنتهية بـ ${r.card.last4}` : ''}. هل أشغل المضخة؟`,
    askVoiceCode: () => 'من فضلك قل الرمز الصوتي.',
    voiceCodeWrong: () => 'الرمز الصوتي غير صحيح. من فضلك أعده.',
    declined: (p) => `تم رفض الدفع: ${reasonText(p.code, 'ar')}.`,
    activating: (p) => `أشغل المضخة ${p.pump}.`,
    pumpReady: (p) => `المضخة ${p.pump} جاهزة. يمكنك رفع المسدس.`,
    pumpRejected: (p) => `رفضت المضخة: ${reasonText(p.code, 'ar')}.`,
    pumpNoAnswer: () => 'لم ترد المضخة. ألغيت الحجز.',
    cancelled: () => 'تم الإلغاء. لم يتم خصم أي مبلغ.',
    cannotCancelFlowing: () => 'الوقود يتدفق بالفعل؛ أعد المسدس لمكانه للتوقف.',
    statusFueling: (p) => `حتى الآن ${sayVolume(p.volumeMilli, p.unit, 'ar')}، ${sayAmount(p.amountMinor, p.currency, 'ar')}.`,
    statusWaiting: () => 'بانتظار المضخة.',
    statusNone: () => 'لا توجد تعبئة جارية.',
    fuelingStarted: () => 'بدأت التعبئة.',
    completed: (p) => `تم: ${sayVolume(p.volumeMilli, p.unit, 'ar')} بمبلغ ${sayAmount(p.amountMinor, p.currency, 'ar')}.`,
    saleUnverified: () => 'تحذير: توقيع إيصال المحطة غير صالح.',
    receipt: (p) => `تم خصم ${sayAmount(p.amountMinor, p.currency, 'ar')} من ${p.brand} المنتهية بـ ${p.last4} في ${p.station}. شكرا!`,
    receiptUnavailable: () => 'الإيصال غير جاهز بعد؛ ستجده في التطبيق.',
    sessionEnded: (p) => `انتهت العملية: ${reasonText(p.code, 'ar')}.`,
    noAnswer: () => 'لا يوجد رد؛ ألغيت الدفع.',
    answerYesNo: () => 'من فضلك أجب بنعم أو لا.',
    nothingToConfirm: () => 'لا يوجد شيء للتأكيد.',
    changing: () => 'حسنا، سأغير ذلك.',
    confirmDiffers: (p) => `هذا يختلف عما قرأته (${slotNames(p.slots, 'ar')}). ألغيت الحجز وسأطلب من جديد.`,
  },
}

export function say<K extends MessageKey>(lang: Lang, key: K, params: MessageParams[K]): string {
  return (CATALOGS[lang][key] as (p: MessageParams[K]) => string)(params)
}

/** All message keys, for tests that walk every language. */
export const MESSAGE_KEYS = Object.keys(CATALOGS.en) as MessageKey[]
