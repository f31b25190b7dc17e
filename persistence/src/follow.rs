//! The writer: a thread that tails the journal through a replica of the engine and turns
//! records into batches, and an async task that writes each batch with its checkpoint in
//! one transaction. The two are joined by a channel of [`BATCHES_IN_FLIGHT`] batches, so
//! the replica prepares the next batch while the store commits the last.
//!
//! The core never waits for either: the thread reads the journal's durable records with its
//! own reader. A store that is down or slow only makes the lag grow (and the journal keep
//! what the store has not applied); the writer retries until it can write.

use crate::project::Projector;
use crate::store::{Batch, Checkpoint, Store};
use crate::{Error, Result};
use betbet_engine::Engine;
use betbet_engine::runtime::{CoreHandle, FollowStart};
use betbet_protocol::types::Timestamp;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// Records in one batch of the live writer at most (one transaction).
pub const BATCH_RECORDS_MAX: u64 = 8_192;
/// Rows in one batch of the live writer at most; a batch that reaches it is written before
/// more records.
pub const BATCH_ROWS_MAX: usize = 50_000;
/// The same bounds for a rebuild, where nothing waits for a batch: larger batches write an
/// object changed many times (an order placed, filled, cancelled) once instead of once per
/// batch.
pub const REBUILD_BATCH_RECORDS_MAX: u64 = 65_536;
pub const REBUILD_BATCH_ROWS_MAX: usize = 400_000;
/// Batches prepared and not yet written.
pub const BATCHES_IN_FLIGHT: usize = 2;
/// How long the thread waits for a first record before checking whether to stop.
const IDLE_WAIT: Duration = Duration::from_millis(100);
/// The pause before retrying a failed write, doubling up to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_millis(50);
const RETRY_MAX: Duration = Duration::from_secs(5);

/// What the writer has done, for metrics, `/health`, read-your-writes and retention.
#[derive(Debug)]
pub struct Progress {
    /// The checkpoint: the last record durably in the store. Journal retention reads it.
    pub applied: Arc<AtomicU64>,
    /// The stamped time of that record (µs).
    pub applied_at: AtomicI64,
    pub base_seq: AtomicU64,
    pub batches: AtomicU64,
    pub records: AtomicU64,
    pub events: AtomicU64,
    pub rows: AtomicU64,
    pub write_failures: AtomicU64,
    /// Microseconds spent in store transactions.
    pub write_micros: AtomicU64,
    pub failing: AtomicBool,
    pub last_error: Mutex<String>,
    watch: watch::Sender<u64>,
    stop: AtomicBool,
}

impl Progress {
    /// Progress for a store at `checkpoint` (its `applied` is also the journal's retention
    /// floor, so create it before the core starts).
    pub fn new(checkpoint: Option<Checkpoint>) -> Arc<Progress> {
        let seq = checkpoint.map_or(0, |c| c.seq);
        Arc::new(Progress {
            applied: Arc::new(AtomicU64::new(seq)),
            applied_at: AtomicI64::new(checkpoint.map_or(0, |c| c.record_at.0)),
            base_seq: AtomicU64::new(checkpoint.map_or(0, |c| c.base_seq)),
            batches: AtomicU64::new(0),
            records: AtomicU64::new(0),
            events: AtomicU64::new(0),
            rows: AtomicU64::new(0),
            write_failures: AtomicU64::new(0),
            write_micros: AtomicU64::new(0),
            failing: AtomicBool::new(false),
            last_error: Mutex::new(String::new()),
            watch: watch::channel(seq).0,
            stop: AtomicBool::new(false),
        })
    }

    pub fn applied(&self) -> u64 {
        self.applied.load(Ordering::Acquire)
    }

