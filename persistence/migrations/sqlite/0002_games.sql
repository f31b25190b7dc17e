-- Games (the catalog) and their sessions, players and spectators, as the core last saw
-- them. Rows are replaced on every change of their session.
CREATE TABLE games (
    id BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    category TEXT NOT NULL,
    subcategory TEXT NOT NULL,
    game_type TEXT NOT NULL,
    rule_set TEXT NOT NULL,
    min_players BIGINT NOT NULL,
    max_players BIGINT NOT NULL,
    rules TEXT NOT NULL,
    thumbnail_url TEXT NOT NULL,
    rake_bp BIGINT NOT NULL,
    is_active INTEGER NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE game_sessions (
    id BIGINT PRIMARY KEY,
    game_id BIGINT NOT NULL,
    status TEXT NOT NULL,
    end_reason TEXT,
    stake_amount BIGINT NOT NULL,
    currency TEXT NOT NULL,
    player_count BIGINT NOT NULL,
    max_players BIGINT NOT NULL,
    is_private INTEGER NOT NULL,
    spectator_fee BIGINT NOT NULL,
    rake BIGINT NOT NULL,
    created_by BIGINT NOT NULL,
    version BIGINT NOT NULL,
    server_seed_hash TEXT NOT NULL,
    server_seed TEXT,
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    ended_at BIGINT
);

CREATE INDEX game_sessions_game ON game_sessions (game_id, created_at);

CREATE TABLE game_players (
    session_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    position BIGINT NOT NULL,
    status TEXT NOT NULL,
    score BIGINT NOT NULL,
    payout BIGINT NOT NULL,
    joined_at BIGINT NOT NULL,
    PRIMARY KEY (session_id, user_id)
);

CREATE INDEX game_players_user ON game_players (user_id, joined_at);

CREATE TABLE game_spectators (
    session_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    fee_paid BIGINT NOT NULL,
    joined_at BIGINT NOT NULL,
    PRIMARY KEY (session_id, user_id)
);
