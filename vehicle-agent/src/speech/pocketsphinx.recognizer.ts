import { createWriteStream } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { Transform } from 'node:stream'
import { fail, ok } from '@fuelpay/proto'
import type { Logger } from 'pino'
import { buildEnglishGrammar, dictionaryWords } from './jsgf.grammar.ts'
import { runBounded } from './process.ts'
import type { SpeechToText } from './speech.ts'

export const DEFAULT_DICTIONARY = '/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict'

export interface PocketsphinxOptions {
  log: Logger
  /** Bound for each spawned program (sox, pocketsphinx). */
  timeoutMs?: number
  /** Largest audio accepted from a stream. */
  maxAudioBytes?: number
  pocketsphinxBin?: string
  soxBin?: string
  dictionaryPath?: string
}

/**
 * Offline English speech recognition with Debian's pocketsphinx: the audio
 * is converted to 16 kHz mono 16-bit WAV with sox, then decoded against a
 * JSGF grammar generated from the command set (jsgf.grammar.ts).
 * English only: pocketsphinx ships no German, French or Arabic model here;
 * for those languages the car's assistant hands in transcripts.
 */
export function createPocketsphinxRecognizer(opts: PocketsphinxOptions): SpeechToText {
  const timeoutMs = opts.timeoutMs ?? 20_000
  const maxAudioBytes = opts.maxAudioBytes ?? 10 * 1024 * 1024
  const ps = opts.pocketsphinxBin ?? 'pocketsphinx_continuous'
  const sox = opts.soxBin ?? 'sox'
  let grammar: Promise<string> | undefined
  const grammarText = () => {
    grammar ??= readFile(opts.dictionaryPath ?? DEFAULT_DICTIONARY, 'utf8')
      .then((t) => buildEnglishGrammar({ knownWords: dictionaryWords(t) }))
      .catch(() => buildEnglishGrammar())
    return grammar
  }
  return {
    async recognize(input) {
      if (input.kind === 'transcript') return ok({ text: input.text })
      const dir = await mkdtemp(join(tmpdir(), 'fuelpay-stt-'))
      try {
        let source: string
        if (input.kind === 'file') source = input.path
        else {
          source = join(dir, 'in.wav')
          let size = 0
          const limit = new Transform({
            transform(chunk: Buffer, _enc, cb) {
              size += chunk.length
              if (size > maxAudioBytes) cb(new Error('audio too large'))
              else cb(null, chunk)
            },
          })
          try {
            await pipeline(input.stream, limit, createWriteStream(source), { signal: AbortSignal.timeout(timeoutMs) })
          } catch (e) {
            return fail('PAYLOAD_TOO_LARGE', `audio stream: ${(e as Error).message}`)
          }
        }
        const wav = join(dir, 'in16k.wav')
        // Silence around the words lets pocketsphinx's voice detector find where speech starts and ends.
        // -R: sox dithers when it resamples to 16 bits, with random noise unless told to repeat it:
        // the same audio is then heard the same way every time.
        const conv = await runBounded(sox, ['-R', source, '-r', '16000', '-c', '1', '-b', '16', '-e', 'signed-integer', wav, 'pad', '0.3', '0.3'], timeoutMs)
        if (conv.timedOut) return fail('TIMEOUT', 'sox timed out')
        if (conv.code !== 0) return fail('SCHEMA_INVALID', `audio not readable: ${conv.stderr.slice(0, 200)}`)
        const gram = join(dir, 'fuelpay.gram')
        await writeFile(gram, await grammarText())
        const r = await runBounded(ps, ['-infile', wav, '-jsgf', gram, '-logfn', '/dev/null'], timeoutMs)
        if (r.timedOut) return fail('TIMEOUT', 'pocketsphinx timed out')
        if (r.code !== 0) {
          opts.log.warn({ code: r.code, stderr: r.stderr.slice(0, 500) }, 'pocketsphinx failed')
          return fail('UNAVAILABLE', 'speech recognizer failed')
        }
        // One hypothesis per utterance segment; join them.
        const text = r.stdout
          .split('\n')
          .map((l) => l.trim())
          .filter((l) => l.length > 0 && !l.startsWith('INFO') && !l.startsWith('ERROR'))
          .join(' ')
        return ok({ text, lang: 'en' })
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    },
  }
}
