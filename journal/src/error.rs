//! Operational errors of the journal.
//!
//! Every failure a caller can meet at run time is one variant of [`JournalError`]: I/O with the
//! path it concerns, corruption with the file, byte offset and sequence number, a directory held
//! by another process, a journal that stopped after a failed sync, no space for a new segment, and
//! requests outside the journal's limits. Broken invariants are not errors: they are `assert!`s.

use std::io;

/// The result type of every fallible journal operation.
pub type Result<T, E = JournalError> = std::result::Result<T, E>;

/// An operational error of the journal.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// An I/O call failed; `path` names the file or directory it concerned.
    #[error("journal I/O error on {path}: {source}")]
    Io {
        /// The file or directory the call concerned.
        path: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// Stored bytes are damaged in a way that may have lost an acknowledged record, so the
    /// journal refuses to go on. An operator has to look at `file` at byte `offset`.
    #[error("journal corrupt: {file} at byte offset {offset}, seq {seq}: {reason}")]
    Corrupt {
        /// The file holding the damaged bytes.
        file: String,
        /// Byte offset of the damaged record (or segment header) in `file`.
        offset: u64,
        /// Sequence number of the damaged record.
        seq: u64,
        /// What is wrong and why it cannot be a torn, unacknowledged tail.
        reason: String,
    },
    /// Another process (or another handle in this one) holds the directory's lock file.
    #[error("journal directory already in use: {dir}")]
    Locked {
        /// The journal directory.
        dir: String,
    },
    /// A sync failed earlier; the journal accepts no more writes because the page cache can no
    /// longer be trusted to reach the disk (see PostgreSQL's "fsyncgate").
    #[error("journal has failed and accepts no more writes: {reason}")]
    Failed {
        /// The error that stopped the journal.
        reason: String,
    },
    /// The file system had no room for a new file of `bytes` bytes.
    #[error("no space left to create journal file {path} ({bytes} bytes)")]
    NoSpace {
        /// The file that could not be created.
        path: String,
        /// Its size.
        bytes: u64,
    },
    /// The payload is larger than a record may be.
    #[error("journal record of {len} bytes exceeds the maximum of {max} bytes")]
    RecordTooLarge {
        /// The payload length asked for.
        len: usize,
        /// The largest payload this journal accepts.
        max: usize,
    },
    /// Records carry at least one byte, because a zero length word marks the end of a segment.
    #[error("journal records must not be empty")]
    EmptyRecord,
    /// The options passed to open are outside the journal's limits.
    #[error("invalid journal options: {0}")]
    InvalidOptions(String),
    /// The records asked for were removed by `prune`.
    #[error("journal records before seq {first_available} were pruned (asked for seq {requested})")]
    Pruned {
        /// The first sequence number asked for.
        requested: u64,
        /// The first sequence number still stored.
        first_available: u64,
    },
    /// A snapshot cannot cover records that were never appended.
    #[error("snapshot seq {seq} is beyond the last appended seq {last_seq}")]
    SnapshotAhead {
        /// The snapshot's sequence number.
        seq: u64,
        /// The last appended sequence number.
        last_seq: u64,
    },
    /// The snapshot is larger than the journal stores.
    #[error("snapshot of {len} bytes exceeds the maximum of {max} bytes")]
    SnapshotTooLarge {
        /// The snapshot length asked for.
        len: u64,
        /// The largest snapshot this journal stores.
        max: u64,
    },
    /// A retained snapshot read back later no longer verifies.
    #[error("snapshot at seq {seq} is invalid: {reason}")]
    BadSnapshot {
        /// The snapshot's sequence number.
        seq: u64,
        /// What failed.
        reason: String,
    },
}

impl JournalError {
    /// Wraps an I/O error with the path it concerned.
    pub(crate) fn io(path: impl Into<String>, source: io::Error) -> Self {
        JournalError::Io {
            path: path.into(),
            source,
        }
    }
}
