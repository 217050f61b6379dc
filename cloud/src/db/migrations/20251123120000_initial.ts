import { type Kysely, sql } from 'kysely'

/**
 * The initial schema. Money columns are bigint minor units; checks in the
 * database repeat the invariants the services keep, so a bug cannot write a
 * negative hold or a capture above its hold.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await runStatements(db, `
    CREATE TABLE signing_keys (
      kid text PRIMARY KEY,
      private_jwk jsonb NOT NULL,
      public_jwk jsonb NOT NULL,
      status text NOT NULL CHECK (status IN ('active', 'previous', 'retired')),
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (status) WHERE status = 'active';

    CREATE TABLE operators (
      id text PRIMARY KEY,
      name text NOT NULL,
      api_key_hash text NOT NULL UNIQUE,
      created_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE stations (
      id text PRIMARY KEY,
      operator_id text NOT NULL REFERENCES operators (id),
      name text NOT NULL,
      lat double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
      lon double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
      geofence_radius_m integer NOT NULL CHECK (geofence_radius_m BETWEEN 1 AND 5000),
      currency text NOT NULL,
      volume_unit text NOT NULL CHECK (volume_unit IN ('L', 'gal')),
      beacon_major integer UNIQUE CHECK (beacon_major BETWEEN 1 AND 65535),
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX stations_operator ON stations (operator_id);
    CREATE INDEX stations_lat_lon ON stations (lat, lon);

    CREATE TABLE station_keys (
      station_id text NOT NULL REFERENCES stations (id),
      kid text NOT NULL,
      public_jwk jsonb NOT NULL,
      revoked_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (station_id, kid)
    );

    CREATE TABLE pumps (
      station_id text NOT NULL REFERENCES stations (id),
      pump integer NOT NULL CHECK (pump BETWEEN 1 AND 99),
      in_service boolean NOT NULL DEFAULT true,
      PRIMARY KEY (station_id, pump)
    );

    CREATE TABLE pump_prices (
      id bigserial PRIMARY KEY,
      station_id text NOT NULL,
      pump integer NOT NULL,
      grade text NOT NULL,
      unit_price_milli bigint CHECK (unit_price_milli > 0),
      valid_from timestamptz NOT NULL DEFAULT now(),
      FOREIGN KEY (station_id, pump) REFERENCES pumps (station_id, pump)
    );
    CREATE INDEX pump_prices_current ON pump_prices (station_id, pump, grade, id DESC);

    CREATE TABLE accounts (
      id text PRIMARY KEY,
      name text NOT NULL,
      default_hold_minor bigint CHECK (default_hold_minor > 0),
      voice_code_hash text,
      created_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE payment_methods (
      id text PRIMARY KEY,
      account_id text NOT NULL REFERENCES accounts (id),
      processor_token text NOT NULL,
      brand text NOT NULL,
      last4 text NOT NULL CHECK (last4 ~ '^[0-9]{4}$'),
      name text,
      is_default boolean NOT NULL DEFAULT false,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX payment_methods_account ON payment_methods (account_id);

    CREATE TABLE fleets (
      id text PRIMARY KEY,
      account_id text NOT NULL REFERENCES accounts (id),
      name text NOT NULL,
      limit_currency text,
      per_transaction_limit_minor bigint CHECK (per_transaction_limit_minor > 0),
      daily_limit_minor bigint CHECK (daily_limit_minor > 0),
      monthly_limit_minor bigint CHECK (monthly_limit_minor > 0),
      allowed_grades jsonb,
      allowed_station_ids jsonb,
      allowed_operator_ids jsonb,
      hours_from_min integer CHECK (hours_from_min BETWEEN 0 AND 1440),
      hours_to_min integer CHECK (hours_to_min BETWEEN 0 AND 1440),
      utc_offset_min integer NOT NULL DEFAULT 0 CHECK (utc_offset_min BETWEEN -840 AND 840),
      voice_code_required boolean NOT NULL DEFAULT false,
      created_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE vehicles (
      id text PRIMARY KEY,
      account_id text NOT NULL REFERENCES accounts (id),
      fleet_id text REFERENCES fleets (id),
      name text,
      created_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE vehicle_keys (
      vehicle_id text NOT NULL REFERENCES vehicles (id),
      kid text NOT NULL,
      public_jwk jsonb NOT NULL,
      revoked_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (vehicle_id, kid)
    );

    CREATE TABLE seen_assertions (
      subject text NOT NULL,
      jti text NOT NULL,
      expires_at timestamptz NOT NULL,
      PRIMARY KEY (subject, jti)
    );
    CREATE INDEX seen_assertions_expiry ON seen_assertions (expires_at);

    CREATE TABLE sim_cards (
      token text PRIMARY KEY,
      brand text NOT NULL,
      last4 text NOT NULL,
      currency text NOT NULL,
      available_minor bigint NOT NULL CHECK (available_minor >= 0),
      exp_month integer NOT NULL CHECK (exp_month BETWEEN 1 AND 12),
      exp_year integer NOT NULL,
      forced_decline text,
      created_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE sim_authorizations (
      id text PRIMARY KEY,
      idempotency_key text NOT NULL UNIQUE,
      card_token text NOT NULL REFERENCES sim_cards (token),
      currency text NOT NULL,
      requested_minor bigint NOT NULL,
      approved_minor bigint NOT NULL CHECK (approved_minor >= 0),
      captured_minor bigint NOT NULL DEFAULT 0 CHECK (captured_minor >= 0 AND captured_minor <= approved_minor),
      state text NOT NULL,
      decline_code text,
      created_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE sim_requests (
      idempotency_key text PRIMARY KEY,
      op text NOT NULL,
      result jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE sessions (
      id text PRIMARY KEY,
      account_id text NOT NULL REFERENCES accounts (id),
      vehicle_id text NOT NULL REFERENCES vehicles (id),
      fleet_id text,
      station_id text NOT NULL REFERENCES stations (id),
      operator_id text NOT NULL,
      pump integer NOT NULL,
      state text NOT NULL,
      currency text NOT NULL,
      volume_unit text NOT NULL,
      grades jsonb NOT NULL,
      prices jsonb NOT NULL,
      requested_amount_minor bigint NOT NULL,
      hold_amount_minor bigint NOT NULL DEFAULT 0 CHECK (hold_amount_minor >= 0),
      captured_minor bigint NOT NULL DEFAULT 0 CHECK (captured_minor >= 0),
      released_minor bigint NOT NULL DEFAULT 0 CHECK (released_minor >= 0),
      max_volume_milli bigint NOT NULL DEFAULT 0,
      payment_method_id text NOT NULL,
      processor_auth_id text,
      token_jti text,
      token_expires_at timestamptz,
      hold_expires_at timestamptz,
      settle_action text CHECK (settle_action IN ('capture', 'void')),
      settle_amount_minor bigint,
      reason_code text,
      reason_message text,
      sale jsonb,
      receipt_id text UNIQUE,
      settled_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CHECK (captured_minor + released_minor <= hold_amount_minor)
    );
    CREATE INDEX sessions_vehicle ON sessions (vehicle_id, created_at DESC);
    CREATE INDEX sessions_account ON sessions (account_id, created_at DESC);
    CREATE INDEX sessions_station ON sessions (station_id, created_at DESC);
    CREATE INDEX sessions_operator ON sessions (operator_id, created_at DESC);
    CREATE INDEX sessions_open ON sessions (hold_expires_at) WHERE settled_at IS NULL;

    CREATE TABLE journal_entries (
      id bigserial PRIMARY KEY,
      session_id text REFERENCES sessions (id),
      kind text NOT NULL,
      currency text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX journal_entries_session ON journal_entries (session_id);

    CREATE TABLE postings (
      id bigserial PRIMARY KEY,
      entry_id bigint NOT NULL REFERENCES journal_entries (id),
      ledger_account text NOT NULL,
      amount_minor bigint NOT NULL CHECK (amount_minor <> 0)
    );
    CREATE INDEX postings_entry ON postings (entry_id);
    CREATE INDEX postings_account ON postings (ledger_account);

    -- Append-only ledger (issue 3): history is corrected by new entries, never edits.
    CREATE FUNCTION fuelpay_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
    END $$;
    CREATE TRIGGER postings_append_only BEFORE UPDATE OR DELETE ON postings
      FOR EACH ROW EXECUTE FUNCTION fuelpay_ledger_append_only();
    CREATE TRIGGER postings_no_truncate BEFORE TRUNCATE ON postings
      FOR EACH STATEMENT EXECUTE FUNCTION fuelpay_ledger_append_only();
    CREATE TRIGGER journal_entries_append_only BEFORE UPDATE OR DELETE ON journal_entries
      FOR EACH ROW EXECUTE FUNCTION fuelpay_ledger_append_only();
    CREATE TRIGGER journal_entries_no_truncate BEFORE TRUNCATE ON journal_entries
      FOR EACH STATEMENT EXECUTE FUNCTION fuelpay_ledger_append_only();

    -- Each journal entry balances, checked at commit so its postings can be inserted one by one.
    CREATE FUNCTION fuelpay_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE total bigint;
    BEGIN
      SELECT COALESCE(SUM(amount_minor), 0) INTO total FROM postings WHERE entry_id = NEW.entry_id;
      IF total <> 0 THEN
        RAISE EXCEPTION 'journal entry % does not balance (sum %)', NEW.entry_id, total
          USING ERRCODE = 'check_violation';
      END IF;
      RETURN NULL;
    END $$;
    CREATE CONSTRAINT TRIGGER postings_balanced AFTER INSERT ON postings
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fuelpay_entry_balanced();

    CREATE TABLE idempotency_keys (
      scope text NOT NULL,
      key text NOT NULL,
      request_hash text NOT NULL,
      state text NOT NULL CHECK (state IN ('in_progress', 'done')),
      status_code integer,
      response text,
      created_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz NOT NULL,
      PRIMARY KEY (scope, key)
    );
    CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);

    CREATE TABLE outbox (
      id bigserial PRIMARY KEY,
      kind text NOT NULL,
      aggregate_id text NOT NULL,
      operator_id text,
      station_id text,
      account_id text,
      payload jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    -- The notification only wakes readers; they read rows by id (design: outbox).
    CREATE FUNCTION fuelpay_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_notify('fuelpay_outbox', NEW.id::text);
      RETURN NULL;
    END $$;
    CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
      FOR EACH ROW EXECUTE FUNCTION fuelpay_outbox_notify();

    CREATE TABLE pump_status (
      station_id text NOT NULL,
      pump integer NOT NULL,
      state text NOT NULL,
      session_id text,
      payload jsonb NOT NULL,
      updated_at timestamptz NOT NULL,
      PRIMARY KEY (station_id, pump)
    );

    CREATE TABLE station_status (
      station_id text PRIMARY KEY,
      online boolean NOT NULL,
      backlog bigint NOT NULL,
      updated_at timestamptz NOT NULL
    );
  `)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await runStatements(db, `
    DROP TABLE IF EXISTS station_status, pump_status, outbox, idempotency_keys, postings,
      journal_entries, sessions, sim_requests, sim_authorizations, sim_cards, seen_assertions,
      vehicle_keys, vehicles, fleets, payment_methods, accounts, pump_prices, pumps, station_keys,
      stations, operators, signing_keys CASCADE;
    DROP FUNCTION IF EXISTS fuelpay_outbox_notify, fuelpay_entry_balanced, fuelpay_ledger_append_only;
  `)
}

/**
 * Runs a script one statement at a time: PGlite's extended-protocol query
 * takes a single statement. Splits at a `;` ending a line outside `$$` bodies.
 */
async function runStatements(db: Kysely<unknown>, script: string): Promise<void> {
  let current = ''
  let inBody = false
  for (const line of script.split('\n')) {
    current += `${line}\n`
    inBody = (line.match(/\$\$/g)?.length ?? 0) % 2 === 1 ? !inBody : inBody
    if (!inBody && line.trimEnd().endsWith(';')) {
      const stmt = current.trim()
      current = ''
      if (stmt && !/^(--[^\n]*\n?)*$/.test(stmt)) await sql.raw(stmt).execute(db)
    }
  }
  if (current.trim()) await sql.raw(current).execute(db)
}
