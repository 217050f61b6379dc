import type { Lang } from '../intent/numbers.ts'
import { runBounded } from './process.ts'

/** espeak-ng voice per language. */
export const ESPEAK_VOICES: Record<Lang, string> = { en: 'en', de: 'de', fr: 'fr', ar: 'ar' }

/**
 * Speaks a reply into a WAV file with espeak-ng (`espeak-ng -v de -w out.wav "..."`).
 * Bounded by a timeout; the text is passed as one argument, never through a shell.
 *
 * @example await synthesize({ text: 'Pump 2 is ready.', lang: 'en', outFile: '/tmp/reply.wav' })
 */
export async function synthesize(opts: { text: string; lang: Lang; outFile: string; timeoutMs?: number; bin?: string; voice?: string }): Promise<void> {
  const r = await runBounded(opts.bin ?? 'espeak-ng', ['-v', opts.voice ?? ESPEAK_VOICES[opts.lang], '-w', opts.outFile, '--', opts.text.slice(0, 1000)], opts.timeoutMs ?? 15_000)
  if (r.timedOut) throw new Error('espeak-ng timed out')
  if (r.code !== 0) throw new Error(`espeak-ng failed: ${r.stderr.slice(0, 200)}`)
}
