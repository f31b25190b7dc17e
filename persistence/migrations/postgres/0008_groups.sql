-- Groups (the spec's `groups`, with ours: the wallet's account, the payout policy, the
-- version), their members and invitees (what each paid in and was paid out), and the
-- group wallet's history: every contribution and payout, keyed by the group's version it
-- made.
CREATE TABLE groups (
    id BIGINT NOT NULL,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    max_members BIGINT NOT NULL,
    currency TEXT NOT NULL,
    owner_id BIGINT NOT NULL,
    payout_policy TEXT NOT NULL,
    member_count BIGINT NOT NULL,
    wallet_id BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (id)
);

CREATE TABLE group_members (
    group_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    role TEXT NOT NULL,
    invited BOOLEAN NOT NULL,
    joined_at TIMESTAMPTZ NOT NULL,
    contributed BIGINT NOT NULL,
    received BIGINT NOT NULL,
    PRIMARY KEY (group_id, user_id)
);

CREATE INDEX group_members_user ON group_members (user_id);

CREATE TABLE group_transactions (
    group_id BIGINT NOT NULL,
    version BIGINT NOT NULL,
    actor_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    type TEXT NOT NULL,
    amount BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (group_id, version)
);
