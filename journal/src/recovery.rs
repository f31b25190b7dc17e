//! Recovery on open: find the newest valid snapshot, scan and verify the segments, and decide
//! whether a damaged record is a torn tail (truncate it) or a lost durable record (refuse).
//!
//! The rule that keeps acknowledged records safe: let K be the first record that is missing or
//! invalid, at byte O of file F. If any intact record header after O (in F or in a later segment,
//! found by checking every 8-byte aligned position) carries a durable hint ≥ K, then K was once
//! durable — a sync covering it returned before that later record was written — so K's damage is
//! corruption of acknowledged data and opening fails, naming F, O and K. A valid snapshot covering
//! K is the same kind of evidence. Otherwise K and everything after it were never acknowledged:
//! the bytes after O are zeroed, later segments are dropped, and the report says what went.
//! Everything kept is synced before open returns, so records that survived a process kill in the
//! page cache are durable before new records (which trust them) are acknowledged.

use crate::error::{JournalError, Result};
use crate::format::{
    PAGE_BYTES, RECORD_ALIGN, RECORD_HEADER_BYTES, RECORD_PAYLOAD_MAX, RecordHeader,
    SEGMENT_BYTES_MAX, SEGMENT_BYTES_MIN, SEGMENT_HEADER_BYTES, SNAPSHOT_BYTES_MAX, SegmentHeader,
    TEMP_SUFFIX, chain_crc, decode_snapshot, parse_segment_name, parse_snapshot_name, segment_name,
};
use crate::storage::{SegmentView, SegmentWrite, Storage, StorageHandle, Syncer};
use crate::watch::SegmentEntry;

/// Whether recovery verifies the chain checksum of every record. Only the deliberately broken
/// build (`broken-skip-verify`, used to prove the corruption tests can fail) turns it off.
#[cfg(not(feature = "broken-skip-verify"))]
const VERIFY_CHAIN: bool = true;
#[cfg(feature = "broken-skip-verify")]
const VERIFY_CHAIN: bool = false;

/// State loaded from the newest valid snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The last sequence number the state covers.
    pub seq: u64,
    /// The state bytes, as passed to `write_snapshot`.
    pub bytes: Vec<u8>,
}

/// A snapshot file that open could not use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedSnapshot {
    /// The file.
    pub file: String,
    /// Why it was skipped.
    pub reason: String,
}

/// What was cut off the end of the journal because it was never acknowledged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TruncationReport {
    /// The segment the journal now ends in (or the first dropped one, if none is left).
    pub file: String,
    /// Byte offset in `file` where the dropped bytes started.
    pub offset: u64,
    /// The first sequence number not recovered; appends resume here.
    pub seq: u64,
    /// Why the record at `offset` was not accepted.
    pub reason: String,
    /// Bytes zeroed in `file` after `offset`.
    pub bytes_zeroed: u64,
    /// Intact-looking record headers that were dropped with the tail.
    pub intact_headers_dropped: u64,
    /// Later segment files that were removed.
    pub segments_dropped: Vec<String>,
}

/// What open found and did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovery {
    /// The newest valid snapshot, if any; replay records after `snapshot.seq`.
    pub snapshot: Option<Snapshot>,
    /// Newer (or older) snapshot files that were invalid and skipped.
    pub snapshots_skipped: Vec<SkippedSnapshot>,
    /// The first sequence number stored in the journal.
    pub first_seq: u64,
    /// The last valid sequence number; appends continue after it.
    pub last_seq: u64,
    /// Segment files kept.
    pub segments: usize,
    /// Records verified by the scan.
    pub records: u64,
    /// Bytes read and verified by the scan.
    pub bytes_scanned: u64,
    /// Set when a torn tail was cut off.
    pub truncated: Option<TruncationReport>,
}

/// Everything `Journal::open` needs to resume.
pub(crate) struct Recovered<S: Storage> {
    pub tail: S::Segment,
    pub tail_index: u64,
    pub write_off: usize,
    pub chain: u32,
    pub last_seq: u64,
    pub first_seq: u64,
    pub segments: Vec<SegmentEntry>,
    /// Valid snapshot seqs, oldest first.
    pub snapshots: Vec<u64>,
    /// Invalid snapshot files, removed once a newer snapshot is written.
    pub stale_snapshots: Vec<String>,
    pub report: Recovery,
}

