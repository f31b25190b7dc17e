//! BetBet write-ahead journal: the core's durable, ordered log of commands.
//!
//! Every command is journaled before its result is acknowledged, and recovery is "newest snapshot
//! plus replay of the records after it". This crate makes that safe and fast: appends are a
//! `memcpy` into a mapped, preallocated segment plus one CRC pass; durability is group commit
//! (one `msync`/`fdatasync` covers every record appended since the last); a checksum chain and a
//! *durable hint* in every record let recovery tell a torn, never-acknowledged tail (truncate it)
//! from damage to acknowledged data (refuse to start, naming file, offset and seq). A failed sync
//! stops the journal for good. Storage sits behind [`Storage`], with a real file backend
//! ([`FileStorage`]) and a simulated disk ([`SimStorage`]) whose crash images drive the
//! power-loss tests.
//!
//! # Guarantees
//!
//! - A record counts as durable only after a sync covering it returned; [`Journal::sync`],
//!   [`DurableWatch::wait_durable`] and [`SharedJournal::append_durable`] never report a record
//!   durable before that.
//! - After a crash, every record that was durable is recovered byte for byte; the recovered log
//!   is a contiguous prefix `first_seq..=last_seq` of what was appended, never garbage.
//! - Bytes that fail verification are only ever dropped when no evidence says they were durable;
//!   otherwise open fails with [`JournalError::Corrupt`].
//! - One process at a time: `journal.lock` in the directory is held with an exclusive `flock`.
//!
//! # On-disk format (version 1, little-endian)
//!
//! A journal directory holds `journal.lock`, segment files `segment-{index:020}.wal` and
//! snapshot files `snapshot-{seq:020}.snap` (written via `….snap.tmp`, then renamed).
//!
//! **Segment file**: created at its full size with `posix_fallocate` (zero-filled) and never
//! shrunk. A 64-byte header, then 8-byte aligned records up to the first zero length word:
//!
//! | bytes  | field                                                              |
//! |--------|--------------------------------------------------------------------|
//! | 0..8   | magic `BBJSEG\r\n`                                                 |
//! | 8..12  | format version (1)                                                 |
//! | 12..16 | reserved, zero                                                     |
//! | 16..24 | segment index (matches the file name)                              |
//! | 24..32 | seq of the first record in the segment                             |
//! | 32..40 | segment length in bytes                                            |
//! | 40..44 | chain checksum preceding the first record (anchors pruned journals)|
//! | 44..60 | reserved, zero                                                     |
//! | 60..64 | crc32c of bytes 0..60                                              |
//!
//! **Record**: a 32-byte header, the payload, zero padding to a multiple of 8:
//!
//! | bytes  | field                                                                   |
//! |--------|-------------------------------------------------------------------------|
//! | 0..4   | payload length, 1..=[`RECORD_PAYLOAD_MAX`] (0 = no more records here)   |
//! | 4..8   | header crc: crc32c(length ‖ seq ‖ durable hint ‖ reserved), chain-free   |
//! | 8..16  | seq, contiguous from 1 across segments                                  |
//! | 16..24 | durable hint: highest seq known durable when this record was written    |
//! | 24..28 | chain crc: crc32c(previous chain crc ‖ bytes 0..24 ‖ payload)           |
//! | 28..32 | reserved, zero                                                          |
//!
//! A record never spans segments: when it does not fit, the writer starts the next segment,
//! whose header carries the current chain value. The header crc lets a scanner recognise an
//! intact header at any aligned position without knowing the chain; the chain crc ties each
//! record to all before it.
//!
//! **Snapshot file**: a 40-byte header — magic `BBJSNAP\n`, version (u32), crc32c of the state
//! (u32), seq (u64), state length (u64), reserved (u32), crc32c of header bytes 0..36 (u32) —
//! then the state bytes. Open uses the newest valid snapshot and reports invalid ones.
//!
//! # Recovery
//!
//! Open scans every segment and verifies segment headers, header crcs, seq contiguity and the
//! chain; [`Recovery`] reports what it found. At the first bad or missing record K
//! (file F, offset O) it scans the rest of F and all later segments for intact headers; one with
//! a durable hint ≥ K (or a snapshot covering K) proves K was durable, and open fails with
//! [`JournalError::Corrupt`] naming F, O and K. Otherwise the tail is zeroed, later segments are
//! removed, the [`TruncationReport`] says what went, and appends resume at K.

mod error;
mod format;
mod journal;
mod reader;
mod recovery;
mod shared;
mod storage;
mod watch;

#[doc(hidden)]
pub mod stress;

pub use error::{JournalError, Result};
pub use format::{
    FORMAT_VERSION, PAGE_BYTES, RECORD_ALIGN, RECORD_HEADER_BYTES, RECORD_PAYLOAD_MAX,
    RecordHeader, SEGMENT_BYTES_MAX, SEGMENT_BYTES_MIN, SEGMENT_HEADER_BYTES, SNAPSHOT_BYTES_MAX,
    SNAPSHOT_HEADER_BYTES, SegmentHeader, record_bytes, segment_name, snapshot_name,
};
pub use journal::{
    Durability, Health, Journal, Options, PENDING_SEGMENTS_MAX, SNAPSHOTS_RETAINED_MAX,
};
pub use reader::Reader;

/// The last seq written in the journal directory `dir`, read without the writer's lock
/// (for status tools while a server runs): the newest segment's records are walked while
/// their headers are intact. It is a reading of a moving target, not a recovery: the
/// checksum chain is not verified.
pub fn peek_last_seq(dir: impl AsRef<std::path::Path>) -> Result<u64> {
    let dir = dir.as_ref();
    let mut newest: Option<(u64, std::path::PathBuf)> = None;
    let entries =
        std::fs::read_dir(dir).map_err(|e| JournalError::io(dir.display().to_string(), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| JournalError::io(dir.display().to_string(), e))?;
        if let Some(index) = entry
            .file_name()
            .to_str()
            .and_then(format::parse_segment_name)
            && newest.as_ref().is_none_or(|(n, _)| index > *n)
        {
            newest = Some((index, entry.path()));
        }
    }
    let Some((_, path)) = newest else {
        return Ok(0);
    };
    let bytes =
        std::fs::read(&path).map_err(|e| JournalError::io(path.display().to_string(), e))?;
    if bytes.len() < SEGMENT_HEADER_BYTES {
        return Ok(0);
    }
    // The first record's seq, minus one, is where an empty segment stands.
    let mut last = u64::from_le_bytes(bytes[24..32].try_into().expect("8 bytes")).saturating_sub(1);
    let mut offset = SEGMENT_HEADER_BYTES;
    while offset + RECORD_HEADER_BYTES <= bytes.len() {
        let header = RecordHeader::decode_raw(&bytes[offset..]);
        if !header.is_intact() || header.seq != last + 1 {
            break;
        }
        last = header.seq;
        offset += header.record_bytes();
    }
    Ok(last)
}
pub use recovery::{Recovery, SkippedSnapshot, Snapshot, TruncationReport};
pub use shared::SharedJournal;
pub use storage::{
    FileHandle, FileSegment, FileStorage, FileSyncer, FileView, SegmentView, SegmentWrite,
    SimHandle, SimSegment, SimStorage, SimSyncer, SimView, Storage, StorageHandle, Syncer,
};
pub use watch::{DurableWatch, Watermark};
