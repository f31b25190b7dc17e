-- Full-text search over posts, the one part of the history store that differs between
-- the backends beyond column types (so it is a migration of its own, outside the
-- SQLite-is-Postgres-with-integers check): a GIN index of the English tsvector of
-- post_contents' search_text.
CREATE INDEX post_contents_search ON post_contents USING GIN (to_tsvector('english', search_text));
