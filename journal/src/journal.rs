//! The journal writer: append, group commit, rotation, snapshots and pruning.
//!
//! One owner (`&mut self`) appends; nothing on the append path allocates, reads a clock or makes
//! a system call (a new segment aside). Durability is a separate step: a sync plan lists the
//! dirty ranges of the tail segment and of segments rotated since the last sync, plus the
//! directory when a segment was created, and one pass over it makes every record appended so far
//! durable. Only then is the durable sequence number published, and a failed sync stops the
//! journal for good: after a failed `fsync` the kernel may have dropped the dirty pages, so a retry
//! that "succeeds" proves nothing.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use crate::error::{JournalError, Result};
use crate::format::{
    RECORD_HEADER_BYTES, RECORD_PAYLOAD_MAX, RecordHeader, SEGMENT_BYTES_MAX, SEGMENT_BYTES_MIN,
    SEGMENT_HEADER_BYTES, SNAPSHOT_BYTES_MAX, SegmentHeader, chain_crc, encode_snapshot_header,
    record_bytes, segment_name, snapshot_name,
};
use crate::reader::Reader;
use crate::recovery::{Recovery, recover};
use crate::storage::{FileStorage, SegmentWrite, Storage, Syncer};
use crate::watch::{DurableWatch, SegmentEntry, Shared, Watermark};

/// When appended records are made durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// Records stay in the page cache until the owner calls [`Journal::sync`] itself;
    /// [`Journal::sync_if_due`] does nothing.
    None,
    /// Group commit: [`Journal::sync_if_due`] (or `sync`) makes everything appended since the
    /// last sync durable with one msync/fdatasync pass. Call it after each batch of appends.
    Batch,
    /// [`Journal::sync_if_due`] syncs when at least `every_us` microseconds passed since the
    /// last sync it did; the owner supplies the time, the journal reads no clock.
    Interval {
        /// Longest time a record waits for its sync, in microseconds.
        every_us: u64,
    },
}

/// Options chosen at open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// When records become durable.
    pub durability: Durability,
    /// Size of each segment file; a multiple of 4 KiB between 8 KiB and 1 GiB.
    pub segment_bytes: u64,
    /// How many snapshots to keep (at least 1). `prune` keeps every record the oldest of them
    /// needs, so falling back to an older snapshot still works.
    pub snapshots_retained: usize,
}

/// The most snapshots a journal keeps.
pub const SNAPSHOTS_RETAINED_MAX: usize = 64;
/// Rotated segments whose tail may wait for the next sync; past this the oldest is synced at
/// rotation, so a journal that is never synced does not keep every old segment mapped.
pub const PENDING_SEGMENTS_MAX: usize = 16;

impl Default for Options {
    fn default() -> Options {
        Options {
            durability: Durability::Batch,
            segment_bytes: 64 << 20,
            snapshots_retained: 2,
        }
    }
}

impl Options {
    fn validate(&self) -> Result<()> {
        if !self.segment_bytes.is_multiple_of(4096)
            || !(SEGMENT_BYTES_MIN..=SEGMENT_BYTES_MAX).contains(&self.segment_bytes)
        {
            return Err(JournalError::InvalidOptions(format!(
                "segment_bytes {} must be a multiple of 4096 between {SEGMENT_BYTES_MIN} and {SEGMENT_BYTES_MAX}",
                self.segment_bytes
            )));
        }
        if !(1..=SNAPSHOTS_RETAINED_MAX).contains(&self.snapshots_retained) {
            return Err(JournalError::InvalidOptions(format!(
                "snapshots_retained {} must be between 1 and {SNAPSHOTS_RETAINED_MAX}",
                self.snapshots_retained
            )));
        }
        if let Durability::Interval { every_us: 0 } = self.durability {
            return Err(JournalError::InvalidOptions(
                "Interval every_us must be positive".to_owned(),
            ));
        }
        Ok(())
    }

    /// The largest payload a record may carry with these options.
    pub fn payload_max(&self) -> usize {
        let room = self.segment_bytes as usize - SEGMENT_HEADER_BYTES - RECORD_HEADER_BYTES;
        RECORD_PAYLOAD_MAX.min(room - room % 8)
    }
}

/// Whether the journal still accepts writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Health {
    /// Appends and syncs work.
    Ok,
    /// A sync failed; every later append and sync returns [`JournalError::Failed`].
    Failed {
        /// The error that stopped the journal.
        reason: String,
    },
}

