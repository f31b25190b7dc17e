-- The history store, shaped after the product spec's schemas. Conventions (ARCHITECTURE.md,
-- "History store"): ids are the core's integers (the API shows them with a type prefix:
-- usr_7, ord_42); money is BIGINT in units of 10^-8 of the currency, prices BIGINT in
-- 10^-4 of probability, quantities BIGINT in 10^-4 shares -- exact integers, never floats;
-- times are timestamptz in Postgres and integer microseconds since the epoch in SQLite (the
-- SQLite migration is this file with every timestamptz type written BIGINT and every boolean
-- INTEGER, 0 or 1). No secret leaves the core: no password hash, TOTP secret, API-key
-- secret or sealed payment detail.

-- The last journal record applied, written in the same transaction as the rows it covers.
CREATE TABLE projection_checkpoint (
    name TEXT PRIMARY KEY,
    seq BIGINT NOT NULL,
    record_at TIMESTAMPTZ NOT NULL,
    base_seq BIGINT NOT NULL
);

CREATE TABLE users (
    id BIGINT PRIMARY KEY,
    username TEXT NOT NULL,
    email TEXT NOT NULL,
    role TEXT NOT NULL,
    status TEXT NOT NULL,
    kyc_level BIGINT NOT NULL,
    referral_code TEXT NOT NULL,
    referred_by BIGINT,
    two_fa_enabled BOOLEAN NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    last_login TIMESTAMPTZ
);

CREATE TABLE user_profiles (
    user_id BIGINT PRIMARY KEY,
    display_name TEXT NOT NULL,
    avatar_url TEXT NOT NULL,
    bio TEXT NOT NULL,
    country_code TEXT NOT NULL,
    timezone TEXT NOT NULL,
    language TEXT NOT NULL,
    skill_rating BIGINT NOT NULL,
    total_earnings BIGINT NOT NULL,
    total_wagered BIGINT NOT NULL,
    verified_expert BOOLEAN NOT NULL,
    settings TEXT NOT NULL
);

CREATE TABLE kyc_documents (
    id BIGINT PRIMARY KEY,
    user_id BIGINT NOT NULL,
    document_type TEXT NOT NULL,
    document_url TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    status TEXT NOT NULL,
    kyc_level BIGINT NOT NULL,
    notes TEXT NOT NULL,
    submitted_at TIMESTAMPTZ NOT NULL,
    verified_at TIMESTAMPTZ,
    verified_by BIGINT
);
CREATE INDEX kyc_documents_user ON kyc_documents (user_id, id);

CREATE TABLE api_keys (
    id BIGINT PRIMARY KEY,
    user_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    logins BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ,
    last_login TIMESTAMPTZ
);