/// How a walk over one segment's records ended.
struct Walk {
    /// Offset just after the last valid record.
    end: usize,
    next_seq: u64,
    chain: u32,
    records: u64,
    /// `None` when the records ended cleanly (zero length word or no room for a header).
    invalid: Option<&'static str>,
}

/// Walks the records of a segment from `off`, verifying each one; the hot loop of recovery.
fn walk_records(bytes: &[u8], mut off: usize, mut seq: u64, mut chain: u32) -> Walk {
    let len = bytes.len();
    let mut records = 0;
    let invalid = loop {
        if len - off < RECORD_HEADER_BYTES {
            break None;
        }
        let head = &bytes[off..off + RECORD_HEADER_BYTES];
        let header = RecordHeader::decode_raw(head);
        if header.payload_len == 0 {
            break None;
        }
        let size = header.record_bytes();
        if header.payload_len as usize > RECORD_PAYLOAD_MAX || size > len - off {
            break Some("record length out of range");
        }
        if !header.is_intact() {
            break Some("record header checksum mismatch");
        }
        if header.seq != seq {
            break Some("record sequence number out of order");
        }
        let payload = &bytes
            [off + RECORD_HEADER_BYTES..off + RECORD_HEADER_BYTES + header.payload_len as usize];
        if VERIFY_CHAIN && chain_crc(chain, &head[..24], payload) != header.chain_crc {
            break Some("record chain checksum mismatch");
        }
        chain = header.chain_crc;
        seq += 1;
        off += size;
        records += 1;
    };
    Walk {
        end: off,
        next_seq: seq,
        chain,
        records,
        invalid,
    }
}

/// Result of scanning the bytes after the end of the valid log.
#[derive(Default)]
struct TailScan {
    /// An intact header with a durable hint at or past the threshold: (offset, seq, hint).
    evidence: Option<(usize, u64, u64)>,
    intact_headers: u64,
    /// End of the last nonzero bytes seen (at least `from`).
    nonzero_end: usize,
}

#[inline]
fn is_zero(block: &[u8]) -> bool {
    block.chunks_exact(8).fold(0u64, |acc, word| {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        acc | u64::from_ne_bytes(w)
    }) == 0
}

/// Looks at every 8-byte aligned position from `from` for intact record headers, skipping over
/// the payload of each one found (a payload may itself contain bytes that look like a header).
fn scan_tail(bytes: &[u8], from: usize, threshold: u64) -> TailScan {
    const BLOCK: usize = 512;
    let len = bytes.len();
    let mut scan = TailScan {
        nonzero_end: from,
        ..TailScan::default()
    };
    let mut p = from.next_multiple_of(RECORD_ALIGN);
    while len.saturating_sub(p) >= RECORD_ALIGN {
        if p.is_multiple_of(BLOCK) && len - p >= BLOCK && is_zero(&bytes[p..p + BLOCK]) {
            p += BLOCK;
            continue;
        }
        if is_zero(&bytes[p..p + RECORD_ALIGN]) {
            p += RECORD_ALIGN;
            continue;
        }
        scan.nonzero_end = scan.nonzero_end.max(p + RECORD_ALIGN);
        if len - p >= RECORD_HEADER_BYTES {
            let header = RecordHeader::decode_raw(&bytes[p..p + RECORD_HEADER_BYTES]);
            if header.is_intact() && header.record_bytes() <= len - p {
                scan.intact_headers += 1;
                if header.durable_hint >= threshold {
                    scan.evidence = Some((p, header.seq, header.durable_hint));
                    return scan;
                }
                scan.nonzero_end = scan.nonzero_end.max(p + header.record_bytes());
                p += header.record_bytes();
                continue;
            }
        }
        p += RECORD_ALIGN;
    }
    if p < len && !is_zero_bytes(&bytes[p..]) {
        scan.nonzero_end = len;
    }
    scan
}

fn is_zero_bytes(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| b == 0)
}