#[cfg_attr(feature = "broken-skip-sync", allow(dead_code))]
#[derive(Clone, Copy, Debug)]
pub(crate) enum SyncOp {
    Range { offset: usize, len: usize },
    All,
}

/// One step of a sync plan.
#[cfg_attr(feature = "broken-skip-sync", allow(dead_code))]
#[derive(Clone, Debug)]
pub(crate) struct SyncItem<Y> {
    syncer: Y,
    op: SyncOp,
}

#[cfg_attr(feature = "broken-skip-sync", allow(dead_code))]
impl<Y: Syncer> SyncItem<Y> {
    fn run(&self) -> Result<()> {
        match self.op {
            SyncOp::Range { offset, len } => self.syncer.sync_range(offset, len),
            SyncOp::All => self.syncer.sync_all(),
        }
    }
}

/// Runs a sync plan in order: segments first, the directory last.
pub(crate) fn run_sync_plan<Y: Syncer>(items: &[SyncItem<Y>]) -> Result<()> {
    #[cfg(feature = "broken-skip-sync")]
    {
        // Deliberately broken build: report success without syncing, to prove the power-loss
        // test notices.
        let _ = items;
        Ok(())
    }
    #[cfg(not(feature = "broken-skip-sync"))]
    items.iter().try_for_each(SyncItem::run)
}

/// The write-ahead journal. See the crate documentation for the format and the guarantees.
pub struct Journal<S: Storage = FileStorage> {
    storage: S,
    handle: S::Handle,
    options: Options,
    payload_max: usize,
    shared: Arc<Shared>,
    dir_syncer: S::Syncer,
    tail: S::Segment,
    tail_syncer: S::Syncer,
    tail_index: u64,
    tail_len: usize,
    write_off: usize,
    synced_off: usize,
    /// The tail was created since the last sync: its data and size need a whole-file sync.
    tail_new: bool,
    /// A segment was created since the last sync: the directory needs a sync.
    dir_dirty: bool,
    pending: Vec<SyncItem<S::Syncer>>,
    plan: Vec<SyncItem<S::Syncer>>,
    chain: u32,
    last_seq: u64,
    first_seq: u64,
    last_sync_us: u64,
    /// Valid snapshot seqs, oldest first.
    snapshots: Vec<u64>,
    stale_snapshots: Vec<String>,
    /// What a follower of the journal (the history store's projection) has durably applied:
    /// the newest snapshot at or below it and every record after that are kept.
    retention_floor: Option<u64>,
}

impl<S: Storage> fmt::Debug for Journal<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Journal")
            .field("options", &self.options)
            .field("first_seq", &self.first_seq)
            .field("last_seq", &self.last_seq)
            .field("durable_seq", &self.shared.durable())
            .field("tail_index", &self.tail_index)
            .field("write_off", &self.write_off)
            .field("health", &self.health())
            .finish_non_exhaustive()
    }
}

impl Journal<FileStorage> {
    /// Opens (creating if needed) the journal in directory `path`, recovering it.
    pub fn open_dir(path: impl AsRef<Path>, options: Options) -> Result<(Journal, Recovery)> {
        options.validate()?;
        Journal::open(FileStorage::open(path)?, options)
    }
}

impl<S: Storage> Journal<S> {
    /// Opens the journal stored in `storage`, recovering it (see [`Recovery`]).
    pub fn open(mut storage: S, options: Options) -> Result<(Journal<S>, Recovery)> {
        options.validate()?;
        let recovered = recover(&mut storage, options.segment_bytes)?;
        let shared = Arc::new(Shared::new(recovered.last_seq, recovered.segments));
        let tail_len = recovered.tail.len();
        let journal = Journal {
            handle: storage.handle(),
            dir_syncer: storage.dir_syncer(),
            tail_syncer: recovered.tail.syncer(),
            storage,
            payload_max: options.payload_max(),
            options,
            shared,
            tail: recovered.tail,
            tail_index: recovered.tail_index,
            tail_len,
            write_off: recovered.write_off,
            synced_off: recovered.write_off,
            tail_new: false,
            dir_dirty: false,
            pending: Vec::with_capacity(PENDING_SEGMENTS_MAX),
            plan: Vec::with_capacity(PENDING_SEGMENTS_MAX + 2),
            chain: recovered.chain,
            last_seq: recovered.last_seq,
            first_seq: recovered.first_seq,
            last_sync_us: 0,
            snapshots: recovered.snapshots,
            stale_snapshots: recovered.stale_snapshots,
            retention_floor: None,
        };
        Ok((journal, recovered.report))
    }

