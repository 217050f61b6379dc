import type { Readable } from 'node:stream'
import { fail, ok, type Result } from '@fuelpay/proto'
import type { Lang } from '../intent/numbers.ts'

/**
 * Audio or text for the speech-to-text stage. A car's own assistant hands
 * in transcripts; the offline recognizer takes a WAV file or a stream.
 */
export type AudioInput =
  | { kind: 'transcript'; text: string; lang?: Lang }
  | { kind: 'file'; path: string }
  | { kind: 'stream'; stream: Readable }

/**
 * Speech to text. Failures are Results with reason codes, never throws.
 *
 * @example const r = await stt.recognize({ kind: 'file', path: 'cmd.wav' }, { lang: 'en' }) // { ok: true, value: { text: 'pay for pump two' } }
 */
export interface SpeechToText {
  recognize(input: AudioInput, opts: { lang: Lang }): Promise<Result<{ text: string; lang?: Lang }>>
}

export const MAX_TRANSCRIPT_CHARS = 500

/** Transcripts handed in by the car's assistant: checked and passed through. */
export function createTranscriptRecognizer(): SpeechToText {
  return {
    async recognize(input) {
      if (input.kind !== 'transcript') return fail('SCHEMA_INVALID', 'this recognizer takes transcripts only')
      if (typeof input.text !== 'string' || input.text.length > MAX_TRANSCRIPT_CHARS) return fail('SCHEMA_INVALID', 'transcript missing or too long')
      return ok({ text: input.text, ...(input.lang ? { lang: input.lang } : {}) })
    },
  }
}
