import type { ColumnType, Generated, Kysely } from 'kysely'

/**
 * The cloud's tables as kysely sees them. Column names are snake_case; amounts
 * are integer minor units (bigint columns, parsed to numbers by
 * @fuelpay/platform because every amount is bounded below 2^53).
 */
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>
type Json<T> = ColumnType<T, string, string>

export interface SigningKeyTable {
  kid: string
  private_jwk: Json<Record<string, unknown>>
  public_jwk: Json<Record<string, unknown>>
  /** active: signs; previous: still verifies (in the JWKS); retired: gone. */
  status: 'active' | 'previous' | 'retired'
  created_at: Timestamp
}

export interface OperatorTable {
  id: string
  name: string
  api_key_hash: string
  created_at: Timestamp
}

export interface StationTable {
  id: string
  operator_id: string
  name: string
  lat: number
  lon: number
  geofence_radius_m: number
  currency: string
  volume_unit: 'L' | 'gal'
  beacon_major: number | null
  created_at: Timestamp
}

export interface StationKeyTable {
  station_id: string
  kid: string
  public_jwk: Json<Record<string, unknown>>
  revoked_at: Timestamp | null
  created_at: Timestamp
}

export interface PumpTable {
  station_id: string
  pump: number
  in_service: Generated<boolean>
}

/** Price history: the newest row per (station, pump, grade) is the price; null withdraws the grade. */
export interface PumpPriceTable {
  id: Generated<number>
  station_id: string
  pump: number
  grade: string
  unit_price_milli: number | null
  valid_from: Timestamp
}

export interface AccountTable {
  id: string
  name: string
  default_hold_minor: number | null
  voice_code_hash: string | null
  voice_code_failures: Generated<number>
  voice_code_locked_until: Timestamp | null
  created_at: Timestamp
}

export interface PaymentMethodTable {
  id: string
  account_id: string
  processor_token: string
  brand: string
  last4: string
  name: string | null
  is_default: Generated<boolean>
  /** A later copy of a token stored more than once before the unique index (migration payment_token_once). */
  token_duplicate: Generated<boolean>
  created_at: Timestamp
}

export interface FleetTable {
  id: string
  account_id: string
  name: string
  limit_currency: string | null
  per_transaction_limit_minor: number | null
  daily_limit_minor: number | null
  monthly_limit_minor: number | null
  allowed_grades: Json<string[]> | null
  allowed_station_ids: Json<string[]> | null
  allowed_operator_ids: Json<string[]> | null
  /** Minutes after midnight UTC+offset; null means any hour. */
  hours_from_min: number | null
  hours_to_min: number | null
  utc_offset_min: Generated<number>
  voice_code_required: Generated<boolean>
  created_at: Timestamp
}

export interface VehicleTable {
  id: string
  account_id: string
  fleet_id: string | null
  name: string | null
  created_at: Timestamp
}

export interface VehicleKeyTable {
  vehicle_id: string
  kid: string
  public_jwk: Json<Record<string, unknown>>
  revoked_at: Timestamp | null
  created_at: Timestamp
}

export interface SeenAssertionTable {
  subject: string
  jti: string
  expires_at: Timestamp
}

export interface SimCardTable {
  token: string
  brand: string
  last4: string
  currency: string
  available_minor: number
  exp_month: number
  exp_year: number
  /** Injected decline for every authorization: 'SUSPECTED_FRAUD', 'ISSUER_UNAVAILABLE', ... */
  forced_decline: string | null
  created_at: Timestamp
}

export interface SimAuthorizationTable {
  id: string
  idempotency_key: string
  card_token: string
  currency: string
  requested_minor: number
  approved_minor: number
  captured_minor: Generated<number>
  state: 'authorized' | 'captured' | 'voided' | 'declined'
  decline_code: string | null
  created_at: Timestamp
}

export interface SimRequestTable {
  idempotency_key: string
  op: string
  result: Json<Record<string, unknown>>
  created_at: Timestamp
}

export interface SessionTable {
  id: string
  account_id: string
  vehicle_id: string
  fleet_id: string | null
  station_id: string
  operator_id: string
  pump: number
  state: string
  currency: string
  volume_unit: 'L' | 'gal'
  grades: Json<string[]>
  /** Price snapshot at authorization: grade -> unitPriceMilli. */
  prices: Json<Record<string, number>>
  requested_amount_minor: number
  hold_amount_minor: Generated<number>
  captured_minor: Generated<number>
  released_minor: Generated<number>
  max_volume_milli: Generated<number>
  payment_method_id: string
  processor_auth_id: string | null
  token_jti: string | null
  token_expires_at: Timestamp | null
  hold_expires_at: Timestamp | null
  /**
   * 'capture' | 'void' once settlement has been decided, before the processor
   * confirmed it; 'late_capture' when a sale arrived after the hold was voided
   * and was (or is being) charged by a new authorization (a forced post).
   */
  settle_action: string | null
  /** The processor authorization a late capture was taken from. */
  late_capture_auth_id: string | null
  settle_amount_minor: number | null
  reason_code: string | null
  reason_message: string | null
  sale: Json<Record<string, unknown>> | null
  receipt_id: string | null
  settled_at: Timestamp | null
  /** Sweeps that failed to carry out the decided settlement, and when the sweeper tries again. */
  settle_attempts: Generated<number>
  settle_next_at: Timestamp | null
  created_at: Timestamp
  updated_at: Timestamp
}

export interface JournalEntryTable {
  id: Generated<number>
  session_id: string | null
  kind: string
  currency: string
  created_at: Timestamp
}

/** Debits positive, credits negative; every entry sums to zero. */
export interface PostingTable {
  id: Generated<number>
  entry_id: number
  ledger_account: string
  amount_minor: number
}

export interface IdempotencyKeyTable {
  scope: string
  key: string
  request_hash: string
  state: 'in_progress' | 'done'
  status_code: number | null
  response: string | null
  created_at: Timestamp
  expires_at: Timestamp
}

export interface OutboxTable {
  id: Generated<number>
  kind: string
  aggregate_id: string
  operator_id: string | null
  station_id: string | null
  account_id: string | null
  payload: Json<Record<string, unknown>>
  created_at: Timestamp
}

export interface PumpStatusTable {
  station_id: string
  pump: number
  state: string
  session_id: string | null
  payload: Json<Record<string, unknown>>
  updated_at: Timestamp
  /** The station message this status came from (its msgId and ts). */
  msg_id: string | null
  sent_at_ms: number | null
}

export interface StationStatusTable {
  station_id: string
  online: boolean
  backlog: number
  updated_at: Timestamp
  /** The station message this status came from. */
  msg_id: string | null
}

export interface Tables {
  signing_keys: SigningKeyTable
  operators: OperatorTable
  stations: StationTable
  station_keys: StationKeyTable
  pumps: PumpTable
  pump_prices: PumpPriceTable
  accounts: AccountTable
  payment_methods: PaymentMethodTable
  fleets: FleetTable
  vehicles: VehicleTable
  vehicle_keys: VehicleKeyTable
  seen_assertions: SeenAssertionTable
  sim_cards: SimCardTable
  sim_authorizations: SimAuthorizationTable
  sim_requests: SimRequestTable
  sessions: SessionTable
  journal_entries: JournalEntryTable
  postings: PostingTable
  idempotency_keys: IdempotencyKeyTable
  outbox: OutboxTable
  pump_status: PumpStatusTable
  station_status: StationStatusTable
}

export type Db = Kysely<Tables>
