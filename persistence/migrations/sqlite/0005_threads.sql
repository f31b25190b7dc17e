-- Threads and replies (the spec's `threads` and `thread_replies` without their text, with
-- ours: the score, Reddit's hot rank and, for replies, the Wilson lower bound that ranks
-- them "best", both in fixed point), and every post's text (`post_contents`: reply_id 0 is
-- the thread's own): its source, its sanitised HTML, a public preview and what search
-- indexes (a paywalled post's preview only).
CREATE TABLE threads (
    id BIGINT NOT NULL,
    community_id BIGINT NOT NULL,
    author_id BIGINT NOT NULL,
    thread_type TEXT NOT NULL,
    is_pinned INTEGER NOT NULL,
    is_locked INTEGER NOT NULL,
    is_deleted INTEGER NOT NULL,
    paywall_amount BIGINT NOT NULL,
    currency TEXT NOT NULL,
    upvotes BIGINT NOT NULL,
    downvotes BIGINT NOT NULL,
    score BIGINT NOT NULL,
    hot_rank BIGINT NOT NULL,
    reply_count BIGINT NOT NULL,
    view_count BIGINT NOT NULL,
    purchases BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    last_reply_at BIGINT,
    version BIGINT NOT NULL,
    PRIMARY KEY (id)
);

CREATE INDEX threads_hot ON threads (community_id, is_pinned, hot_rank);
CREATE INDEX threads_new ON threads (community_id, is_pinned, created_at);
CREATE INDEX threads_top ON threads (community_id, is_pinned, score);

CREATE TABLE thread_replies (
    id BIGINT NOT NULL,
    thread_id BIGINT NOT NULL,
    parent_reply_id BIGINT,
    root_id BIGINT NOT NULL,
    depth BIGINT NOT NULL,
    author_id BIGINT NOT NULL,
    upvotes BIGINT NOT NULL,
    downvotes BIGINT NOT NULL,
    best_rank BIGINT NOT NULL,
    is_deleted INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (id)
);

CREATE INDEX thread_replies_tree ON thread_replies (thread_id, depth, best_rank);
CREATE INDEX thread_replies_root ON thread_replies (thread_id, root_id);

CREATE TABLE post_contents (
    thread_id BIGINT NOT NULL,
    reply_id BIGINT NOT NULL,
    community_id BIGINT NOT NULL,
    is_public INTEGER NOT NULL,
    title TEXT NOT NULL,
    content TEXT NOT NULL,
    format TEXT NOT NULL,
    content_html TEXT NOT NULL,
    preview TEXT NOT NULL,
    search_text TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (thread_id, reply_id)
);
