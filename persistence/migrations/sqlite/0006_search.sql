-- Full-text search over posts, the one part of the history store that differs between
-- the backends beyond column types (so it is a migration of its own, outside the
-- SQLite-is-Postgres-with-integers check): an FTS5 index of post_contents' search_text,
-- kept by triggers, with Porter stemming (as Postgres's English configuration stems).
CREATE VIRTUAL TABLE post_search USING fts5(
    search_text,
    content='post_contents',
    content_rowid='rowid',
    tokenize='porter unicode61'
);

CREATE TRIGGER post_contents_ai AFTER INSERT ON post_contents BEGIN
    INSERT INTO post_search (rowid, search_text) VALUES (new.rowid, new.search_text);
END;

CREATE TRIGGER post_contents_ad AFTER DELETE ON post_contents BEGIN
    INSERT INTO post_search (post_search, rowid, search_text)
        VALUES ('delete', old.rowid, old.search_text);
END;

CREATE TRIGGER post_contents_au AFTER UPDATE ON post_contents BEGIN
    INSERT INTO post_search (post_search, rowid, search_text)
        VALUES ('delete', old.rowid, old.search_text);
    INSERT INTO post_search (rowid, search_text) VALUES (new.rowid, new.search_text);
END;
