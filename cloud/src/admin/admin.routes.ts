import { randomBytes } from 'node:crypto'
import type { Static } from '@sinclair/typebox'
import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsync } from 'fastify'
import { findAccount, insertPaymentMethod, setVoiceCodeHash, upsertAccount } from '../accounts/account.repository.ts'
import { hashVoiceCode, isUsableVoiceCode, VOICE_CODE_MIN_CHARS } from '../accounts/voice-code.ts'
import { hashApiKey } from '../auth/auth.service.ts'
import type { CloudDeps } from '../deps.ts'
import { refuse } from '../errors/errors.ts'
import { findFleet, upsertFleet } from '../fleets/fleet.repository.ts'
import { errorResponses, IdempotencyHeaders, Params } from '../http-schemas.ts'
import { refuseUnusableKey } from '../keys/paired-key.ts'
import { verifyLedger } from '../ledger/ledger.repository.ts'
import { insertSimCard } from '../processor/sim-processor.repository.ts'
import { findStation, revokeStationKey, setPrice, setPumpInService, upsertStation } from '../stations/station.repository.ts'
import { revokeVehicleKey, upsertVehicle } from '../vehicles/vehicle.repository.ts'
import {
  AccountBody,
  FleetBody,
  IdAnswer,
  OperatorBody,
  PaymentMethodBody,
  PriceBody,
  PublicJwk,
  PumpServiceBody,
  SimCardBody,
  StationBody,
  VehicleBody,
  VoiceCodeBody,
} from './admin.schemas.ts'

const admin = { roles: ['admin' as const], idempotency: 'optional' as const }
const security = [{ bearer: [] }]
const newId = (prefix: string) => `${prefix}_${randomBytes(9).toString('base64url').replace(/[-_]/g, 'x')}`

/**
 * Admin provisioning (Bearer FUELPAY_ADMIN_TOKEN). Creating with an id that
 * exists updates it, so provisioning scripts can run again, but never across
 * tenants (a vehicle or fleet of another account, a station of another
 * operator: FORBIDDEN). A station or vehicle key with a new kid is added
 * beside the old one (key rotation); a kid already paired must name the same
 * unrevoked key (keys/paired-key.ts).
 */
