//! BetBet's history store: every change the core makes, kept beyond the core's bounded
//! windows, in Postgres (production, `--database-url postgres://…`) or an embedded SQLite
//! file (the default, `DATA_DIR/history.sqlite`).
//!
//! How it works (ARCHITECTURE.md, "History store"):
//! - [`follow`]: a thread tails the journal's durable records through a replica of the
//!   engine; [`project`] turns each record into rows, read from the replica's query answers;
//!   a task writes each batch and the checkpoint (the last record applied) in one
//!   transaction, so a restart — or a SIGKILL mid-batch — resumes after the checkpoint with
//!   no duplicate and no gap.
//! - The core's journal keeps every record the store has not applied (the retention floor),
//!   and the snapshot the replica resumes from.
//! - [`store`]: the two backends behind one pool and one set of statements; [`schema`]: the
//!   tables, after the product spec's.

pub mod chat;
pub mod follow;
pub mod posts;
pub mod project;
pub mod schema;
pub mod store;

pub use follow::{Follower, Progress};
pub use store::{Backend, Batch, Checkpoint, Location, Store};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    #[error("{0}")]
    Config(String),
    #[error("cannot connect to the history store {0}: {1}")]
    Connect(String, #[source] sqlx::Error),
    #[error("cannot migrate the history store {0}: {1}")]
    Migrate(String, #[source] sqlx::migrate::MigrateError),
    #[error("history store: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("journal: {0}")]
    Journal(#[from] betbet_journal::JournalError),
    #[error("journal record {seq} is not a command: {reason}")]
    Record { seq: u64, reason: String },
    #[error("snapshot at seq {seq} is unreadable: {reason}")]
    Snapshot { seq: u64, reason: String },
    #[error("expected journal record {expected}, read {found}")]
    Gap { expected: u64, found: u64 },
    #[error(
        "the history store has applied records up to {applied} but the journal ends at {journal}: the store belongs to another data directory"
    )]
    Behind { applied: u64, journal: u64 },
    #[error("cannot follow the journal: {0}")]
    Follow(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
