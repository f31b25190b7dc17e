-- Chat: a community's or a group's room's messages (the spec's Cassandra `chat_messages`,
-- keyed by the room — its kind and id — and the message, read newest first) and direct messages (`direct_messages`, same key), each with its room's
-- sequence number and, for a bet slip, the market (and outcome) it refers to. A message
-- is `read` when its recipient's marker in `chat_reads` has reached it (the marker, not a
-- flag on each row, so marking read is one write). `conversations`: each pair's
-- conversation, its last message and sequence number.
CREATE TABLE chat_messages (
    room_kind TEXT NOT NULL,
    room_id BIGINT NOT NULL,
    message_id BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    sender_id BIGINT NOT NULL,
    message_type TEXT NOT NULL,
    content TEXT NOT NULL,
    market_id BIGINT,
    outcome_id BIGINT,
    edited INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (room_kind, room_id, message_id)
);

CREATE TABLE direct_messages (
    conversation_id BIGINT NOT NULL,
    message_id BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    sender_id BIGINT NOT NULL,
    recipient_id BIGINT NOT NULL,
    message_type TEXT NOT NULL,
    content TEXT NOT NULL,
    market_id BIGINT,
    outcome_id BIGINT,
    edited INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, message_id)
);

CREATE INDEX direct_messages_unread ON direct_messages (conversation_id, recipient_id, message_id);

CREATE TABLE conversations (
    id BIGINT NOT NULL,
    user_a BIGINT NOT NULL,
    user_b BIGINT NOT NULL,
    last_message_id BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (id)
);

CREATE INDEX conversations_a ON conversations (user_a, last_message_id);
CREATE INDEX conversations_b ON conversations (user_b, last_message_id);

CREATE TABLE chat_reads (
    room_kind TEXT NOT NULL,
    room_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    message_id BIGINT NOT NULL,
    read_at BIGINT NOT NULL,
    PRIMARY KEY (room_kind, room_id, user_id)
);