/// Checks a segment header against the file it is in and the segment before it.
fn check_header(
    bytes: &[u8],
    index: u64,
    prev: Option<(u64, u64, u32)>,
) -> Result<SegmentHeader, &'static str> {
    let header = SegmentHeader::decode(bytes)?;
    if header.index != index {
        return Err("segment header index does not match its file name");
    }
    if header.segment_bytes != bytes.len() as u64
        || !header.segment_bytes.is_multiple_of(PAGE_BYTES as u64)
        || !(SEGMENT_BYTES_MIN..=SEGMENT_BYTES_MAX).contains(&header.segment_bytes)
    {
        return Err("segment length does not match its header");
    }
    if let Some((prev_index, next_seq, chain)) = prev {
        if index != prev_index + 1 {
            return Err("segment index gap");
        }
        if header.first_seq != next_seq {
            return Err("segment first seq does not follow the previous segment");
        }
        if header.prev_chain != chain {
            return Err("segment chain anchor does not match the previous segment");
        }
    }
    Ok(header)
}

/// Zero bytes used to wipe a torn tail.
static ZEROS: [u8; PAGE_BYTES] = [0; PAGE_BYTES];

pub(crate) fn recover<S: Storage>(storage: &mut S, segment_bytes: u64) -> Result<Recovered<S>> {
    let names = storage.list()?;
    let mut segments: Vec<(u64, String)> = Vec::new();
    let mut snapshot_files: Vec<(u64, String)> = Vec::new();
    for name in names {
        if let Some(index) = parse_segment_name(&name) {
            segments.push((index, name));
        } else if let Some(seq) = parse_snapshot_name(&name) {
            snapshot_files.push((seq, name));
        } else if name.starts_with("snapshot-") && name.ends_with(TEMP_SUFFIX) {
            // A snapshot that was being written when the process stopped; it was never renamed
            // into place, so nothing depends on it.
            storage.remove(&name)?;
        }
    }
    segments.sort_unstable();
    snapshot_files.sort_unstable();

    // Snapshots, newest first: the newest valid one is the state to start from; invalid ones are
    // reported and skipped, so an older one is the fallback.
    let mut snapshot: Option<Snapshot> = None;
    let mut snapshots = Vec::new();
    let mut skipped = Vec::new();
    let mut stale_snapshots = Vec::new();
    for (seq, name) in snapshot_files.iter().rev() {
        let file = storage.read_file(name)?;
        let checked = if file.len() as u64 > SNAPSHOT_BYTES_MAX + 64 {
            Err("snapshot larger than the maximum")
        } else {
            decode_snapshot(&file).and_then(|(header_seq, state)| {
                if header_seq == *seq {
                    Ok(state)
                } else {
                    Err("snapshot seq does not match its file name")
                }
            })
        };
        match checked {
            Ok(state) => {
                snapshots.push(*seq);
                if snapshot.is_none() {
                    snapshot = Some(Snapshot {
                        seq: *seq,
                        bytes: state.to_vec(),
                    });
                }
            }
            Err(reason) => {
                skipped.push(SkippedSnapshot {
                    file: storage.describe(name),
                    reason: reason.to_owned(),
                });
                stale_snapshots.push(name.clone());
            }
        }
    }
    snapshots.reverse();
    let snapshot_max = snapshots.last().copied().unwrap_or(0);
    let snapshot_used = snapshot.as_ref().map_or(0, |s| s.seq);

    // Walk the segments in order until the first problem.
    let handle = storage.handle();
    let mut kept: Vec<SegmentEntry> = Vec::new();
    let mut tail_end = 0usize;
    let mut next_seq = 1u64;
    let mut chain = 0u32;
    let mut bytes_scanned = 0u64;
    let mut records = 0u64;
    let mut invalid: Option<&'static str> = None;
    for (index, name) in &segments {
        let view = handle.open_read(name)?;
        let prev = kept.last().map(|entry| (entry.index, next_seq, chain));
        let outcome = view.read_at(0, view.len(), |bytes| {
            let header = check_header(bytes, *index, prev)?;
            Ok::<_, &'static str>((
                header,
                walk_records(
                    bytes,
                    SEGMENT_HEADER_BYTES,
                    header.first_seq,
                    header.prev_chain,
                ),
            ))
        });
        match outcome {
            Err(reason) => {
                invalid = Some(reason);
                break;
            }
            Ok((header, walk)) => {
                kept.push(SegmentEntry {
                    index: *index,
                    first_seq: header.first_seq,
                });
                bytes_scanned += walk.end as u64;
                tail_end = walk.end;
                next_seq = walk.next_seq;
                chain = walk.chain;
                records += walk.records;
                if let Some(reason) = walk.invalid {
                    invalid = Some(reason);
                    break;
                }
            }
        }
    }
    let cut_seq = next_seq;
    let cut_pos = kept.len().checked_sub(1);
    let cut_file = match cut_pos {
        Some(pos) => storage.describe(&segments[pos].1),
        None => segments.first().map_or_else(
            || storage.describe(&segment_name(0)),
            |s| storage.describe(&s.1),
        ),
    };
    let cut_offset = if cut_pos.is_some() { tail_end } else { 0 };

    // Look past the cut for evidence that record `cut_seq` was durable.
    let mut intact_dropped = 0u64;
    let mut nonzero_end = cut_offset;
    let first_dropped = kept.len();
    let refuse = |reason: String| JournalError::Corrupt {
        file: cut_file.clone(),
        offset: cut_offset as u64,
        seq: cut_seq,
        reason,
    };
    let describe_invalid = invalid.unwrap_or("missing record after the end of the log");
    if let Some(pos) = cut_pos {
        let view = handle.open_read(&segments[pos].1)?;
        let scan = view.read_at(0, view.len(), |bytes| scan_tail(bytes, cut_offset, cut_seq));
        bytes_scanned += (view.len() - cut_offset) as u64;
        if let Some((offset, seq, hint)) = scan.evidence {
            return Err(refuse(format!(
                "{describe_invalid}; the intact record seq {seq} at byte offset {offset} of the same file \
                 was written when seq {hint} was already durable"
            )));
        }
        intact_dropped += scan.intact_headers;
        nonzero_end = scan.nonzero_end;
    }
    for (_, name) in &segments[first_dropped..] {
        let view = handle.open_read(name)?;
        let from = SEGMENT_HEADER_BYTES.min(view.len());
        let scan = view.read_at(0, view.len(), |bytes| scan_tail(bytes, from, cut_seq));
        bytes_scanned += (view.len() - from) as u64;
        if let Some((offset, seq, hint)) = scan.evidence {
            return Err(refuse(format!(
                "{describe_invalid}; the intact record seq {seq} at byte offset {offset} of {} was \
                 written when seq {hint} was already durable",
                handle.describe(name)
            )));
        }
        intact_dropped += scan.intact_headers;
    }
    if cut_seq <= snapshot_max {
        return Err(refuse(format!(
            "{describe_invalid}; the snapshot at seq {snapshot_max} shows records up to it were durable"
        )));
    }
    let first_seq = kept.first().map_or(1, |entry| entry.first_seq);
    if first_seq > snapshot_used + 1 {
        return Err(JournalError::Corrupt {
            file: storage.describe(&segments[0].1),
            offset: 0,
            seq: snapshot_used + 1,
            reason: format!(
                "the journal starts at seq {first_seq} but the snapshot in use covers only up to seq {snapshot_used}"
            ),
        });
    }

    // Nothing after the cut was ever acknowledged: cut it off, durably.
    let dropped: Vec<String> = segments[first_dropped..]
        .iter()
        .map(|(_, name)| name.clone())
        .collect();
    let truncated = if invalid.is_some() || nonzero_end > cut_offset || !dropped.is_empty() {
        Some(TruncationReport {
            file: cut_file.clone(),
            offset: cut_offset as u64,
            seq: cut_seq,
            reason: describe_invalid.to_owned(),
            bytes_zeroed: (nonzero_end - cut_offset) as u64,
            intact_headers_dropped: intact_dropped,
            segments_dropped: dropped.iter().map(|name| storage.describe(name)).collect(),
        })
    } else {
        None
    };

    let dir = storage.dir_syncer();
    // Dropped segments go first, durably, so a segment created later under the same name can
    // never be confused with a leftover.
    for name in &dropped {
        storage.remove(name)?;
    }
    if !dropped.is_empty() {
        dir.sync_all()?;
    }
    let (tail, tail_index, write_off) = match kept.last() {
        Some(last) => {
            let mut tail = storage.open_write(&segment_name(last.index))?;
            let mut at = cut_offset;
            while at < nonzero_end {
                let n = (nonzero_end - at).min(ZEROS.len());
                tail.write(at, &ZEROS[..n]);
                at += n;
            }
            (tail, last.index, cut_offset)
        }
        None => {
            // No segment is readable (a journal whose first segment was never synced): start
            // over at seq 1.
            let mut tail = storage.create(&segment_name(0), segment_bytes)?;
            let header = SegmentHeader {
                index: 0,
                first_seq: 1,
                segment_bytes,
                prev_chain: 0,
            };
            tail.write(0, &header.encode());
            kept.push(SegmentEntry {
                index: 0,
                first_seq: 1,
            });
            (tail, 0, SEGMENT_HEADER_BYTES)
        }
    };
    // Make everything kept durable: after a process kill, records may sit only in the page cache,
    // and the records appended from now on carry a durable hint that vouches for them.
    for entry in &kept[..kept.len() - 1] {
        storage
            .open_write(&segment_name(entry.index))?
            .syncer()
            .sync_all()?;
    }
    tail.syncer().sync_all()?;
    dir.sync_all()?;

    let last_seq = cut_seq - 1;
    let report = Recovery {
        snapshot,
        snapshots_skipped: skipped,
        first_seq,
        last_seq,
        segments: kept.len(),
        records,
        bytes_scanned,
        truncated,
    };
    Ok(Recovered {
        tail,
        tail_index,
        write_off,
        chain,
        last_seq,
        first_seq,
        segments: kept,
        snapshots,
        stale_snapshots,
        report,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::record_bytes;

    fn build(payloads: &[&[u8]]) -> Vec<u8> {
        let mut bytes = vec![0u8; 4096];
        let mut off = SEGMENT_HEADER_BYTES;
        let mut chain = 0;
        for (i, payload) in payloads.iter().enumerate() {
            let seq = i as u64 + 1;
            let mut header = RecordHeader::new(payload.len() as u32, seq, seq - 1);
            let head = header.encode();
            header.chain_crc = chain_crc(chain, &head[..24], payload);
            chain = header.chain_crc;
            bytes[off..off + 32].copy_from_slice(&header.encode());
            bytes[off + 32..off + 32 + payload.len()].copy_from_slice(payload);
            off += record_bytes(payload.len());
        }
        bytes
    }

    #[test]
    fn walk_stops_cleanly_at_zeros_and_flags_damage() {
        let bytes = build(&[b"one", b"two", b"three"]);
        let walk = walk_records(&bytes, SEGMENT_HEADER_BYTES, 1, 0);
        assert_eq!((walk.next_seq, walk.records, walk.invalid), (4, 3, None));
        let mut bad = bytes.clone();
        bad[SEGMENT_HEADER_BYTES + record_bytes(3) + 32] ^= 1;
        let walk = walk_records(&bad, SEGMENT_HEADER_BYTES, 1, 0);
        assert_eq!(walk.next_seq, 2);
        if VERIFY_CHAIN {
            assert_eq!(walk.invalid, Some("record chain checksum mismatch"));
        }
    }

    #[test]
    fn tail_scan_finds_evidence_and_skips_payloads() {
        let bytes = build(&[b"one", b"two", b"three"]);
        // Records 2 and 3 carry hints 1 and 2: evidence that records 1 and 2 were durable.
        let scan = scan_tail(&bytes, SEGMENT_HEADER_BYTES, 2);
        assert_eq!(scan.evidence.map(|(_, seq, _)| seq), Some(3));
        let scan = scan_tail(&bytes, SEGMENT_HEADER_BYTES, 3);
        assert_eq!((scan.evidence, scan.intact_headers), (None, 3));
        assert!(scan.nonzero_end > SEGMENT_HEADER_BYTES);
        let zeros = vec![0u8; 8192];
        let scan = scan_tail(&zeros, 0, 1);
        assert_eq!(
            (scan.evidence, scan.intact_headers, scan.nonzero_end),
            (None, 0, 0)
        );
    }
}
