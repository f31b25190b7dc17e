-- Communities (the spec's `communities`, with the pending-request count, the last
-- activity and the version ours), their memberships (active, pending requests and
-- invitations; the fee each paid) and the moderation log: every action an owner, admin
-- or moderator took, keyed by the community's version it made.
CREATE TABLE communities (
    id BIGINT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    category TEXT NOT NULL,
    type TEXT NOT NULL,
    membership_fee BIGINT NOT NULL,
    currency TEXT NOT NULL,
    owner_id BIGINT NOT NULL,
    member_count BIGINT NOT NULL,
    pending_count BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    last_activity BIGINT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (id)
);

CREATE INDEX communities_members ON communities (member_count, id);
CREATE INDEX communities_activity ON communities (last_activity, id);
CREATE INDEX communities_category ON communities (category, member_count);

CREATE TABLE community_members (
    community_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    role TEXT NOT NULL,
    status TEXT NOT NULL,
    joined_at BIGINT NOT NULL,
    muted_until BIGINT,
    banned_until BIGINT,
    fee_paid BIGINT NOT NULL,
    PRIMARY KEY (community_id, user_id)
);

CREATE INDEX community_members_status ON community_members (community_id, status, joined_at);
CREATE INDEX community_members_user ON community_members (user_id);

CREATE TABLE community_moderation (
    community_id BIGINT NOT NULL,
    version BIGINT NOT NULL,
    actor_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    action TEXT NOT NULL,
    role TEXT NOT NULL,
    until_at BIGINT,
    reason TEXT NOT NULL,
    thread_id BIGINT,
    reply_id BIGINT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (community_id, version)
);