export function adminRoutes(deps: CloudDeps): FastifyPluginAsync {
  const { db } = deps
  return async (app) => {
    const created = (schema: object) => ({ 201: schema, ...errorResponses })

    app.post(
      '/v1/admin/operators',
      { config: admin, schema: { tags: ['admin'], security, headers: IdempotencyHeaders, body: OperatorBody, response: created(Type.Object({ id: Type.String(), apiKey: Type.String() })) } },
      async (req, reply) => {
        const body = req.body as Static<typeof OperatorBody>
        const id = body.id ?? newId('op')
        const apiKey = `fpo_${randomBytes(24).toString('base64url')}`
        await db
          .insertInto('operators')
          .values({ id, name: body.name, api_key_hash: hashApiKey(apiKey) })
          .onConflict((oc) => oc.column('id').doUpdateSet({ name: body.name, api_key_hash: hashApiKey(apiKey) }))
          .execute()
        return reply.status(201).send({ id, apiKey })
      },
    )

    app.post(
      '/v1/admin/stations',
      { config: admin, schema: { tags: ['admin'], security, headers: IdempotencyHeaders, body: StationBody, response: created(IdAnswer) } },
      async (req, reply) => {
        const body = req.body as Static<typeof StationBody>
        const op = await db.selectFrom('operators').select('id').where('id', '=', body.operatorId).executeTakeFirst()
        if (!op) throw refuse('NOT_FOUND', 'no such operator')
        const pumps = new Set(body.pumps.map((p) => p.pump))
        if (pumps.size !== body.pumps.length) throw refuse('SCHEMA_INVALID', 'pump numbers repeat')
        for (const p of body.pumps) {
          if (new Set(p.grades.map((g) => g.grade)).size !== p.grades.length) throw refuse('SCHEMA_INVALID', `grades repeat on pump ${p.pump}`)
        }
        if (body.beaconMajor !== undefined) {
          const other = await db.selectFrom('stations').select('id').where('beacon_major', '=', body.beaconMajor).where('id', '!=', body.id).executeTakeFirst()
          if (other) throw refuse('SCHEMA_INVALID', 'beacon number belongs to another station')
        }
        await refuseUnusableKey(body.publicJwk)
        await upsertStation(db, body).catch((err: { code?: string; constraint?: string }) => {
          // Another station took the beacon number at the same moment.
          if (err.code === '23505' && err.constraint === 'stations_beacon_major_key') throw refuse('SCHEMA_INVALID', 'beacon number belongs to another station')
          throw err
        })
        return reply.status(201).send({ id: body.id })
      },
    )

    app.post(
      '/v1/admin/stations/:id/pumps/:pump/service',
      {
        config: admin,
        schema: {
          tags: ['admin'],
          security,
          params: Type.Object({ id: Params.id.properties.id, pump: Type.String({ pattern: '^[1-9][0-9]?$' }) }, { additionalProperties: false }),
          body: PumpServiceBody,
          response: { 200: Type.Object({ ok: Type.Boolean() }), ...errorResponses },
        },
      },
      async (req) => {
        const { id, pump } = req.params as { id: string; pump: string }
        const r = await setPumpInService(db, id, Number(pump), (req.body as Static<typeof PumpServiceBody>).inService)
        if (Number(r.numUpdatedRows) === 0) throw refuse('PUMP_NOT_AT_STATION')
        return { ok: true }
      },
    )

    app.post(
      '/v1/admin/stations/:id/prices',
      { config: admin, schema: { tags: ['admin'], security, params: Params.id, body: PriceBody, response: { 200: Type.Object({ pumps: Type.Integer() }), ...errorResponses } } },
      async (req) => {
        const { id } = req.params as { id: string }
        const body = req.body as Static<typeof PriceBody>
        if (!(await findStation(db, id))) throw refuse('UNKNOWN_STATION')
        const n = await setPrice(db, id, body.pump, body.grade, body.unitPriceMilli)
        if (n === 0) throw refuse('PUMP_NOT_AT_STATION')
        if (deps.sendStationCommand) {
          await deps
            .sendStationCommand(id, { op: 'set-price', grade: body.grade, unitPriceMilli: body.unitPriceMilli, ...(body.pump ? { pump: body.pump } : {}) })
            .catch((err) => req.log.warn({ err }, 'could not tell the station the new price'))
        }
        return { pumps: n }
      },
    )

    app.post(
      '/v1/admin/accounts',
      { config: admin, schema: { tags: ['admin'], security, headers: IdempotencyHeaders, body: AccountBody, response: created(IdAnswer) } },
      async (req, reply) => {
        const body = req.body as Static<typeof AccountBody>
        const id = body.id ?? newId('acct')
        await upsertAccount(db, { id, name: body.name, defaultHoldMinor: body.defaultHoldMinor })
        return reply.status(201).send({ id })
      },
    )

    app.post(
      '/v1/admin/accounts/:id/voice-code',
      { config: admin, schema: { tags: ['admin'], security, params: Params.id, body: VoiceCodeBody, response: { 200: Type.Object({ ok: Type.Boolean() }), ...errorResponses } } },
      async (req) => {
        const { id } = req.params as { id: string }
        const { voiceCode } = req.body as Static<typeof VoiceCodeBody>
        if (voiceCode !== null && !isUsableVoiceCode(voiceCode)) {
          throw refuse('SCHEMA_INVALID', `a voice code needs ${VOICE_CODE_MIN_CHARS} letters or digits besides spaces and punctuation`)
        }
        if (!(await findAccount(db, id))) throw refuse('NOT_FOUND')
        await setVoiceCodeHash(db, id, voiceCode === null ? null : await hashVoiceCode(voiceCode))
        return { ok: true }
      },
    )

    app.post(
      '/v1/admin/sim-processor/cards',
      { config: admin, schema: { tags: ['admin'], security, headers: IdempotencyHeaders, body: SimCardBody, response: created(Type.Object({ token: Type.String() })) } },
      async (req, reply) => {
        const body = req.body as Static<typeof SimCardBody>
        const token = `tok_sim_${randomBytes(12).toString('base64url')}`
        await insertSimCard(db, { token, ...body })
        return reply.status(201).send({ token })
      },
    )

    app.post(
      '/v1/admin/accounts/:id/payment-methods',
      { config: admin, schema: { tags: ['admin'], security, headers: IdempotencyHeaders, params: Params.id, body: PaymentMethodBody, response: created(IdAnswer) } },
      async (req, reply) => {
        const { id: accountId } = req.params as { id: string }
        const body = req.body as Static<typeof PaymentMethodBody>
        if (!(await findAccount(db, accountId))) throw refuse('NOT_FOUND')
        const id = await insertPaymentMethod(db, { id: newId('pm'), accountId, ...body })
        return reply.status(201).send({ id })
      },
    )

    app.post(
      '/v1/admin/fleets',
      { config: admin, schema: { tags: ['admin'], security, headers: IdempotencyHeaders, body: FleetBody, response: created(IdAnswer) } },
      async (req, reply) => {
        const body = req.body as Static<typeof FleetBody>
        if (!(await findAccount(db, body.accountId))) throw refuse('NOT_FOUND', 'no such account')
        const id = body.id ?? newId('fleet')
        const { hours, ...rest } = body
        await upsertFleet(db, { ...rest, id, hoursFromMin: hours?.fromMin, hoursToMin: hours?.toMin, utcOffsetMin: hours?.utcOffsetMin })
        return reply.status(201).send({ id })
      },
    )

    app.post(
      '/v1/admin/vehicles',
      { config: admin, schema: { tags: ['admin'], security, headers: IdempotencyHeaders, body: VehicleBody, response: created(IdAnswer) } },
      async (req, reply) => {
        const body = req.body as Static<typeof VehicleBody>
        if (!(await findAccount(db, body.accountId))) throw refuse('NOT_FOUND', 'no such account')
        if (body.fleetId) {
          const fleet = await findFleet(db, body.fleetId)
          // A fleet of another account is as good as absent.
          if (!fleet || fleet.account_id !== body.accountId) throw refuse('NOT_FOUND', 'no such fleet')
        }
        await refuseUnusableKey(body.publicJwk)
        await upsertVehicle(db, body)
        return reply.status(201).send({ id: body.id })
      },
    )

    // A lost or stolen car, a compromised station: its key stops authenticating
    // at once (assertions, broker credentials, sales); the broker credential
    // it already holds lapses at its expiry. Revoking again is a no-op.
    const KeyParams = Type.Object({ id: Params.id.properties.id, kid: PublicJwk.properties.kid }, { additionalProperties: false })
    for (const [kind, revoke] of [
      ['vehicles', revokeVehicleKey],
      ['stations', revokeStationKey],
    ] as const) {
      app.post(
        `/v1/admin/${kind}/:id/keys/:kid/revoke`,
        { config: admin, schema: { tags: ['admin'], security, params: KeyParams, response: { 200: Type.Object({ ok: Type.Boolean() }), ...errorResponses } } },
        async (req) => {
          const { id, kid } = req.params as { id: string; kid: string }
          if (!(await revoke(db, id, kid, new Date(deps.nowMs())))) throw refuse('NOT_FOUND', 'no such key')
          return { ok: true }
        },
      )
    }

    app.get(
      '/v1/admin/ledger/verify',
      {
        config: { roles: ['admin'] },
        schema: {
          tags: ['admin'],
          security,
          response: {
            200: Type.Object({
              ok: Type.Boolean(),
              entries: Type.Integer(),
              postings: Type.Integer(),
              unbalancedEntries: Type.Array(Type.Integer()),
              mismatchedSessions: Type.Array(Type.String()),
            }),
            ...errorResponses,
          },
        },
      },
      async () => verifyLedger(db),
    )

    app.post(
      '/v1/admin/keys/rotate',
      { config: admin, schema: { tags: ['admin'], security, response: { 200: Type.Object({ kid: Type.String() }), ...errorResponses } } },
      async () => {
        await deps.keys.rotate()
        return { kid: deps.keys.active().kid }
      },
    )
  }
}
