//! The store: one connection pool (sqlx's `Any` driver) over Postgres or an embedded SQLite
//! file, the migrations, batched writes with the checkpoint in the same transaction, and
//! the reads the gateway and the tests make.
//!
//! The SQL is the same for both backends except for times: Postgres keeps `timestamptz`,
//! SQLite integer microseconds, and [`Store::time_in`] / [`Store::time_out`] write the
//! conversion into the statement (exact: microsecond intervals in, `EXTRACT(EPOCH …)` as
//! `numeric` out).

use crate::schema::{CHECKPOINT_TABLE, Kind, Row, TABLES, Table, Value};
use crate::{Error, Result};
use betbet_protocol::types::Timestamp;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AnyPool, Row as _};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");
static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

/// The projection's name in the checkpoint table (one projection today; games, social and
/// analytics add their tables to it rather than a second writer).
pub const PROJECTION: &str = "history";

/// Bind parameters per statement, under SQLite's 32 766 and Postgres's 65 535.
const PARAMS_PER_STATEMENT: usize = 30_000;

/// Rows per Postgres statement, which carries a column per parameter as an array.
const ROWS_PER_ARRAY_STATEMENT: usize = 20_000;

/// The most words a search looks for.
pub const SEARCH_WORDS_MAX: usize = 16;

/// Connections in the pool: one writer, the rest for reads.
const POOL_CONNECTIONS_MAX: u32 = 8;

/// Where the history lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// `postgres://…` (production).
    Postgres(String),
    /// An SQLite file (the embedded default, `DATA_DIR/history.sqlite`).
    Sqlite(PathBuf),
}

impl Location {
    /// `--database-url` if given, else the embedded file in the data directory.
    pub fn new(database_url: Option<&str>, data_dir: &Path) -> Result<Location> {
        match database_url.filter(|u| !u.is_empty()) {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(Location::Postgres(url.to_owned()))
            }
            Some(url) => match url.strip_prefix("sqlite://") {
                Some(path) => Ok(Location::Sqlite(PathBuf::from(path))),
                None => Err(Error::Config(format!(
                    "--database-url must be postgres://… or sqlite://PATH, not `{}`",
                    redact(url)
                ))),
            },
            None => Ok(Location::Sqlite(data_dir.join("history.sqlite"))),
        }
    }

    /// For logs and errors: the URL without its password.
    pub fn describe(&self) -> String {
        match self {
            Location::Postgres(url) => redact(url),
            Location::Sqlite(path) => format!("sqlite://{}", path.display()),
        }
    }
}

/// A URL with the password between `:` and `@` replaced.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &userinfo[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// What the checkpoint row says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// The last journal record whose rows are in the store.
    pub seq: u64,
    /// Its stamped time.
    pub record_at: Timestamp,
    /// Where the store's history starts: 0 when it was projected from the journal's first
    /// record, else the snapshot it was seeded from (older history had been pruned).
    pub base_seq: u64,
}

/// Rows to write in one transaction, keyed so a row changed many times in a batch is
/// written once (its last state), and the checkpoint they bring the store to.
#[derive(Debug, Default)]
pub struct Batch {
    /// Per table (index into [`TABLES`]): primary key → row.
    pub upserts: Vec<BTreeMap<Vec<Value>, Row>>,
    /// Per table: primary keys of rows that left the core.
    pub deletes: Vec<BTreeMap<Vec<Value>, ()>>,
    /// Rows to delete by a filter before the upserts: a set the batch writes whole (a
    /// user's open positions, their payment methods), so members that left it go.
    pub replaced: std::collections::BTreeSet<(&'static str, &'static str, Vec<Value>)>,
    pub records: u64,
    pub events: u64,
    pub checkpoint: Option<Checkpoint>,
}

impl Batch {
    pub fn new() -> Batch {
        Batch {
            upserts: TABLES.iter().map(|_| BTreeMap::new()).collect(),
            deletes: TABLES.iter().map(|_| BTreeMap::new()).collect(),
            ..Batch::default()
        }
    }

    pub fn upsert(&mut self, table: &Table, row: Row) {
        let at = table_index(table);
        let key = table.key_of(&row);
        self.deletes[at].remove(&key);
        self.upserts[at].insert(key, row);
    }