    /// Appends a record and returns its sequence number. The record is durable only once a sync
    /// covering it returned (see [`Durability`]). Does not allocate.
    #[inline]
    pub fn append(&mut self, payload: &[u8]) -> Result<u64> {
        if self.shared.is_failed() {
            return Err(self.shared.failed_error());
        }
        let len = payload.len();
        if len == 0 {
            return Err(JournalError::EmptyRecord);
        }
        if len > self.payload_max {
            return Err(JournalError::RecordTooLarge {
                len,
                max: self.payload_max,
            });
        }
        let size = record_bytes(len);
        if size > self.tail_len - self.write_off {
            self.rotate()?;
        }
        let seq = self.last_seq + 1;
        let durable_hint = self.shared.durable();
        assert!(
            durable_hint < seq,
            "durable seq {durable_hint} ahead of the next seq {seq}"
        );
        let mut head = RecordHeader::new(len as u32, seq, durable_hint).encode();
        let chain = chain_crc(self.chain, &head[..24], payload);
        head[24..28].copy_from_slice(&chain.to_le_bytes());
        // Deliberately broken build: publish before the bytes are written.
        #[cfg(feature = "broken-early-ack")]
        self.shared.publish_appended(seq);
        self.tail.write(self.write_off, &head);
        self.tail
            .write(self.write_off + RECORD_HEADER_BYTES, payload);
        // Padding needs no write: space past the write offset is always zero (preallocated, or
        // wiped by recovery).
        self.write_off += size;
        self.last_seq = seq;
        self.chain = chain;
        self.shared.publish_appended(seq);
        Ok(seq)
    }

    /// Starts a new segment because the next record does not fit in the tail.
    #[cold]
    fn rotate(&mut self) -> Result<()> {
        let index = self.tail_index + 1;
        let segment_bytes = self.options.segment_bytes;
        let mut segment = self.storage.create(&segment_name(index), segment_bytes)?;
        let first_seq = self.last_seq + 1;
        let header = SegmentHeader {
            index,
            first_seq,
            segment_bytes,
            prev_chain: self.chain,
        };
        segment.write(0, &header.encode());
        let op = if self.tail_new {
            Some(SyncOp::All)
        } else if self.write_off > self.synced_off {
            Some(SyncOp::Range {
                offset: self.synced_off,
                len: self.write_off - self.synced_off,
            })
        } else {
            None
        };
        if let Some(op) = op {
            if self.pending.len() >= PENDING_SEGMENTS_MAX {
                let oldest = self.pending.remove(0);
                if let Err(e) = run_sync_plan(std::slice::from_ref(&oldest)) {
                    self.shared.fail(e.to_string());
                    return Err(e);
                }
            }
            self.pending.push(SyncItem {
                syncer: self.tail_syncer.clone(),
                op,
            });
        }
        self.tail_syncer = segment.syncer();
        self.tail_len = segment.len();
        self.tail = segment;
        self.tail_index = index;
        self.write_off = SEGMENT_HEADER_BYTES;
        self.synced_off = 0;
        self.tail_new = true;
        self.dir_dirty = true;
        self.shared
            .segments()
            .push(SegmentEntry { index, first_seq });
        Ok(())
    }

