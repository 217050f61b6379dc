import type { PublicKey } from '@fuelpay/proto'

/**
 * Who is calling, as authentication established it. Every read and write is
 * scoped by this: a vehicle sees its own sessions, a station its own,
 * an operator its stations'.
 *
 * @example if (caller.role === 'vehicle') listSessions(db, { vehicleId: caller.id })
 */
export type Caller =
  | { role: 'admin'; id: 'admin' }
  | { role: 'operator'; id: string }
  | { role: 'vehicle'; id: string; accountId: string; fleetId: string | null }
  | {
      role: 'station'
      id: string
      operatorId: string
      /** The key the station's assertion was verified with in this request (read and checked unrevoked just now). */
      verifiedKey?: { kid: string; key: PublicKey }
    }

export type Role = Caller['role']

/** The idempotency and replay scope of a caller. */
export function callerScope(caller: Caller): string {
  return `${caller.role}:${caller.id}`
}
