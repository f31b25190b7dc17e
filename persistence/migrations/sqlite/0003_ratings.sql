-- Every change of a player's skill rating in a game: one row per rated session and
-- player, written once (ratings in thousandths of a point, volatility in millionths).
CREATE TABLE rating_history (
    user_id BIGINT NOT NULL,
    game_id BIGINT NOT NULL,
    session_id BIGINT NOT NULL,
    result TEXT NOT NULL,
    rating_before BIGINT NOT NULL,
    rating BIGINT NOT NULL,
    deviation BIGINT NOT NULL,
    volatility BIGINT NOT NULL,
    games BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, game_id, session_id)
);

CREATE INDEX rating_history_user ON rating_history (user_id, created_at);