    /// Waits until the store has applied `seq`, at most `timeout`; whether it has.
    pub async fn wait_applied(&self, seq: u64, timeout: Duration) -> bool {
        let mut receiver = self.watch.subscribe();
        tokio::time::timeout(timeout, receiver.wait_for(|&applied| applied >= seq))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// How far behind the journal's durable `head` the store is: records, and seconds since
    /// the first record it has not applied was stamped (0 when caught up).
    pub fn lag(&self, head: u64, now: Timestamp) -> (u64, f64) {
        let applied = self.applied();
        let records = head.saturating_sub(applied);
        if records == 0 {
            return (0, 0.0);
        }
        let at = self.applied_at.load(Ordering::Acquire);
        let seconds = (now.0.saturating_sub(at)).max(0) as f64 / 1e6;
        (records, seconds)
    }

    fn publish(&self, batch: &Batch, checkpoint: Checkpoint, micros: u64) {
        self.applied_at
            .store(checkpoint.record_at.0, Ordering::Release);
        self.base_seq.store(checkpoint.base_seq, Ordering::Release);
        self.applied.store(checkpoint.seq, Ordering::Release);
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.records.fetch_add(batch.records, Ordering::Relaxed);
        self.events.fetch_add(batch.events, Ordering::Relaxed);
        self.rows.fetch_add(batch.rows() as u64, Ordering::Relaxed);
        self.write_micros.fetch_add(micros, Ordering::Relaxed);
        self.watch.send_replace(checkpoint.seq);
    }

    /// Asks the writer to stop after the batch in hand.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }
}

/// Records to project, in order, from some reader of the journal.
pub trait Source {
    /// The next record if one is available within `wait` (zero: only if ready now).
    fn next(&mut self, wait: Duration) -> Result<Option<(u64, &[u8])>>;
}

impl Source for betbet_journal::Reader {
    fn next(&mut self, wait: Duration) -> Result<Option<(u64, &[u8])>> {
        let next = if wait.is_zero() {
            betbet_journal::Reader::next(self)
        } else {
            self.next_timeout(wait)
        };
        next.map_err(Error::Journal)
    }
}

/// Builds the replica for a store at `checkpoint` from where the journal lets it start, and
/// replays the records the store already has. Returns the projector and, when the store
/// must be seeded from a snapshot (history before it was pruned), the batch that does it.
pub fn start_replica(
    base: Option<(u64, Vec<u8>)>,
    limits: &betbet_engine::Limits,
    checkpoint: Option<Checkpoint>,
    source: &mut dyn Source,
) -> Result<(Projector, Option<Batch>)> {
    let applied = checkpoint.map_or(0, |c| c.seq);
    let (engine, base) = match &base {
        Some((seq, bytes)) => (
            Engine::restore(bytes).map_err(|e| Error::Snapshot {
                seq: *seq,
                reason: e.to_string(),
            })?,
            *seq,
        ),
        None => (Engine::new(limits.clone()), 0),
    };
    if base > applied {
        // The journal no longer holds what the store lacks: start the store over from the
        // snapshot's state (rows it still has are overwritten or kept as history).
        if checkpoint.is_some() {
            tracing::error!(
                applied,
                snapshot = base,
                "the journal was pruned past the history store's checkpoint; records between them are missing from the store"
            );
        } else {
            tracing::warn!(
                snapshot = base,
                "the journal before this snapshot was pruned before the history store existed; the store starts from the snapshot's state"
            );
        }
        let mut projector = Projector::new(engine, base);
        projector.learn_holders();
        let mut batch = Batch::new();
        projector.seed(&mut batch);
        return Ok((projector, Some(batch)));
    }
    let base_seq = checkpoint.map_or(0, |c| c.base_seq);
    let mut projector = Projector::new(engine, base_seq);
    while projector.last_seq() < applied {
        match source.next(IDLE_WAIT)? {
            Some((seq, payload)) => projector.skip(seq, payload)?,
            None => {
                return Err(Error::Behind {
                    applied,
                    journal: projector.last_seq(),
                });
            }
        }
    }
    projector.learn_holders();
    Ok((projector, None))
}

/// Fills `batch` from `source`: waits up to `wait` for a first record, then takes what is
/// ready, up to the batch bounds. Returns whether anything was added.
pub fn fill(
    projector: &mut Projector,
    source: &mut dyn Source,
    batch: &mut Batch,
    wait: Duration,
    (records_max, rows_max): (u64, usize),
) -> Result<bool> {
    let mut wait = wait;
    while batch.records < records_max && batch.rows() < rows_max {
        match source.next(wait)? {
            Some((seq, payload)) => projector.apply(seq, payload, batch)?,
            None => break,
        }
        wait = Duration::ZERO;
    }
    if batch.records == 0 {
        return Ok(false);
    }
    projector.finish(batch);
    Ok(true)
}

/// Writes a batch, retrying until it lands or the writer is told to stop.
pub async fn write_until_done(store: &Store, progress: &Progress, batch: &Batch) -> Result<()> {
    let mut pause = RETRY_FIRST;
    loop {
        let started = Instant::now();
        match store.write(batch).await {
            Ok(()) => {
                if progress.failing.swap(false, Ordering::AcqRel) {
                    tracing::info!(store = store.location(), "history store writes resumed");
                }
                let checkpoint = batch.checkpoint.expect("a finished batch has a checkpoint");
                progress.publish(batch, checkpoint, started.elapsed().as_micros() as u64);
                return Ok(());
            }
            Err(error) => {
                progress.write_failures.fetch_add(1, Ordering::Relaxed);
                *progress.last_error.lock().expect("error lock") = error.to_string();
                if !progress.failing.swap(true, Ordering::AcqRel) {
                    tracing::error!(%error, store = store.location(), "history store write failed; retrying (the journal keeps what the store lacks)");
                }
                if progress.stopping() {
                    return Err(error);
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(RETRY_MAX);
            }
        }
    }
}

/// The running writer of a live core.
pub struct Follower {
    progress: Arc<Progress>,
    thread: Option<std::thread::JoinHandle<()>>,
    writer: Option<tokio::task::JoinHandle<()>>,
}

impl Follower {
    /// Starts following `core` into `store`: the replica thread and the writer task (on the
    /// current tokio runtime). `progress` must be the one whose `applied` the core's
    /// retention floor reads; `data_dir` is where the floor is also left for a core started
    /// without the writer (`HISTORY_FLOOR_FILE`).
    pub fn start(
        store: Store,
        core: CoreHandle,
        progress: Arc<Progress>,
        data_dir: PathBuf,
    ) -> Result<Follower> {
        let checkpoint = checkpoint_of(&progress);
        let start = core
            .follow(checkpoint.map_or(0, |c| c.seq))
            .map_err(|e| Error::Follow(e.to_string()))?;
        let (sender, mut receiver) = mpsc::channel::<Batch>(BATCHES_IN_FLIGHT);
        let thread_progress = Arc::clone(&progress);
        let thread = std::thread::Builder::new()
            .name("betbet-history".to_owned())
            .spawn(move || {
                if let Err(error) = replicate(start, checkpoint, &thread_progress, &sender) {
                    *thread_progress.last_error.lock().expect("error lock") = error.to_string();
                    thread_progress.failing.store(true, Ordering::Release);
                    tracing::error!(%error, "the history store's projection stopped");
                }
            })
            .map_err(|e| Error::Follow(e.to_string()))?;
        let writer_progress = Arc::clone(&progress);
        let writer = tokio::spawn(async move {
            let mut tick = tokio::time::interval(FLOOR_FILE_EVERY);
            let mut floor_left = None;
            loop {
                tokio::select! {
                    batch = receiver.recv() => {
                        let Some(batch) = batch else { break };
                        if write_until_done(&store, &writer_progress, &batch).await.is_err() {
                            break;
                        }
                    }
                    _ = tick.tick() => {
                        let applied = writer_progress.applied();
                        if floor_left != Some(applied) {
                            leave_floor(&data_dir, applied);
                            floor_left = Some(applied);
                        }
                    }
                }
            }
            leave_floor(&data_dir, writer_progress.applied());
        });
        Ok(Follower {
            progress,
            thread: Some(thread),
            writer: Some(writer),
        })
    }

    pub fn progress(&self) -> &Arc<Progress> {
        &self.progress
    }

    /// Stops after the batches in hand are written (what is left is written at the next
    /// start, from the checkpoint).
    pub async fn stop(mut self) {
        self.progress.stop();
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
        if let Some(writer) = self.writer.take() {
            let _ = writer.await;
        }
    }
}

/// How often the writer refreshes the floor file (a stale one only keeps more journal).
const FLOOR_FILE_EVERY: Duration = Duration::from_secs(1);

fn leave_floor(data_dir: &std::path::Path, applied: u64) {
    if let Err(error) = betbet_engine::runtime::write_history_floor(data_dir, applied) {
        tracing::warn!(%error, "cannot record the history store's checkpoint in the data directory");
    }
}

fn checkpoint_of(progress: &Progress) -> Option<Checkpoint> {
    let seq = progress.applied();
    let base_seq = progress.base_seq.load(Ordering::Acquire);
    (seq > 0 || base_seq > 0).then(|| Checkpoint {
        seq,
        record_at: Timestamp(progress.applied_at.load(Ordering::Acquire)),
        base_seq,
    })
}

fn replicate(
    start: FollowStart,
    checkpoint: Option<Checkpoint>,
    progress: &Progress,
    sender: &mpsc::Sender<Batch>,
) -> Result<()> {
    let FollowStart {
        base,
        mut reader,
        limits,
    } = start;
    let (mut projector, seed) = start_replica(base, &limits, checkpoint, &mut reader)?;
    if let Some(seed) = seed
        && sender.blocking_send(seed).is_err()
    {
        return Ok(());
    }
    while !progress.stopping() {
        let mut batch = Batch::new();
        if fill(
            &mut projector,
            &mut reader,
            &mut batch,
            IDLE_WAIT,
            (BATCH_RECORDS_MAX, BATCH_ROWS_MAX),
        )? && sender.blocking_send(batch).is_err()
        {
            break;
        }
    }
    Ok(())
}

/// What a rebuild did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rebuilt {
    /// Where the store's history now starts (0: the journal's first record).
    pub base_seq: u64,
    pub records: u64,
    /// Core events the records caused (the replica's output the rows were drawn from).
    pub events: u64,
    pub rows: u64,
    pub elapsed: Duration,
}

/// Empties `store` and projects the whole retained journal into it again: from its first
/// record if the journal still starts at seq 1, else from its oldest snapshot (whose state
/// seeds the store). `report(done, total)` is called after each batch. The journal must be
/// closed to writers (the server stopped), so the rebuild ends at its last record.
pub async fn rebuild(
    store: &Store,
    journal: &betbet_journal::Journal,
    limits: &betbet_engine::Limits,
    mut report: impl FnMut(u64, u64),
) -> Result<Rebuilt> {
    let started = Instant::now();
    let base = match journal.snapshot_seqs().first() {
        Some(&oldest) if journal.first_seq() > 1 => Some((oldest, journal.read_snapshot(oldest)?)),
        _ => None,
    };
    let base_seq = base.as_ref().map_or(0, |(seq, _)| *seq);
    let total = journal.last_seq().saturating_sub(base_seq);
    let mut reader = journal.reader(base_seq + 1)?;
    store.clear().await?;
    let progress = Progress::new(None);
    let (sender, mut receiver) = mpsc::channel::<Batch>(BATCHES_IN_FLIGHT);
    let limits = limits.clone();
    let thread = std::thread::Builder::new()
        .name("betbet-rebuild".to_owned())
        .spawn(move || -> Result<()> {
            let (mut projector, seed) = start_replica(base, &limits, None, &mut reader)?;
            if let Some(seed) = seed
                && sender.blocking_send(seed).is_err()
            {
                return Ok(());
            }
            loop {
                let mut batch = Batch::new();
                if !fill(
                    &mut projector,
                    &mut reader,
                    &mut batch,
                    Duration::ZERO,
                    (REBUILD_BATCH_RECORDS_MAX, REBUILD_BATCH_ROWS_MAX),
                )? {
                    return Ok(());
                }
                if sender.blocking_send(batch).is_err() {
                    return Ok(());
                }
            }
        })
        .map_err(|e| Error::Follow(e.to_string()))?;
    let mut rows = 0;
    let mut failed = None;
    while let Some(batch) = receiver.recv().await {
        if let Err(error) = store.write(&batch).await {
            failed = Some(error);
            break;
        }
        rows += batch.rows() as u64;
        let checkpoint = batch.checkpoint.expect("a finished batch has a checkpoint");
        progress.publish(&batch, checkpoint, 0);
        report(progress.records.load(Ordering::Relaxed), total);
    }
    drop(receiver);
    let replicated = tokio::task::spawn_blocking(move || thread.join())
        .await
        .map_err(|e| Error::Follow(e.to_string()))?
        .map_err(|_| Error::Follow("the rebuild thread panicked".to_owned()))?;
    if let Some(error) = failed {
        return Err(error);
    }
    replicated?;
    Ok(Rebuilt {
        base_seq,
        records: progress.records.load(Ordering::Relaxed),
        events: progress.events.load(Ordering::Relaxed),
        rows,
        elapsed: started.elapsed(),
    })
}