    pub fn delete(&mut self, table: &Table, key: Vec<Value>) {
        let at = table_index(table);
        self.upserts[at].remove(&key);
        self.deletes[at].insert(key, ());
    }

    /// Deletes the rows of `table` whose `owner_column` is `owner` and that match `filter`
    /// (SQL, `$1` bound to `owner`) before this batch's upserts; the caller then upserts the
    /// set's current members. Rows of that owner already pending in the batch are dropped
    /// too (they are either among the current members or gone).
    pub fn replace(
        &mut self,
        table: &'static Table,
        owner_column: &'static str,
        owner: Value,
        filter: &'static str,
    ) {
        let at = table_index(table);
        let column = table
            .index_of(owner_column)
            .expect("the owner column exists");
        self.upserts[at].retain(|_, row| row[column] != owner);
        self.replaced.insert((table.name, filter, vec![owner]));
    }

    pub fn rows(&self) -> usize {
        self.upserts.iter().map(BTreeMap::len).sum::<usize>()
            + self.deletes.iter().map(BTreeMap::len).sum::<usize>()
    }

    pub fn clear(&mut self) {
        self.upserts.iter_mut().for_each(BTreeMap::clear);
        self.deletes.iter_mut().for_each(BTreeMap::clear);
        self.replaced.clear();
        self.records = 0;
        self.events = 0;
        self.checkpoint = None;
    }
}

fn table_index(table: &Table) -> usize {
    TABLES
        .iter()
        .position(|t| std::ptr::eq(*t, table))
        .expect("a projected table")
}