CREATE TABLE payment_methods (
    id BIGINT PRIMARY KEY,
    user_id BIGINT NOT NULL,
    method_type TEXT NOT NULL,
    provider TEXT NOT NULL,
    display_hint TEXT NOT NULL,
    is_verified BOOLEAN NOT NULL,
    is_default BOOLEAN NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE wallets (
    id BIGINT PRIMARY KEY,
    user_id BIGINT NOT NULL,
    currency TEXT NOT NULL,
    balance BIGINT NOT NULL,
    available_balance BIGINT NOT NULL,
    locked_balance BIGINT NOT NULL,
    is_default BOOLEAN NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX wallets_user ON wallets (user_id);

CREATE TABLE transactions (
    id BIGINT PRIMARY KEY,
    user_id BIGINT NOT NULL,
    wallet_id BIGINT NOT NULL,
    type TEXT NOT NULL,
    status TEXT NOT NULL,
    amount BIGINT NOT NULL,
    fee BIGINT NOT NULL,
    credit BOOLEAN NOT NULL,
    currency TEXT NOT NULL,
    counterparty_id BIGINT,
    reference_type TEXT NOT NULL,
    reference_id BIGINT NOT NULL,
    payment_method TEXT NOT NULL,
    payment_method_id BIGINT,
    provider_reference TEXT NOT NULL,
    memo TEXT NOT NULL,
    notes TEXT NOT NULL,
    processed_by BIGINT,
    created_at TIMESTAMPTZ NOT NULL,
    completed_at TIMESTAMPTZ
);
CREATE INDEX transactions_user_time ON transactions (user_id, created_at, id);

-- The spec's withdrawal_requests and p2p_transfers are kinds of transaction here.
CREATE VIEW withdrawal_requests AS
    SELECT id, user_id, wallet_id, amount, currency, fee, payment_method_id, status,
           processed_by, completed_at AS processed_at, notes, created_at
    FROM transactions WHERE type = 'withdrawal';
CREATE VIEW p2p_transfers AS
    SELECT id, user_id AS sender_id, counterparty_id AS recipient_id, amount, currency, memo,
           status, created_at
    FROM transactions WHERE type = 'transfer' AND credit = FALSE;

CREATE TABLE markets (
    id BIGINT PRIMARY KEY,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    category TEXT NOT NULL,
    market_type TEXT NOT NULL,
    creator_id BIGINT NOT NULL,
    creator_fee_bp BIGINT NOT NULL,
    currency TEXT NOT NULL,
    status TEXT NOT NULL,
    resolution_source TEXT NOT NULL,
    oracle_type TEXT NOT NULL,
    winner_outcome_id BIGINT,
    scalar_value BIGINT,
    total_volume BIGINT NOT NULL,
    trade_count BIGINT NOT NULL,
    participant_count BIGINT NOT NULL,
    opens_at TIMESTAMPTZ NOT NULL,
    closes_at TIMESTAMPTZ NOT NULL,
    resolved_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE market_outcomes (
    id BIGINT PRIMARY KEY,
    market_id BIGINT NOT NULL,
    outcome_text TEXT NOT NULL,
    last_price BIGINT,
    volume BIGINT NOT NULL,
    is_winner BOOLEAN
);
CREATE INDEX market_outcomes_market ON market_outcomes (market_id);

CREATE TABLE market_orders (
    id BIGINT PRIMARY KEY,
    market_id BIGINT NOT NULL,
    outcome_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    pool_id BIGINT,
    side TEXT NOT NULL,
    order_type TEXT NOT NULL,
    price BIGINT NOT NULL,
    quantity BIGINT NOT NULL,
    filled_quantity BIGINT NOT NULL,
    remaining_quantity BIGINT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    time_in_force TEXT NOT NULL,
    post_only BOOLEAN NOT NULL,
    client_order_id TEXT,
    filled_notional BIGINT NOT NULL,
    trade_count BIGINT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX market_orders_user_time ON market_orders (user_id, created_at, id);

CREATE TABLE trades (
    id BIGINT PRIMARY KEY,
    market_id BIGINT NOT NULL,
    outcome_id BIGINT NOT NULL,
    book_seq BIGINT NOT NULL,
    price BIGINT NOT NULL,
    quantity BIGINT NOT NULL,
    maker_order_id BIGINT NOT NULL,
    taker_order_id BIGINT NOT NULL,
    maker_user_id BIGINT NOT NULL,
    taker_user_id BIGINT NOT NULL,
    taker_side TEXT NOT NULL,
    time TIMESTAMPTZ NOT NULL
);
CREATE INDEX trades_maker ON trades (maker_user_id, id);
CREATE INDEX trades_taker ON trades (taker_user_id, id);

-- The spec's TimescaleDB hypertable: one row per trade, indexed by contract and time;
-- charts of any timeframe aggregate it.
CREATE TABLE market_prices (
    trade_id BIGINT PRIMARY KEY,
    time TIMESTAMPTZ NOT NULL,
    market_id BIGINT NOT NULL,
    outcome_id BIGINT NOT NULL,
    price BIGINT NOT NULL,
    volume BIGINT NOT NULL,
    notional BIGINT NOT NULL
);
CREATE INDEX market_prices_outcome_time ON market_prices (outcome_id, time);

-- A position is one (account, contract) holding; a contract with a NO side shows as two
-- rows, back and lay, under the same id.
CREATE TABLE market_positions (
    id BIGINT NOT NULL,
    market_id BIGINT NOT NULL,
    outcome_id BIGINT NOT NULL,
    user_id BIGINT,
    pool_id BIGINT,
    position_type TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    locked BIGINT NOT NULL,
    cost BIGINT NOT NULL,
    realized BIGINT NOT NULL,
    payout BIGINT NOT NULL,
    status TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (id, outcome_id, position_type)
);
CREATE INDEX market_positions_user ON market_positions (user_id, status, id);

CREATE TABLE betting_pools (
    id BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    creator_id BIGINT NOT NULL,
    currency TEXT NOT NULL,
    entry_amount BIGINT NOT NULL,
    member_limit BIGINT NOT NULL,
    status TEXT NOT NULL,
    total_pool BIGINT NOT NULL,
    balance BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE pool_members (
    pool_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    contribution BIGINT NOT NULL,
    share_bp BIGINT NOT NULL,
    payout BIGINT NOT NULL,
    joined_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (pool_id, user_id)
);

-- Every double-entry movement, in journal order: per account, the sum of credits minus
-- debits is its balance; the total of every movement is zero.
CREATE TABLE ledger_entries (
    seq BIGINT NOT NULL,
    idx BIGINT NOT NULL,
    debit_account BIGINT NOT NULL,
    credit_account BIGINT NOT NULL,
    amount BIGINT NOT NULL,
    reason TEXT NOT NULL,
    reference BIGINT NOT NULL,
    time TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (seq, idx)
);
