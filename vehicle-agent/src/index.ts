/**
 * @fuelpay/vehicle-agent: pay for fuel by voice. The factory builds one car's
 * agent from injected adapters, so the simulators can run thousands of them in
 * one process with simulated voice and BLE; main.ts wires the real ones.
 */
export * from './agent.ts'
export * from './cloud/cloud.client.ts'
export * from './dialogue/catalog.ts'
export * from './dialogue/dialogue.machine.ts'
export * from './intent/intent.parser.ts'
export { LANGS, type Lang, isLang, readNumber } from './intent/numbers.ts'
export * from './location/location.ts'
export * from './session/pump.link.ts'
export * from './speech/speech.ts'
export * from './speech/jsgf.grammar.ts'
export * from './speech/pocketsphinx.recognizer.ts'
export * from './speech/espeak.speaker.ts'
export { runUtterance, type RunUtteranceOptions } from './run.ts'