/// The history store.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    location: String,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Connects (creating the SQLite file if needed) and brings the schema up to date.
    pub async fn open(location: &Location) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let describe = location.describe();
        let (url, backend) = match location {
            Location::Postgres(url) => (url.clone(), Backend::Postgres),
            Location::Sqlite(path) => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        Error::Config(format!("cannot create {}: {e}", parent.display()))
                    })?;
                }
                (
                    format!("sqlite://{}?mode=rwc", path.display()),
                    Backend::Sqlite,
                )
            }
        };
        let options = AnyPoolOptions::new()
            .max_connections(POOL_CONNECTIONS_MAX)
            .acquire_timeout(Duration::from_secs(10));
        let options = if backend == Backend::Sqlite {
            // WAL lets reads run beside the writer; FULL sync makes a committed checkpoint
            // durable, which journal retention relies on.
            options.after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::query("PRAGMA journal_mode = WAL")
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA synchronous = FULL")
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA busy_timeout = 10000")
                        .execute(&mut *conn)
                        .await?;
                    // A page cache of 64 MiB (SQLite's default is 2 MiB, which a batch of
                    // upserts into indexed tables overflows), and statement journals in
                    // memory.
                    sqlx::query("PRAGMA cache_size = -65536")
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA temp_store = MEMORY")
                        .execute(&mut *conn)
                        .await?;
                    Ok(())
                })
            })
        } else {
            options
        };
        let pool = options
            .connect(&url)
            .await
            .map_err(|e| Error::Connect(describe.clone(), e))?;
        let migrator = match backend {
            Backend::Postgres => &POSTGRES,
            Backend::Sqlite => &SQLITE,
        };
        migrator
            .run(&pool)
            .await
            .map_err(|e| Error::Migrate(describe.clone(), e))?;
        Ok(Store {
            pool,
            backend,
            location: describe,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn location(&self) -> &str {
        &self.location
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// A statement for this backend. Every statement here is built from the static table and
    /// column names of [`crate::schema`] and integers; every value goes in as a bind
    /// parameter, written `$n` in the order they are bound. SQLite gets them as anonymous
    /// `?`: sqlx looks each named parameter up by name, which SQLite answers by a scan of
    /// all of them — quadratic in a statement of thousands.
    fn audited(&self, sql: String) -> sqlx::AssertSqlSafe<String> {
        match self.backend {
            Backend::Postgres => sqlx::AssertSqlSafe(sql),
            Backend::Sqlite => {
                let mut out = String::with_capacity(sql.len());
                let mut chars = sql.chars().peekable();
                let mut expected = 1u64;
                while let Some(c) = chars.next() {
                    if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
                        let mut n = 0u64;
                        while let Some(d) = chars.peek().and_then(|d| d.to_digit(10)) {
                            n = n * 10 + u64::from(d);
                            chars.next();
                        }
                        debug_assert_eq!(n, expected, "parameters are numbered in order: {sql}");
                        expected += 1;
                        out.push('?');
                    } else {
                        out.push(c);
                    }
                }
                sqlx::AssertSqlSafe(out)
            }
        }
    }

    /// A time parameter `$n` as the column's type.
    fn time_in(&self, param: usize) -> String {
        match self.backend {
            Backend::Postgres => {
                format!("(TIMESTAMPTZ 'epoch' + ${param} * INTERVAL '1 microsecond')")
            }
            Backend::Sqlite => format!("${param}"),
        }
    }

    /// A time column read back as integer microseconds.
    fn time_out(&self, column: &str) -> String {
        match self.backend {
            Backend::Postgres => {
                format!("(EXTRACT(EPOCH FROM {column}) * 1000000)::BIGINT AS {column}")
            }
            Backend::Sqlite => column.to_owned(),
        }
    }

    pub async fn checkpoint(&self) -> Result<Option<Checkpoint>> {
        let sql = format!(
            "SELECT seq, {}, base_seq FROM {CHECKPOINT_TABLE} WHERE name = $1",
            self.time_out("record_at")
        );
        let row = sqlx::query(self.audited(sql))
            .bind(PROJECTION)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|row| Checkpoint {
            seq: row.get::<i64, _>(0) as u64,
            record_at: Timestamp(row.get::<i64, _>(1)),
            base_seq: row.get::<i64, _>(2) as u64,
        }))
    }

    /// Writes a batch and its checkpoint in one transaction.
    pub async fn write(&self, batch: &Batch) -> Result<()> {
        let checkpoint = batch
            .checkpoint
            .ok_or_else(|| Error::Config("a batch without a checkpoint".to_owned()))?;
        // The deliberately broken writer for `scripts/mutants`: the checkpoint commits on
        // its own before the rows, so a crash between the two loses the batch.
        #[cfg(feature = "broken-checkpoint-apart")]
        {
            let mut tx = self.pool.begin().await?;
            self.write_checkpoint(&mut tx, checkpoint).await?;
            tx.commit().await?;
        }
        let mut tx = self.pool.begin().await?;
        for (table, filter, params) in &batch.replaced {
            let sql = format!("DELETE FROM {table} WHERE {filter}");
            let mut query = sqlx::query(self.audited(sql));
            for value in params {
                query = bind(query, value);
            }
            query.execute(&mut *tx).await?;
        }
        for (table, deletes) in TABLES.iter().zip(&batch.deletes) {
            let keys: Vec<&Vec<Value>> = deletes.keys().collect();
            // One statement per chunk: `WHERE (k1, k2) IN (($1, $2), ($3, $4), …)`.
            for chunk in keys.chunks((PARAMS_PER_STATEMENT / table.key.len()).max(1)) {
                let mut sql = format!(
                    "DELETE FROM {} WHERE ({}) IN (",
                    table.name,
                    table.key.join(", ")
                );
                let mut param = 0;
                for (k, _) in chunk.iter().enumerate() {
                    sql.push_str(if k == 0 { "(" } else { ", (" });
                    for i in 0..table.key.len() {
                        if i > 0 {
                            sql.push_str(", ");
                        }
                        param += 1;
                        sql.push_str(&format!("${param}"));
                    }
                    sql.push(')');
                }
                sql.push(')');
                let mut query = sqlx::query(self.audited(sql));
                for key in chunk {
                    for value in key.iter() {
                        query = bind(query, value);
                    }
                }
                query.execute(&mut *tx).await?;
            }
        }
        for (table, rows) in TABLES.iter().zip(&batch.upserts) {
            let rows: Vec<&Row> = rows.values().collect();
            match self.backend {
                Backend::Postgres => {
                    for chunk in rows.chunks(ROWS_PER_ARRAY_STATEMENT) {
                        self.upsert_arrays(&mut tx, table, chunk).await?;
                    }
                }
                Backend::Sqlite => {
                    for chunk in rows.chunks((PARAMS_PER_STATEMENT / table.columns.len()).max(1)) {
                        self.upsert(&mut tx, table, chunk).await?;
                    }
                }
            }
        }
        #[cfg(not(feature = "broken-checkpoint-apart"))]
        self.write_checkpoint(&mut tx, checkpoint).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn write_checkpoint(
        &self,
        tx: &mut sqlx::Transaction<'_, Any>,
        checkpoint: Checkpoint,
    ) -> Result<()> {
        let sql = format!(
            "INSERT INTO {CHECKPOINT_TABLE} (name, seq, record_at, base_seq) VALUES ($1, $2, {}, $4) \
             ON CONFLICT (name) DO UPDATE SET seq = excluded.seq, record_at = excluded.record_at, \
             base_seq = excluded.base_seq",
            self.time_in(3)
        );
        sqlx::query(self.audited(sql))
            .bind(PROJECTION)
            .bind(checkpoint.seq as i64)
            .bind(checkpoint.record_at.0)
            .bind(checkpoint.base_seq as i64)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// The Postgres upsert: one parameter per column, each an array literal of the rows'
    /// values, unnested into rows — a statement of a few dozen bytes whatever the row count,
    /// where a `VALUES` list of thousands of rows spends Postgres's time parsing and
    /// planning it.
    async fn upsert_arrays(
        &self,
        tx: &mut sqlx::Transaction<'_, Any>,
        table: &Table,
        rows: &[&Row],
    ) -> Result<()> {
        let columns: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
        let arrays: Vec<String> = table
            .columns
            .iter()
            .enumerate()
            .map(|(i, column)| {
                let kind = match column.kind {
                    Kind::Int | Kind::Time => "BIGINT",
                    Kind::Text => "TEXT",
                    Kind::Bool => "BOOLEAN",
                };
                format!("${}::TEXT::{kind}[]", i + 1)
            })
            .collect();
        let selected: Vec<String> = table
            .columns
            .iter()
            .map(|c| match c.kind {
                Kind::Time => format!(
                    "TIMESTAMPTZ 'epoch' + u.{0} * INTERVAL '1 microsecond'",
                    c.name
                ),
                _ => format!("u.{}", c.name),
            })
            .collect();
        let sql = format!(
            "INSERT INTO {table} ({columns}) SELECT {selected} FROM UNNEST({arrays}) AS u({columns}){conflict}",
            table = table.name,
            columns = columns.join(", "),
            selected = selected.join(", "),
            arrays = arrays.join(", "),
            conflict = on_conflict(table),
        );
        let mut query = sqlx::query(self.audited(sql));
        for i in 0..table.columns.len() {
            query = query.bind(array_literal(rows.iter().map(|row| &row[i])));
        }
        query.execute(&mut **tx).await?;
        Ok(())
    }

    /// The SQLite upsert: a multi-row `VALUES` list (its `$n` become anonymous parameters,
    /// see [`Store::audited`]).
    async fn upsert(
        &self,
        tx: &mut sqlx::Transaction<'_, Any>,
        table: &Table,
        rows: &[&Row],
    ) -> Result<()> {
        let columns: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
        let mut sql = format!(
            "INSERT INTO {} ({}) VALUES ",
            table.name,
            columns.join(", ")
        );
        let mut param = 0;
        for (r, _) in rows.iter().enumerate() {
            sql.push_str(if r == 0 { "(" } else { ", (" });
            for (i, column) in table.columns.iter().enumerate() {
                if i > 0 {
                    sql.push_str(", ");
                }
                param += 1;
                if column.kind == Kind::Time {
                    sql.push_str(&self.time_in(param));
                } else {
                    sql.push_str(&format!("${param}"));
                }
            }
            sql.push(')');
        }
        sql.push_str(&on_conflict(table));
        let mut query = sqlx::query(self.audited(sql));
        for row in rows {
            for value in row.iter() {
                query = bind(query, value);
            }
        }
        query.execute(&mut **tx).await?;
        Ok(())
    }

    /// Empties every projected table and the checkpoint (for a rebuild).
    pub async fn clear(&self) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for table in TABLES {
            sqlx::query(self.audited(format!("DELETE FROM {}", table.name)))
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(self.audited(format!("DELETE FROM {CHECKPOINT_TABLE}")))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Rows of `table` matching `filter` (SQL with `$1…` parameters, empty for all), in
    /// `order`, at most `limit` after skipping `offset`. Time columns come back as integer
    /// microseconds on both backends.
    pub async fn select(
        &self,
        table: &Table,
        filter: &str,
        params: &[Value],
        order: &str,
        limit: u32,
        offset: u64,
    ) -> Result<Vec<Row>> {
        let columns: Vec<String> = table
            .columns
            .iter()
            .map(|c| match c.kind {
                Kind::Time => self.time_out(c.name),
                _ => c.name.to_owned(),
            })
            .collect();
        let mut sql = format!("SELECT {} FROM {}", columns.join(", "), table.name);
        if !filter.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&self.times_in_filter(filter, params));
        }
        if !order.is_empty() {
            sql.push_str(" ORDER BY ");
            sql.push_str(order);
        }
        sql.push_str(&format!(" LIMIT {limit} OFFSET {offset}"));
        let mut query = sqlx::query(self.audited(sql));
        for value in params {
            query = bind(query, value);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(|row| decode(table, row)).collect()
    }

    /// Rewrites each `$n` whose parameter is a time into the column's type.
    fn times_in_filter(&self, filter: &str, params: &[Value]) -> String {
        let mut out = String::with_capacity(filter.len());
        let mut chars = filter.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '$' || !chars.peek().is_some_and(char::is_ascii_digit) {
                out.push(c);
                continue;
            }
            let mut n = 0usize;
            while let Some(d) = chars.peek().and_then(|d| d.to_digit(10)) {
                n = n * 10 + d as usize;
                chars.next();
            }
            match params.get(n.wrapping_sub(1)) {
                Some(Value::Time(_)) => out.push_str(&self.time_in(n)),
                _ => out.push_str(&format!("${n}")),
            }
        }
        out
    }

    /// `COUNT(*)` of `table` rows matching `filter`.
    pub async fn count(&self, table: &Table, filter: &str, params: &[Value]) -> Result<u64> {
        let mut sql = format!("SELECT COUNT(*) FROM {}", table.name);
        if !filter.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&self.times_in_filter(filter, params));
        }
        let mut query = sqlx::query(self.audited(sql));
        for value in params {
            query = bind(query, value);
        }
        let row = query.fetch_one(&self.pool).await?;
        Ok(row.try_get::<i64, _>(0)? as u64)
    }

    /// Candles of one contract from `market_prices`: buckets of `bucket_us`, the newest
    /// `limit` of them (from `since` on, if given), oldest first. Each is (start, open, high,
    /// low, close, volume, notional); open and close are the first and last trade of the
    /// bucket.
    pub async fn candles(
        &self,
        outcome: u64,
        bucket_us: i64,
        since: Option<Timestamp>,
        limit: u32,
    ) -> Result<Vec<[i64; 7]>> {
        let us = match self.backend {
            Backend::Postgres => "(EXTRACT(EPOCH FROM time) * 1000000)::BIGINT",
            Backend::Sqlite => "time",
        };
        let since_filter = match since {
            Some(_) => format!(" AND time >= {}", self.time_in(3)),
            None => String::new(),
        };
        let sql = format!(
            "SELECT start, CAST(open AS BIGINT), CAST(MAX(price) AS BIGINT), \
               CAST(MIN(price) AS BIGINT), CAST(close AS BIGINT), CAST(SUM(volume) AS BIGINT), \
               CAST(SUM(notional) AS BIGINT) FROM ( \
               SELECT start, price, volume, notional, \
                 FIRST_VALUE(price) OVER w AS open, LAST_VALUE(price) OVER w AS close \
               FROM (SELECT {us} - ({us} % $1) AS start, trade_id, price, volume, notional \
                     FROM market_prices WHERE outcome_id = $2{since_filter}) AS p \
               WINDOW w AS (PARTITION BY start ORDER BY trade_id \
                            ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) \
             ) AS b GROUP BY start, open, close ORDER BY start DESC LIMIT {limit}"
        );
        let mut query = sqlx::query(self.audited(sql))
            .bind(bucket_us)
            .bind(outcome as i64);
        if let Some(since) = since {
            query = query.bind(since.0);
        }
        let rows = query.fetch_all(&self.pool).await?;
        let mut candles = rows
            .iter()
            .map(|row| {
                let mut out = [0i64; 7];
                for (i, slot) in out.iter_mut().enumerate() {
                    *slot = row.try_get::<i64, _>(i)?;
                }
                Ok(out)
            })
            .collect::<Result<Vec<_>>>()?;
        candles.reverse();
        Ok(candles)
    }
    /// Posts (thread, reply — 0 for the thread itself) whose searchable text has every
    /// word of `query`, best match first, that are not deleted and sit in a public
    /// community or one of `readable`, not in one of `banned` (and in `within`, if given);
    /// and how many match.
    /// SQLite searches its FTS5 index with Porter stemming, Postgres the English tsvector;
    /// `query` is reduced to at most [`SEARCH_WORDS_MAX`] words of letters and digits
    /// first, so no search syntax reaches either.
    pub async fn search_posts(
        &self,
        query: &str,
        (communities, banned): (&[u64], &[u64]),
        within: Option<u64>,
        limit: u32,
        offset: u64,
    ) -> Result<(Vec<(u64, u64)>, u64)> {
        let words: Vec<&str> = query
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .take(SEARCH_WORDS_MAX)
            .collect();
        if words.is_empty() {
            return Ok((Vec::new(), 0));
        }
        let (from, matched, text) = match self.backend {
            Backend::Sqlite => (
                "post_search JOIN post_contents c ON c.rowid = post_search.rowid",
                "post_search MATCH $1",
                words
                    .iter()
                    .map(|w| format!("\"{w}\""))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            Backend::Postgres => (
                "post_contents c",
                "to_tsvector('english', c.search_text) @@ plainto_tsquery('english', $1)",
                words.join(" "),
            ),
        };
        let mut filter =
            format!("{matched} AND NOT t.is_deleted AND (c.reply_id = 0 OR NOT r.is_deleted)");
        // Parameters after the query text ($1), numbered in order.
        let mut params: Vec<i64> = Vec::new();
        let mut in_list = |ids: &[u64]| {
            let list: Vec<String> = ids
                .iter()
                .map(|&id| {
                    params.push(id as i64);
                    format!("${}", params.len() + 1)
                })
                .collect();
            list.join(", ")
        };
        if communities.is_empty() {
            filter.push_str(" AND c.is_public");
        } else {
            let list = in_list(communities);
            filter.push_str(&format!(" AND (c.is_public OR c.community_id IN ({list}))"));
        }
        if !banned.is_empty() {
            let list = in_list(banned);
            filter.push_str(&format!(" AND c.community_id NOT IN ({list})"));
        }
        if let Some(within) = within {
            params.push(within as i64);
            filter.push_str(&format!(" AND c.community_id = ${}", params.len() + 1));
        }
        let joins = format!(
            "FROM {from} JOIN threads t ON t.id = c.thread_id \
             LEFT JOIN thread_replies r ON r.id = c.reply_id WHERE {filter}"
        );
        let rank = match self.backend {
            Backend::Sqlite => "bm25(post_search)".to_owned(),
            Backend::Postgres => {
                "ts_rank(to_tsvector('english', c.search_text), plainto_tsquery('english', $1)) DESC"
                    .to_owned()
            }
        };
        let sql = format!(
            "SELECT c.thread_id, c.reply_id {joins} ORDER BY {rank}, c.thread_id DESC, \
             c.reply_id LIMIT {limit} OFFSET {offset}"
        );
        let mut select = sqlx::query(self.audited(sql)).bind(text.clone());
        for &p in &params {
            select = select.bind(p);
        }
        let rows = select.fetch_all(&self.pool).await?;
        let hits = rows
            .iter()
            .map(|row| {
                let thread = row.try_get::<i64, _>(0)?;
                let reply = row.try_get::<i64, _>(1)?;
                Ok((thread as u64, reply as u64))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut count = sqlx::query(self.audited(format!("SELECT COUNT(*) {joins}"))).bind(text);
        for &p in &params {
            count = count.bind(p);
        }
        let total = count.fetch_one(&self.pool).await?.try_get::<i64, _>(0)?;
        Ok((hits, total as u64))
    }
}

/// ` ON CONFLICT (key) DO UPDATE SET c = excluded.c, …`: an upsert's last state wins.
fn on_conflict(table: &Table) -> String {
    let updated: Vec<String> = table
        .columns
        .iter()
        .filter(|c| !table.key.contains(&c.name))
        .map(|c| format!("{0} = excluded.{0}", c.name))
        .collect();
    let action = if updated.is_empty() {
        "DO NOTHING".to_owned()
    } else {
        format!("DO UPDATE SET {}", updated.join(", "))
    };
    format!(" ON CONFLICT ({}) {action}", table.key.join(", "))
}

/// A Postgres array literal of `values`: `{1,NULL,3}`, `{"a","b \"c\""}`, `{t,f}`.
fn array_literal<'a>(values: impl Iterator<Item = &'a Value>) -> String {
    let mut out = String::from("{");
    for (i, value) in values.enumerate() {
        if i > 0 {
            out.push(',');
        }
        match value {
            Value::Int(None) | Value::Time(None) | Value::Text(None) | Value::Bool(None) => {
                out.push_str("NULL")
            }
            Value::Int(Some(v)) | Value::Time(Some(v)) => out.push_str(&v.to_string()),
            Value::Bool(Some(b)) => out.push(if *b { 't' } else { 'f' }),
            Value::Text(Some(text)) => {
                out.push('"');
                for c in text.chars() {
                    if c == '"' || c == '\\' {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out.push('"');
            }
        }
    }
    out.push('}');
    out
}

fn bind<'q>(
    query: Query<'q, Any, sqlx::any::AnyArguments>,
    value: &Value,
) -> Query<'q, Any, sqlx::any::AnyArguments> {
    match value {
        Value::Int(v) | Value::Time(v) => query.bind(*v),
        Value::Text(v) => query.bind(v.clone()),
        Value::Bool(v) => query.bind(*v),
    }
}

fn decode(table: &Table, row: &AnyRow) -> Result<Row> {
    table
        .columns
        .iter()
        .enumerate()
        .map(|(i, column)| {
            Ok(match column.kind {
                Kind::Int => Value::Int(row.try_get::<Option<i64>, _>(i)?),
                Kind::Time => Value::Time(row.try_get::<Option<i64>, _>(i)?),
                Kind::Text => Value::Text(row.try_get::<Option<String>, _>(i)?),
                // SQLite keeps booleans as integers (sqlx's `Any` driver reads no SQLite
                // BOOLEAN), Postgres as BOOLEAN.
                Kind::Bool => Value::Bool(match row.try_get::<Option<bool>, _>(i) {
                    Ok(v) => v,
                    Err(_) => row.try_get::<Option<i64>, _>(i)?.map(|v| v != 0),
                }),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_literals_quote_and_escape() {
        let values = [
            Value::Text(Some(r#"a "quoted" \ back{slash},"#.to_owned())),
            Value::Text(None),
            Value::Text(Some("NULL".to_owned())),
        ];
        assert_eq!(
            array_literal(values.iter()),
            r#"{"a \"quoted\" \\ back{slash},",NULL,"NULL"}"#
        );
        let values = [
            Value::Int(Some(-5)),
            Value::Int(None),
            Value::Bool(Some(true)),
        ];
        assert_eq!(array_literal(values.iter()), "{-5,NULL,t}");
    }

    #[test]
    fn urls_are_redacted_and_checked() {
        assert_eq!(
            redact("postgres://betbet:s3cret@db:5432/history"),
            "postgres://betbet:***@db:5432/history"
        );
        assert_eq!(
            redact("postgres://db:5432/history"),
            "postgres://db:5432/history"
        );
        let dir = Path::new("/data");
        assert_eq!(
            Location::new(None, dir).unwrap(),
            Location::Sqlite(PathBuf::from("/data/history.sqlite"))
        );
        assert!(matches!(
            Location::new(Some("postgresql://x/y"), dir).unwrap(),
            Location::Postgres(_)
        ));
        assert!(Location::new(Some("mysql://x/y"), dir).is_err());
    }
}