    /// Moves everything not yet synced into `items` and returns the seq the plan covers. Used by
    /// `sync` and by the group-commit leader of [`crate::SharedJournal`], which runs the plan
    /// without holding the journal.
    pub(crate) fn plan_sync(&mut self, items: &mut Vec<SyncItem<S::Syncer>>) -> Result<u64> {
        if self.shared.is_failed() {
            return Err(self.shared.failed_error());
        }
        items.append(&mut self.pending);
        if self.tail_new {
            items.push(SyncItem {
                syncer: self.tail_syncer.clone(),
                op: SyncOp::All,
            });
            self.tail_new = false;
        } else if self.write_off > self.synced_off {
            let op = SyncOp::Range {
                offset: self.synced_off,
                len: self.write_off - self.synced_off,
            };
            items.push(SyncItem {
                syncer: self.tail_syncer.clone(),
                op,
            });
        }
        self.synced_off = self.write_off;
        if self.dir_dirty {
            items.push(SyncItem {
                syncer: self.dir_syncer.clone(),
                op: SyncOp::All,
            });
            self.dir_dirty = false;
        }
        Ok(self.last_seq)
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Makes every appended record durable and returns the durable seq. After a failed sync the
    /// journal is failed: this and every later append or sync return an error.
    pub fn sync(&mut self) -> Result<u64> {
        let shared = Arc::clone(&self.shared);
        let _in_flight = shared.sync_in_flight();
        let mut items = std::mem::take(&mut self.plan);
        let planned = self.plan_sync(&mut items);
        let result = match planned {
            Ok(target) => complete_sync(&self.shared, run_sync_plan(&items).map(|()| target)),
            Err(e) => Err(e),
        };
        items.clear();
        self.plan = items;
        result
    }

    /// Syncs when the durability policy says it is time; `now_us` is the owner's clock in
    /// microseconds. Returns the durable seq.
    pub fn sync_if_due(&mut self, now_us: u64) -> Result<u64> {
        if self.shared.is_failed() {
            return Err(self.shared.failed_error());
        }
        let behind = self.last_seq > self.shared.durable();
        match self.options.durability {
            Durability::None => Ok(self.shared.durable()),
            Durability::Batch if behind => self.sync(),
            Durability::Interval { every_us }
                if behind && now_us.saturating_sub(self.last_sync_us) >= every_us =>
            {
                self.last_sync_us = now_us;
                self.sync()
            }
            Durability::Batch | Durability::Interval { .. } => Ok(self.shared.durable()),
        }
    }

    /// Syncs and closes the journal, returning the durable seq.
    pub fn close(mut self) -> Result<u64> {
        self.sync()
    }

    /// The last appended seq (0 for an empty journal).
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// The first seq still stored (records before it were pruned).
    pub fn first_seq(&self) -> u64 {
        self.first_seq
    }

    /// The highest seq a completed sync covered.
    pub fn durable_seq(&self) -> u64 {
        self.shared.durable()
    }

    /// A cloneable handle to learn and wait for the durable seq from other threads.
    pub fn durable_watch(&self) -> DurableWatch {
        DurableWatch {
            shared: Arc::clone(&self.shared),
        }
    }

    /// A reader yielding records from `from_seq` on, up to the durable seq.
    pub fn reader(&self, from_seq: u64) -> Result<Reader<S>> {
        self.reader_with(from_seq, Watermark::Durable)
    }

    /// A reader yielding records from `from_seq` on, up to the given watermark.
    pub fn reader_with(&self, from_seq: u64, watermark: Watermark) -> Result<Reader<S>> {
        let from_seq = from_seq.max(1);
        if from_seq < self.first_seq {
            return Err(JournalError::Pruned {
                requested: from_seq,
                first_available: self.first_seq,
            });
        }
        Ok(Reader::new(
            self.handle.clone(),
            Arc::clone(&self.shared),
            from_seq,
            watermark,
        ))
    }

    /// Calls `f` with every stored record whose seq is greater than `after_seq`, in order, and
    /// returns how many there were. Meant for start-up: pass the recovered snapshot's seq.
    pub fn replay_from(&self, after_seq: u64, mut f: impl FnMut(u64, &[u8])) -> Result<u64> {
        let mut reader = self.reader_with(after_seq.saturating_add(1), Watermark::Appended)?;
        let mut count = 0;
        while let Some((seq, payload)) = reader.next()? {
            f(seq, payload);
            count += 1;
        }
        Ok(count)
    }

    /// Writes `state` as the snapshot covering records up to `seq`, atomically and durably,
    /// syncing the journal first if `seq` is not durable yet, then drops snapshots beyond the
    /// retained count.
    pub fn write_snapshot(&mut self, seq: u64, state: &[u8]) -> Result<()> {
        if self.shared.is_failed() {
            return Err(self.shared.failed_error());
        }
        if seq > self.last_seq {
            return Err(JournalError::SnapshotAhead {
                seq,
                last_seq: self.last_seq,
            });
        }
        if seq + 1 < self.first_seq {
            // Falling back to this snapshot would need records that were already pruned.
            return Err(JournalError::Pruned {
                requested: seq + 1,
                first_available: self.first_seq,
            });
        }
        if state.len() as u64 > SNAPSHOT_BYTES_MAX {
            return Err(JournalError::SnapshotTooLarge {
                len: state.len() as u64,
                max: SNAPSHOT_BYTES_MAX,
            });
        }
        // A snapshot must never cover records that a crash could still take away.
        if seq > self.shared.durable() {
            self.sync()?;
        }
        let header = encode_snapshot_header(seq, state);
        if let Err(e) = self
            .storage
            .write_atomic(&snapshot_name(seq), &[&header, state])
        {
            // Running out of room leaves the journal intact; any other failure may be a failed
            // fsync, after which the directory's durability is unknown.
            if !matches!(e, JournalError::NoSpace { .. }) {
                self.shared.fail(e.to_string());
            }
            return Err(e);
        }
        if let Err(at) = self.snapshots.binary_search(&seq) {
            self.snapshots.insert(at, seq);
        }
        let excess = self
            .snapshots
            .len()
            .saturating_sub(self.options.snapshots_retained);
        let pinned = self.pinned_snapshot();
        let mut removed = Vec::new();
        let mut kept = Vec::with_capacity(self.snapshots.len());
        for (i, &snapshot) in self.snapshots.iter().enumerate() {
            if i < excess && Some(snapshot) != pinned {
                removed.push(snapshot_name(snapshot));
            } else {
                kept.push(snapshot);
            }
        }
        self.snapshots = kept;
        removed.append(&mut self.stale_snapshots);
        for name in &removed {
            self.storage.remove(name)?;
        }
        if !removed.is_empty() {
            self.sync_dir()?;
        }
        Ok(())
    }

    fn sync_dir(&mut self) -> Result<()> {
        let result = self.dir_syncer.sync_all();
        if let Err(e) = &result {
            self.shared.fail(e.to_string());
        }
        result
    }

    /// Removes segments whose records are all covered by the oldest retained snapshot, oldest
    /// first, making each removal durable before the next so a crash never leaves a gap.
    /// Returns how many segments were removed.
    pub fn prune(&mut self) -> Result<usize> {
        if self.shared.is_failed() {
            return Err(self.shared.failed_error());
        }
        let Some(&oldest) = self.snapshots.first() else {
            return Ok(0);
        };
        // A follower resumes from the newest snapshot at or below what it applied; with none
        // such it needs the journal from its start.
        let limit = match self.retention_floor {
            None => oldest,
            Some(_) => self.pinned_snapshot().unwrap_or(0).min(oldest),
        };
        let mut removed = 0;
        loop {
            let mut segments = self.shared.segments();
            if segments.len() < 2 || segments[1].first_seq - 1 > limit {
                break;
            }
            let gone = segments.remove(0);
            let first_seq = segments[0].first_seq;
            drop(segments);
            self.storage.remove(&segment_name(gone.index))?;
            self.sync_dir()?;
            self.first_seq = first_seq;
            removed += 1;
        }
        Ok(removed)
    }

    /// Whether the journal still accepts writes.
    pub fn health(&self) -> Health {
        match self.shared.failure() {
            Some(reason) if self.shared.is_failed() => Health::Failed { reason },
            _ => Health::Ok,
        }
    }

    /// The options the journal was opened with.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The storage backend.
    pub fn storage(&self) -> &S {
        &self.storage
    }

    /// Seqs of the retained snapshots, oldest first.
    pub fn snapshot_seqs(&self) -> &[u64] {
        &self.snapshots
    }

    /// Tells retention what a follower has durably applied (`None`: no follower). From then
    /// on [`Journal::prune`] keeps the newest snapshot at or below `floor` and every record
    /// after it (all records, if no snapshot is that old), and [`Journal::write_snapshot`]
    /// does not remove that snapshot, so the follower can always resume.
    pub fn set_retention_floor(&mut self, floor: Option<u64>) {
        self.retention_floor = floor;
    }

    /// The snapshot a follower at the retention floor resumes from.
    fn pinned_snapshot(&self) -> Option<u64> {
        let floor = self.retention_floor?;
        self.snapshots.iter().rev().copied().find(|&s| s <= floor)
    }

    /// The state bytes of the retained snapshot at `seq`, verified as at open.
    pub fn read_snapshot(&self, seq: u64) -> Result<Vec<u8>> {
        let file = self.storage.read_file(&snapshot_name(seq))?;
        match crate::format::decode_snapshot(&file) {
            Ok((header_seq, state)) if header_seq == seq => Ok(state.to_vec()),
            Ok(_) => Err(JournalError::BadSnapshot {
                seq,
                reason: "its header names another seq".to_owned(),
            }),
            Err(reason) => Err(JournalError::BadSnapshot {
                seq,
                reason: reason.to_owned(),
            }),
        }
    }
}

/// Publishes the outcome of a sync plan: the durable seq on success, the failed state otherwise.
pub(crate) fn complete_sync(shared: &Shared, result: Result<u64>) -> Result<u64> {
    match result {
        Ok(target) => {
            shared.publish_durable(target);
            Ok(shared.durable())
        }
        Err(e) => {
            shared.fail(e.to_string());
            Err(e)
        }
    }
}
