import type { Grade } from '@fuelpay/proto'
import type { DispenserReading, SessionGrade } from './pump.machine.ts'

/**
 * The boundary to dispenser hardware. A real forecourt protocol (IFSF over
 * LON/TCP, DART, a vendor's serial protocol behind a pump interface box) is
 * written behind this interface; the controller never talks to hardware in
 * any other way. A simulated dispenser ships (simulated-dispenser.ts).
 *
 * Contract for implementers:
 * - `authorize(grades)` arms the pump: it may dispense only the listed grades,
 *   and each at most `presetVolumeMilli`. The pump itself must stop at the
 *   preset (the controller also sends `stop()` as a guard, but hardware presets
 *   are what keep a sale under its hold when the link is slow).
 * - Events are reported in the order they happen, for one pump:
 *   `nozzle-lifted` (with the grade of the nozzle), `flow` (the delivery's
 *   volume so far and the pump's totalizer, at whatever rate the hardware
 *   reports; the controller needs neither every pulse nor a fixed rate),
 *   `nozzle-hung-up` (final totalizer), `fault` / `fault-cleared`,
 *   `comm-lost` / `comm-restored`.
 * - The totalizer (`totalizerMilli`) only ever increases, survives power loss,
 *   and is what the controller measures a sale by after a restart or a lost
 *   link: a sale's volume is end totalizer minus the totalizer at authorization.
 * - `read()` answers the current state without side effects; it rejects (or
 *   answers `online: false`) when the pump does not answer.
 * - Methods are idempotent: the controller may repeat `authorize`, `stop` or
 *   `deauthorize` after a restart.
 *
 * @example
 *   const off = driver.subscribe((e) => console.log(e.type))
 *   await driver.authorize([{ grade: 'diesel', unitPriceMilli: 1799, presetVolumeMilli: 27_793 }])
 */
export interface PumpDriver {
  readonly pump: number
  /** Grades this dispenser has nozzles for. */
  readonly grades: readonly Grade[]
  read(): Promise<DispenserReading>
  authorize(grades: SessionGrade[]): Promise<void>
  deauthorize(): Promise<void>
  /** Closes the valve now; the delivery stays open until the nozzle is hung up. */
  stop(): Promise<void>
  /** Re-opens the valve after `stop()` for the same delivery. */
  resume(): Promise<void>
  subscribe(listener: (event: DriverEvent) => void): () => void
  close(): Promise<void>
}

export type DriverEvent =
  | { type: 'nozzle-lifted'; grade: Grade; totalizerMilli: number }
  | { type: 'flow'; volumeMilli: number; totalizerMilli: number }
  | { type: 'nozzle-hung-up'; volumeMilli: number; totalizerMilli: number }
  | { type: 'fault'; fault: string }
  | { type: 'fault-cleared' }
  | { type: 'comm-lost' }
  | { type: 'comm-restored'; reading: DispenserReading }
