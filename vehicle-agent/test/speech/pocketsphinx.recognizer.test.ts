import { createReadStream, existsSync } from 'node:fs'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { silentLogger } from '@fuelpay/platform'
import t from 'tap'
import { parseUtterance } from '../../src/intent/intent.parser.ts'
import { synthesize } from '../../src/speech/espeak.speaker.ts'
import { buildEnglishGrammar, dictionaryWords } from '../../src/speech/jsgf.grammar.ts'
import { createPocketsphinxRecognizer, DEFAULT_DICTIONARY } from '../../src/speech/pocketsphinx.recognizer.ts'
import { createTranscriptRecognizer } from '../../src/speech/speech.ts'

// English commands spoken by espeak-ng, heard by pocketsphinx with the
// generated grammar, understood by the intent parser: the offline audio path.
const BINS = ['/usr/bin/espeak-ng', '/usr/bin/pocketsphinx_continuous', '/usr/bin/sox']
const missing = BINS.filter((b) => !existsSync(b))
const skip = missing.length ? `needs Debian packages espeak-ng, pocketsphinx, pocketsphinx-en-us, sox (missing ${missing.join(', ')})` : false
// espeak-ng's "m3" English voice is the one pocketsphinx's acoustic model hears best.
const VOICE = 'en-us+m3'

t.test('spoken English commands become the right intents', { skip }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fuelpay-audio-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const stt = createPocketsphinxRecognizer({ log: silentLogger(), timeoutMs: 30_000 })
  const cases: [string, { intent: string; pump?: number; grade?: string; amount?: string }][] = [
    ['pay for pump two', { intent: 'pay_fuel', pump: 2 }],
    ['fill up pump three with diesel', { intent: 'pay_fuel', pump: 3, grade: 'diesel' }],
    ['pay for pump four with forty euros of super plus', { intent: 'pay_fuel', pump: 4, grade: 'unleaded98', amount: '40' }],
    ['yes', { intent: 'confirm' }],
    ['yes please', { intent: 'confirm' }],
    ['no', { intent: 'deny' }],
    ['cancel', { intent: 'cancel' }],
    ['stop', { intent: 'cancel' }],
    ['how much so far', { intent: 'status' }],
  ]
  let i = 0
  for (const [spoken, want] of cases) {
    const wav = join(dir, `cmd-${i++}.wav`)
    await synthesize({ text: spoken, lang: 'en', voice: VOICE, outFile: wav })
    const r = await stt.recognize({ kind: 'file', path: wav }, { lang: 'en' })
    t.ok(r.ok, `recognized "${spoken}"`)
    if (!r.ok) continue
    const p = parseUtterance(r.value.text)
    const got: Record<string, unknown> = { intent: p.intent }
    if (want.pump !== undefined) got.pump = p.slots.pump
    if (want.grade !== undefined) got.grade = p.slots.grade?.grades[0]
    if (want.amount !== undefined) got.amount = p.slots.amount?.text
    t.same(got, want, `"${spoken}" heard as "${r.value.text}"`)
  }

  // The same from a stream (a microphone delivers one).
  const wav = join(dir, 'stream.wav')
  await synthesize({ text: 'pay for pump two', lang: 'en', voice: VOICE, outFile: wav })
  const fromStream = await stt.recognize({ kind: 'stream', stream: createReadStream(wav) }, { lang: 'en' })
  t.equal(fromStream.ok && parseUtterance(fromStream.value.text).slots.pump, 2, 'audio stream path')

  // Bad audio is a reason code, not a crash.
  const junk = join(dir, 'junk.wav')
  await writeFile(junk, 'not audio at all')
  const bad = await stt.recognize({ kind: 'file', path: junk }, { lang: 'en' })
  t.equal(bad.ok, false)
  const tooBig = createPocketsphinxRecognizer({ log: silentLogger(), maxAudioBytes: 100 })
  const big = await tooBig.recognize({ kind: 'stream', stream: createReadStream(wav) }, { lang: 'en' })
  t.equal(!big.ok && big.reason.code, 'PAYLOAD_TOO_LARGE')
})

t.test('the grammar is generated from the command set and only uses known words', { skip }, async (t) => {
  const known = dictionaryWords(await readFile(DEFAULT_DICTIONARY, 'utf8'))
  const g = buildEnglishGrammar({ knownWords: known })
  t.match(g, /^#JSGF V1\.0;/)
  for (const w of ['pump', 'diesel', 'cancel', 'yes', 'euros', 'ninety']) t.match(g, new RegExp(`\\b${w}\\b`))
  const words = g.split('\n').slice(2).join(' ').replace(/<[a-z0-9]+>/g, ' ').match(/[a-z]+/g) ?? []
  const unknown = [...new Set(words)].filter((w) => !known.has(w) && !['grammar', 'public'].includes(w))
  t.same(unknown, [], 'every grammar word is in the pronouncing dictionary')
})

t.test('transcripts handed in by the car assistant', async (t) => {
  const stt = createTranscriptRecognizer()
  const r = await stt.recognize({ kind: 'transcript', text: 'Säule 2 bezahlen', lang: 'de' }, { lang: 'en' })
  t.same(r, { ok: true, value: { text: 'Säule 2 bezahlen', lang: 'de' } })
  const long = await stt.recognize({ kind: 'transcript', text: 'x'.repeat(501) }, { lang: 'en' })
  t.equal(long.ok, false)
  const audio = await stt.recognize({ kind: 'file', path: '/nonexistent.wav' }, { lang: 'en' })
  t.equal(audio.ok, false)
})

t.test('the same audio is converted byte for byte the same each time (repeatable dither), so it is heard the same way', { skip }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fuelpay-audio-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  // sox as the recognizer runs it, keeping a copy of each 16 kHz file it writes.
  const wrapper = join(dir, 'sox-keep.sh')
  await writeFile(wrapper, `#!/bin/sh\nsox "$@" || exit $?\nfor a in "$@"; do case "$a" in *in16k.wav) cp "$a" "${dir}/kept-$$.wav";; esac; done\n`, { mode: 0o755 })
  const wav = join(dir, 'cmd.wav')
  await synthesize({ text: 'fill up pump three with diesel', lang: 'en', voice: VOICE, outFile: wav })
  const stt = createPocketsphinxRecognizer({ log: silentLogger(), timeoutMs: 30_000, soxBin: wrapper })
  for (let i = 0; i < 2; i++) t.ok((await stt.recognize({ kind: 'file', path: wav }, { lang: 'en' })).ok)
  const kept = (await readdir(dir)).filter((f) => f.startsWith('kept-'))
  t.equal(kept.length, 2, 'both conversions kept')
  const [a, b] = await Promise.all(kept.map((f) => readFile(join(dir, f))))
  t.ok(a && b && a.equals(b), 'identical')
})
