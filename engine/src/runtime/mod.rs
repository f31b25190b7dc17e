//! The core runtime: the one thread that owns the engine, the journal it writes, and the
//! ways in (a bounded command queue) and out (replies, an event stream). This module is the
//! only place in the engine crate with threads, clocks and IO; remote gateways reach its
//! handle through the gateway crate's core link (`betbet_gateway::link`, mutual TLS).
//!
//! The loop, in one picture:
//!
//! ```text
//! wait for a message ─▶ drain up to BATCH_MAX ─▶ for each: stamp (time, seed) ─▶ journal
//!   append ─▶ apply ─▶ hold the reply ─▶ after the batch: sync once (group commit) ─▶ send
//!   every held reply whose record is durable ─▶ publish the batch's events ─▶ timers, snapshot
//! ```
//!
//! Nothing is acknowledged before its journal record is durable under the configured
//! policy, and query answers are held back the same way, so no one ever sees state that a
//! crash could take back. A full queue is refused at once (`overloaded`), never waited on.
//! Subscribers get events through callbacks that must not block; one that cannot keep up is
//! cut off, and the engine never waits for it.
//!
//! Start-up is the newest valid snapshot plus replay of the journal after it; the runtime
//! snapshots on a schedule and on shutdown (drain, sync, snapshot, exit).

use crate::{Ctx, Engine, Limits};
use betbet_journal::{Durability, Health, Journal, JournalError, Options, Reader};
use betbet_protocol::codec::{Encode, from_slice};
use betbet_protocol::command::{Command, Configure, JournalEntry, Tick};
use betbet_protocol::event::Event;
use betbet_protocol::message::{EventBatch, Response};
use betbet_protocol::query::{Query, QueryReply};
use betbet_protocol::result::ResultCode;
use betbet_protocol::types::Timestamp;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use thiserror::Error;

/// Commands and queries waiting for the engine thread. Beyond this, callers get
/// `overloaded` at once.
pub const COMMAND_QUEUE_MAX: usize = 65_536;
/// Messages handled between two journal syncs.
pub const BATCH_MAX: usize = 4_096;
/// Event batches kept for subscribers that reconnect and ask to resume.
pub const EVENT_RING_MAX: usize = 4_096;
/// Subscribers at once.
pub const SUBSCRIBERS_MAX: usize = 1_024;
/// The file in the data directory where the history store's writer leaves the last record
/// it durably applied. A core started without the writer (`betbet admin grant`) still keeps
/// the journal the store needs; a stale value only keeps more.
pub const HISTORY_FLOOR_FILE: &str = "history.floor";

/// Reads [`HISTORY_FLOOR_FILE`]: `None` if there is none (no store ever followed this data
/// directory), `Some(0)` — keep everything — if it is unreadable.
pub fn read_history_floor(data_dir: &std::path::Path) -> Option<u64> {
    match std::fs::read_to_string(data_dir.join(HISTORY_FLOOR_FILE)) {
        Ok(text) => Some(text.trim().parse().unwrap_or(0)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(_) => Some(0),
    }
}

/// Records `applied` in [`HISTORY_FLOOR_FILE`] (written aside, then renamed into place).
pub fn write_history_floor(data_dir: &std::path::Path, applied: u64) -> std::io::Result<()> {
    let path = data_dir.join(HISTORY_FLOOR_FILE);
    let temp = data_dir.join(format!("{HISTORY_FLOOR_FILE}.tmp"));
    std::fs::write(&temp, format!("{applied}\n"))?;
    std::fs::rename(&temp, &path)
}

#[derive(Debug, Error)]
pub enum RuntimeError {
    #[error("journal: {0}")]
    Journal(#[from] JournalError),
    #[error("snapshot at seq {seq} is unreadable: {source}")]
    Snapshot {
        seq: u64,
        source: crate::snapshot::SnapshotError,
    },
    #[error("journal record {seq} is not a command: {reason}")]
    Record { seq: u64, reason: String },
    #[error("cannot start the core thread: {0}")]
    Thread(std::io::Error),
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Why a follower could not start.
#[derive(Debug, Error)]
pub enum FollowError {
    #[error("{0}")]
    Submit(SubmitError),
    #[error("journal: {0}")]
    Journal(JournalError),
}

/// Why a message was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SubmitError {
    #[error("the core's queue is full")]
    Overloaded,
    #[error("the core is stopping")]
    Stopped,
}

impl SubmitError {
    pub fn code(self) -> ResultCode {
        match self {
            SubmitError::Overloaded => ResultCode::Overloaded,
            SubmitError::Stopped => ResultCode::Unavailable,
        }
    }
}

/// What a command did: its journal sequence (0 if it never reached the journal), the
/// engine's response and the events it caused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutcome {
    pub seq: u64,
    /// The time the command was stamped with (zero if it never reached the journal).
    pub at: Timestamp,
    pub response: Response,
    pub events: Vec<Event>,
}

pub type CommandReplyFn = Box<dyn FnOnce(CommandOutcome) + Send>;
pub type QueryReplyFn = Box<dyn FnOnce(QueryReply) + Send>;
/// Receives each published batch; returns `false` when it cannot take more (its consumer
/// is too slow), which unsubscribes it. It must not block.
pub type SubscriberFn = Box<dyn FnMut(&Arc<EventBatch>) -> bool + Send>;

enum Message {
    /// A command, and the moment after which it must not be executed (it is then refused
    /// with `Overloaded`, never journaled).
    Command(Command, Option<Instant>, CommandReplyFn),
    Query(Query, QueryReplyFn),
    Subscribe(u64, SubscriberFn),
    Follow(u64, FollowReplyFn),
    Shutdown,
}

type FollowReplyFn = Box<dyn FnOnce(Result<FollowStart, JournalError>) + Send>;

/// Where a follower of the journal (the history store's projection) starts: a reader of the
/// records after `base`, and the state at `base` (`None`: the empty engine at seq 0).
pub struct FollowStart {
    pub base: Option<(u64, Vec<u8>)>,
    pub reader: Reader,
    /// The limits of the engine the journal was written with, for an empty replica.
    pub limits: Limits,
}

impl std::fmt::Debug for FollowStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FollowStart")
            .field("base", &self.base.as_ref().map(|(seq, _)| seq))
            .finish_non_exhaustive()
    }
}

/// The state a follower that applied everything up to `applied` resumes from: the newest
/// retained snapshot at or below it; the empty engine if none is and the journal still
/// starts at seq 1; else (history before the oldest snapshot was pruned, as in a data
/// directory that ran before the store existed) the oldest snapshot, which the follower
/// then writes whole.
fn follow_start(
    journal: &Journal,
    applied: u64,
    limits: &Limits,
) -> Result<FollowStart, JournalError> {
    let snapshots = journal.snapshot_seqs();
    let base = match snapshots.iter().rev().find(|&&s| s <= applied) {
        Some(&seq) => Some(seq),
        None if journal.first_seq() <= 1 => None,
        None => snapshots.first().copied(),
    };
    let base = match base {
        Some(seq) => Some((seq, journal.read_snapshot(seq)?)),
        None => None,
    };
    let from = base.as_ref().map_or(0, |(seq, _)| *seq) + 1;
    Ok(FollowStart {
        reader: journal.reader(from)?,
        base,
        limits: limits.clone(),
    })
}

#[derive(Debug, Clone)]
pub struct CoreConfig {
    pub data_dir: PathBuf,
    pub durability: Durability,
    pub limits: Limits,
    /// Settings to journal at start-up if the engine's differ.
    pub configure: Option<Configure>,
    /// The longest wait between checks of the clock for timer rules; the core also wakes
    /// at the engine's next deadline, so a timer fires on time, not at the next check.
    pub tick_interval: Duration,
    pub snapshot_every_commands: u64,
    pub snapshot_interval: Duration,
    pub queue_capacity: usize,
    /// What the history store has durably applied: journal retention keeps what it still
    /// needs (see `Journal::set_retention_floor`). `None`: no store follows the journal.
    pub retention_floor: Option<Arc<AtomicU64>>,
    /// Size of each journal segment file (a multiple of 4 KiB, 8 KiB to 1 GiB).
    pub segment_bytes: u64,
}

impl CoreConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        CoreConfig {
            data_dir: data_dir.into(),
            durability: Durability::Batch,
            limits: Limits::default(),
            configure: None,
            tick_interval: Duration::from_millis(100),
            snapshot_every_commands: 1_000_000,
            snapshot_interval: Duration::from_secs(600),
            queue_capacity: COMMAND_QUEUE_MAX,
            retention_floor: None,
            segment_bytes: Options::default().segment_bytes,
        }
    }
}

/// Counters the runtime keeps for `/health` and `/metrics`.
#[derive(Debug, Default)]
pub struct CoreStats {
    pub queue_depth: AtomicUsize,
    pub commands: AtomicU64,
    pub queries: AtomicU64,
    pub overloaded: AtomicU64,
    /// Commands taken off the queue after their deadline and refused, never executed.
    pub shed: AtomicU64,
    pub last_seq: AtomicU64,
    pub durable_seq: AtomicU64,
    pub syncs: AtomicU64,
    /// Total microseconds spent in journal syncs, and a histogram of them
    /// ([`SYNC_BUCKETS_US`] upper bounds, the last bucket open-ended).
    pub sync_micros_total: AtomicU64,
    pub sync_buckets: [AtomicU64; SYNC_BUCKETS_US.len() + 1],
    pub snapshots: AtomicU64,
    pub subscribers: AtomicUsize,
    pub dropped_subscribers: AtomicU64,
}

pub const SYNC_BUCKETS_US: [u64; 10] = [
    50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 50_000, 250_000,
];

impl CoreStats {
    fn record_sync(&self, micros: u64) {
        self.syncs.fetch_add(1, Ordering::Relaxed);
        self.sync_micros_total.fetch_add(micros, Ordering::Relaxed);
        let bucket = SYNC_BUCKETS_US
            .iter()
            .position(|&bound| micros <= bound)
            .unwrap_or(SYNC_BUCKETS_US.len());
        self.sync_buckets[bucket].fetch_add(1, Ordering::Relaxed);
    }
}

struct Shared {
    stats: CoreStats,
    stopping: AtomicBool,
    health: Mutex<Health>,
}

/// A cheap, cloneable way in to the core from any thread.
#[derive(Clone)]
pub struct CoreHandle {
    sender: SyncSender<Message>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for CoreHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoreHandle").finish_non_exhaustive()
    }
}

impl CoreHandle {
    fn send(&self, message: Message) -> Result<(), SubmitError> {
        if self.shared.stopping.load(Ordering::Acquire) {
            return Err(SubmitError::Stopped);
        }
        match self.sender.try_send(message) {
            Ok(()) => {
                self.shared
                    .stats
                    .queue_depth
                    .fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(TrySendError::Full(_)) => {
                self.shared.stats.overloaded.fetch_add(1, Ordering::Relaxed);
                Err(SubmitError::Overloaded)
            }
            Err(TrySendError::Disconnected(_)) => Err(SubmitError::Stopped),
        }
    }

    /// Queues a command; `reply` runs (on the core thread) once its record is durable.
    pub fn command(&self, command: Command, reply: CommandReplyFn) -> Result<(), SubmitError> {
        self.command_by(command, None, reply)
    }

    /// Queues a command that must be executed by `deadline` (if any) or not at all: if the
    /// core takes it off its queue later, `reply` gets `Rejected(Overloaded)` at once (seq 0)
    /// and nothing is journaled. A gateway sheds load this way instead of trading late.
    pub fn command_by(
        &self,
        command: Command,
        deadline: Option<Instant>,
        reply: CommandReplyFn,
    ) -> Result<(), SubmitError> {
        self.send(Message::Command(command, deadline, reply))
    }

    /// Queues a query; `reply` runs with an answer that reflects only durable state.
    pub fn query(&self, query: Query, reply: QueryReplyFn) -> Result<(), SubmitError> {
        self.send(Message::Query(query, reply))
    }

    /// Where a follower that has applied the records up to `applied` resumes (blocks until
    /// the core thread answers).
    pub fn follow(&self, applied: u64) -> Result<FollowStart, FollowError> {
        let (reply, answer) = sync_channel(1);
        self.send(Message::Follow(
            applied,
            Box::new(move |start| {
                let _ = reply.send(start);
            }),
        ))
        .map_err(FollowError::Submit)?;
        answer
            .recv()
            .map_err(|_| FollowError::Submit(SubmitError::Stopped))?
            .map_err(FollowError::Journal)
    }

    /// Receives every event batch published from now on (or, if `from_seq` is still in the
    /// core's ring, from the first batch after it).
    pub fn subscribe(&self, from_seq: u64, subscriber: SubscriberFn) -> Result<(), SubmitError> {
        self.send(Message::Subscribe(from_seq, subscriber))
    }

    pub fn stats(&self) -> &CoreStats {
        &self.shared.stats
    }

    pub fn health(&self) -> Health {
        self.shared.health.lock().expect("health lock").clone()
    }
}

/// The running core: a handle plus the thread to join at shutdown.
pub struct Core {
    handle: CoreHandle,
    thread: Option<JoinHandle<()>>,
}

impl Core {
    /// Opens (or creates) the journal under `data_dir/journal`, restores the newest snapshot,
    /// replays the journal after it and starts the engine thread.
    pub fn start(config: CoreConfig) -> Result<Core, RuntimeError> {
        std::fs::create_dir_all(&config.data_dir).map_err(|source| RuntimeError::DataDir {
            path: config.data_dir.clone(),
            source,
        })?;
        let options = Options {
            durability: config.durability,
            segment_bytes: config.segment_bytes,
            ..Options::default()
        };
        let started = Instant::now();
        let (journal, recovery) = Journal::open_dir(config.data_dir.join("journal"), options)?;
        if let Some(report) = &recovery.truncated {
            tracing::warn!(?report, "journal had a torn tail; it was truncated");
        }
        for skipped in &recovery.snapshots_skipped {
            tracing::warn!(?skipped, "skipped an invalid snapshot");
        }
        let mut engine = match &recovery.snapshot {
            Some(snapshot) => {
                let engine =
                    Engine::restore(&snapshot.bytes).map_err(|source| RuntimeError::Snapshot {
                        seq: snapshot.seq,
                        source,
                    })?;
                tracing::info!(
                    seq = snapshot.seq,
                    bytes = snapshot.bytes.len(),
                    "restored snapshot"
                );
                engine
            }
            None => Engine::new(config.limits.clone()),
        };
        let from = engine.last_seq();
        let total = recovery.last_seq.saturating_sub(from);
        let mut replayed = 0u64;
        let mut failure = None;
        let mut out = Vec::new();
        journal.replay_from(from, |seq, payload| {
            if failure.is_some() {
                return;
            }
            match from_slice::<JournalEntry>(payload) {
                Ok(entry) => {
                    out.clear();
                    engine.apply(
                        &entry.command,
                        &Ctx {
                            at: entry.at,
                            seed: entry.seed,
                            seq,
                        },
                        &mut out,
                    );
                    replayed += 1;
                    if replayed.is_multiple_of(1_000_000) {
                        tracing::info!(replayed, total, "replaying journal");
                    }
                }
                Err(error) => {
                    failure = Some(RuntimeError::Record {
                        seq,
                        reason: error.to_string(),
                    });
                }
            }
        })?;
        if let Some(failure) = failure {
            return Err(failure);
        }
        engine.check();
        engine.reserve_arenas();
        tracing::info!(
            snapshot_seq = from,
            replayed,
            last_seq = engine.last_seq(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "core recovered"
        );

        let (sender, receiver) = sync_channel(config.queue_capacity);
        let shared = Arc::new(Shared {
            stats: CoreStats::default(),
            stopping: AtomicBool::new(false),
            health: Mutex::new(Health::Ok),
        });
        shared
            .stats
            .last_seq
            .store(engine.last_seq(), Ordering::Relaxed);
        shared
            .stats
            .durable_seq
            .store(journal.durable_seq(), Ordering::Relaxed);
        let handle = CoreHandle {
            sender,
            shared: Arc::clone(&shared),
        };
        let mut config = config;
        if config.retention_floor.is_none()
            && let Some(floor) = read_history_floor(&config.data_dir)
        {
            config.retention_floor = Some(Arc::new(AtomicU64::new(floor)));
        }
        let mut worker = Worker::new(engine, journal, receiver, shared, &config);
        if let Some(configure) = config.configure.clone() {
            worker.configure_if_changed(configure);
        }
        let thread = std::thread::Builder::new()
            .name("betbet-core".to_owned())
            .spawn(move || worker.run())
            .map_err(RuntimeError::Thread)?;
        Ok(Core {
            handle,
            thread: Some(thread),
        })
    }

    pub fn handle(&self) -> CoreHandle {
        self.handle.clone()
    }

    /// Drains what is queued, syncs, snapshots and stops the thread.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(thread) = self.thread.take() {
            // A blocking send: the shutdown message must get in even if the queue is full.
            let _ = self.handle.sender.send(Message::Shutdown);
            self.handle.shared.stopping.store(true, Ordering::Release);
            if thread.join().is_err() {
                tracing::error!("the core thread panicked");
            }
        }
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A reply held until its record is durable.
enum Held {
    Command(u64, CommandReplyFn, CommandOutcome),
    Query(u64, QueryReplyFn, Box<QueryReply>),
}

impl Held {
    fn seq(&self) -> u64 {
        match self {
            Held::Command(seq, ..) | Held::Query(seq, ..) => *seq,
        }
    }

    fn deliver(self) {
        match self {
            Held::Command(_, reply, outcome) => reply(outcome),
            Held::Query(_, reply, answer) => reply(*answer),
        }
    }
}

struct Subscriber {
    callback: SubscriberFn,
}

struct Worker {
    engine: Engine,
    journal: Journal,
    receiver: Receiver<Message>,
    shared: Arc<Shared>,
    durability: Durability,
    tick_interval: Duration,
    snapshot_every: u64,
    snapshot_interval: Duration,
    held: VecDeque<Held>,
    /// Events of applied commands not yet published (published once durable).
    unpublished: EventBatch,
    ring: VecDeque<Arc<EventBatch>>,
    subscribers: Vec<Subscriber>,
    encode: Vec<u8>,
    events: Vec<Event>,
    last_at: i64,
    rng: u64,
    since_snapshot: u64,
    last_snapshot: Instant,
    failed: bool,
    limits: Limits,
    retention_floor: Option<Arc<AtomicU64>>,
    floor_pruned: u64,
    last_prune: Instant,
}

impl Worker {
    fn new(
        engine: Engine,
        journal: Journal,
        receiver: Receiver<Message>,
        shared: Arc<Shared>,
        config: &CoreConfig,
    ) -> Self {
        use std::hash::{BuildHasher, Hasher};
        // RandomState is seeded from the OS: a fresh stream of seeds per process. The seeds
        // are journaled, so replay never needs this generator.
        let rng = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
            | 1;
        let mut journal = journal;
        journal.set_retention_floor(
            config
                .retention_floor
                .as_ref()
                .map(|f| f.load(Ordering::Acquire)),
        );
        Worker {
            last_at: engine.now().0,
            engine,
            journal,
            receiver,
            shared,
            durability: config.durability,
            tick_interval: config.tick_interval,
            snapshot_every: config.snapshot_every_commands,
            snapshot_interval: config.snapshot_interval,
            held: VecDeque::new(),
            unpublished: EventBatch {
                seqs: Vec::new(),
                events: Vec::new(),
            },
            ring: VecDeque::new(),
            subscribers: Vec::new(),
            encode: Vec::with_capacity(1 << 12),
            events: Vec::with_capacity(1 << 12),
            rng,
            since_snapshot: 0,
            last_snapshot: Instant::now(),
            failed: false,
            limits: config.limits.clone(),
            retention_floor: config.retention_floor.clone(),
            floor_pruned: 0,
            last_prune: Instant::now(),
        }
    }

    /// The wall clock in µs, never earlier than the last stamp (the journal's times only
    /// move forward, whatever NTP does).
    fn stamp(&mut self) -> Timestamp {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as i64);
        self.last_at = self.last_at.max(wall);
        Timestamp(self.last_at)
    }

    fn seed(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    fn configure_if_changed(&mut self, configure: Configure) {
        if *self.engine.config() != crate::Config::from_command(&configure) {
            let outcome = self.execute(Command::Configure(configure));
            if let Some(code) = outcome.response.code() {
                tracing::error!(%code, "the configured engine settings were refused");
            }
            self.settle();
        }
    }

    /// Journals and applies one command. The outcome is not durable yet.
    fn execute(&mut self, command: Command) -> CommandOutcome {
        if self.failed {
            return CommandOutcome {
                seq: 0,
                at: Timestamp::ZERO,
                response: Response::Rejected(ResultCode::Unavailable),
                events: Vec::new(),
            };
        }
        let at = self.stamp();
        let seed = self.seed();
        let entry = JournalEntry { at, seed, command };
        self.encode.clear();
        entry.encode(&mut self.encode);
        // A deliberately broken build for the durability tests: commands are applied and
        // acknowledged without ever reaching the journal, which a crash test must catch.
        #[cfg(feature = "broken-skip-journal")]
        let appended = Ok(self.engine.last_seq() + 1);
        #[cfg(not(feature = "broken-skip-journal"))]
        let appended = self.journal.append(&self.encode);
        let seq = match appended {
            Ok(seq) => seq,
            Err(error) => {
                self.fail(&error);
                return CommandOutcome {
                    seq: 0,
                    at: Timestamp::ZERO,
                    response: Response::Rejected(ResultCode::Unavailable),
                    events: Vec::new(),
                };
            }
        };
        self.events.clear();
        let response = self
            .engine
            .apply(&entry.command, &Ctx { at, seed, seq }, &mut self.events);
        self.shared.stats.commands.fetch_add(1, Ordering::Relaxed);
        self.shared.stats.last_seq.store(seq, Ordering::Relaxed);
        self.since_snapshot += 1;
        for event in &self.events {
            self.unpublished.seqs.push(seq);
            self.unpublished.events.push(event.clone());
        }
        CommandOutcome {
            seq,
            at,
            response,
            events: self.events.clone(),
        }
    }

    /// The journal failed: stop writing, answer everything held as unavailable.
    fn fail(&mut self, error: &JournalError) {
        tracing::error!(%error, "journal failed; the core stops accepting commands");
        self.failed = true;
        *self.shared.health.lock().expect("health lock") = Health::Failed {
            reason: error.to_string(),
        };
        for held in self.held.drain(..) {
            match held {
                Held::Command(_, reply, _) => reply(CommandOutcome {
                    seq: 0,
                    at: Timestamp::ZERO,
                    response: Response::Rejected(ResultCode::Unavailable),
                    events: Vec::new(),
                }),
                Held::Query(_, reply, answer) => reply(*answer),
            }
        }
        self.unpublished.seqs.clear();
        self.unpublished.events.clear();
    }

    /// Syncs as the policy says, then delivers what became durable.
    fn settle(&mut self) {
        if self.failed {
            return;
        }
        let started = Instant::now();
        let durable = match self.durability {
            Durability::None => Ok(self.journal.last_seq()),
            Durability::Batch => {
                if self.journal.durable_seq() < self.journal.last_seq() {
                    let result = self.journal.sync();
                    self.shared
                        .stats
                        .record_sync(started.elapsed().as_micros() as u64);
                    result
                } else {
                    Ok(self.journal.durable_seq())
                }
            }
            Durability::Interval { .. } => {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_micros() as u64);
                let before = self.journal.durable_seq();
                let result = self.journal.sync_if_due(now);
                if matches!(result, Ok(after) if after > before) {
                    self.shared
                        .stats
                        .record_sync(started.elapsed().as_micros() as u64);
                }
                result
            }
        };
        #[cfg(feature = "broken-skip-journal")]
        let durable = durable.map(|_| self.engine.last_seq());
        let durable = match durable {
            Ok(seq) => seq,
            Err(error) => {
                self.fail(&error);
                return;
            }
        };
        self.shared
            .stats
            .durable_seq
            .store(durable, Ordering::Relaxed);
        while self.held.front().is_some_and(|h| h.seq() <= durable) {
            self.held.pop_front().expect("checked").deliver();
        }
        self.publish(durable);
    }

    /// Publishes the events of commands up to `durable`.
    fn publish(&mut self, durable: u64) {
        let count = self
            .unpublished
            .seqs
            .iter()
            .take_while(|&&seq| seq <= durable)
            .count();
        if count == 0 {
            return;
        }
        let batch = Arc::new(EventBatch {
            seqs: self.unpublished.seqs.drain(..count).collect(),
            events: self.unpublished.events.drain(..count).collect(),
        });
        if self.ring.len() >= EVENT_RING_MAX {
            self.ring.pop_front();
        }
        self.ring.push_back(Arc::clone(&batch));
        let before = self.subscribers.len();
        self.subscribers
            .retain_mut(|subscriber| (subscriber.callback)(&batch));
        let dropped = before - self.subscribers.len();
        if dropped > 0 {
            self.shared
                .stats
                .dropped_subscribers
                .fetch_add(dropped as u64, Ordering::Relaxed);
            self.shared
                .stats
                .subscribers
                .store(self.subscribers.len(), Ordering::Relaxed);
        }
    }

    fn subscribe(&mut self, from_seq: u64, mut callback: SubscriberFn) {
        if self.subscribers.len() >= SUBSCRIBERS_MAX {
            tracing::warn!("subscriber limit reached; refusing a subscriber");
            return;
        }
        if from_seq > 0 {
            for batch in &self.ring {
                if batch.seqs.last().is_some_and(|&last| last > from_seq) && !callback(batch) {
                    return;
                }
            }
        }
        self.subscribers.push(Subscriber { callback });
        self.shared
            .stats
            .subscribers
            .store(self.subscribers.len(), Ordering::Relaxed);
    }

    fn handle(&mut self, message: Message) -> bool {
        if !matches!(message, Message::Shutdown) {
            self.shared
                .stats
                .queue_depth
                .fetch_sub(1, Ordering::Relaxed);
        }
        match message {
            Message::Command(_, Some(deadline), reply) if Instant::now() >= deadline => {
                self.shared.stats.shed.fetch_add(1, Ordering::Relaxed);
                reply(CommandOutcome {
                    seq: 0,
                    at: Timestamp::ZERO,
                    response: Response::Rejected(ResultCode::Overloaded),
                    events: Vec::new(),
                });
            }
            Message::Command(command, _, reply) => {
                let outcome = self.execute(command);
                if outcome.seq == 0 {
                    reply(outcome);
                } else {
                    self.held
                        .push_back(Held::Command(outcome.seq, reply, outcome));
                }
            }
            Message::Query(query, reply) => {
                self.shared.stats.queries.fetch_add(1, Ordering::Relaxed);
                let answer = self.engine.query(&query);
                let seq = self.journal.last_seq();
                if self.held.is_empty() && seq <= self.journal.durable_seq() {
                    reply(answer);
                } else {
                    self.held
                        .push_back(Held::Query(seq, reply, Box::new(answer)));
                }
            }
            Message::Subscribe(from_seq, callback) => self.subscribe(from_seq, callback),
            Message::Follow(applied, reply) => {
                reply(follow_start(&self.journal, applied, &self.limits));
            }
            Message::Shutdown => return false,
        }
        true
    }

    /// Injects a `Tick` when a timer rule is due.
    fn tick(&mut self) {
        let now = self.stamp();
        if self
            .engine
            .next_deadline()
            .is_some_and(|deadline| deadline <= now)
        {
            let _ = self.execute(Command::Tick(Tick {}));
        }
    }

    /// Moves the retention floor to what the history store has applied, and prunes what
    /// it no longer needs (at most once a second).
    fn follow_retention(&mut self) {
        let Some(floor) = &self.retention_floor else {
            return;
        };
        let floor = floor.load(Ordering::Acquire);
        self.journal.set_retention_floor(Some(floor));
        if floor > self.floor_pruned && self.last_prune.elapsed() >= Duration::from_secs(1) {
            self.floor_pruned = floor;
            self.last_prune = Instant::now();
            if !self.failed
                && let Err(error) = self.journal.prune()
            {
                tracing::warn!(%error, "pruning journal segments failed");
            }
        }
    }

    fn snapshot(&mut self) {
        if self.failed {
            return;
        }
        self.follow_retention();
        // The snapshot must not cover a record that is not durable: sync first.
        if let Err(error) = self.journal.sync() {
            self.fail(&error);
            return;
        }
        let started = Instant::now();
        let seq = self.engine.last_seq();
        let bytes = self.engine.snapshot();
        match self.journal.write_snapshot(seq, &bytes) {
            Ok(()) => {
                self.shared.stats.snapshots.fetch_add(1, Ordering::Relaxed);
                if let Err(error) = self.journal.prune() {
                    tracing::warn!(%error, "pruning journal segments failed");
                }
                tracing::info!(
                    seq,
                    bytes = bytes.len(),
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "snapshot written"
                );
            }
            Err(error) => {
                tracing::error!(%error, seq, "snapshot failed; the journal still has everything")
            }
        }
        self.since_snapshot = 0;
        self.last_snapshot = Instant::now();
    }

    fn run(mut self) {
        let mut running = true;
        while running {
            let wait = match self.durability {
                Durability::Interval { every_us } if !self.held.is_empty() => {
                    Duration::from_micros(every_us).min(self.tick_interval)
                }
                _ => self.tick_interval,
            };
            // Wake for the next timer rule on time (a game's turn clock), not at the next
            // poll.
            let wait = match self.engine.next_deadline() {
                Some(deadline) => {
                    let now = self.stamp();
                    wait.min(Duration::from_micros(
                        deadline.0.saturating_sub(now.0).max(0) as u64,
                    ))
                }
                None => wait,
            };
            match self.receiver.recv_timeout(wait) {
                Ok(message) => {
                    running = self.handle(message);
                    let mut drained = 1;
                    while running && drained < BATCH_MAX {
                        match self.receiver.try_recv() {
                            Ok(message) => {
                                running = self.handle(message);
                                drained += 1;
                            }
                            Err(_) => break,
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => running = false,
            }
            self.tick();
            self.settle();
            self.follow_retention();
            if self.since_snapshot >= self.snapshot_every
                || (self.since_snapshot > 0
                    && self.last_snapshot.elapsed() >= self.snapshot_interval)
            {
                self.snapshot();
            }
        }
        // Shutdown: answer what is still queued, make everything durable, snapshot.
        self.shared.stopping.store(true, Ordering::Release);
        while let Ok(message) = self.receiver.try_recv() {
            if !matches!(message, Message::Shutdown) {
                self.handle(message);
            }
        }
        if !self.failed
            && let Err(error) = self.journal.sync()
        {
            self.fail(&error);
        }
        self.settle();
        if self.since_snapshot > 0 {
            self.snapshot();
        }
        tracing::info!(last_seq = self.engine.last_seq(), "core stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch_dir(name: &str) -> PathBuf {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        std::env::temp_dir().join(format!("betbet-{name}-{}-{nanos}", std::process::id()))
    }

    #[test]
    fn a_command_taken_after_its_deadline_is_refused_and_never_journaled() {
        let dir = scratch_dir("deadline");
        let core = Core::start(CoreConfig::new(&dir)).expect("core starts");
        let handle = core.handle();
        let run = |deadline: Instant| {
            let (tx, rx) = sync_channel(1);
            handle
                .command_by(
                    Command::Tick(Tick {}),
                    Some(deadline),
                    Box::new(move |outcome| {
                        let _ = tx.send(outcome);
                    }),
                )
                .expect("queued");
            rx.recv().expect("answered")
        };
        let late = run(Instant::now());
        assert_eq!(late.seq, 0);
        assert_eq!(late.response, Response::Rejected(ResultCode::Overloaded));
        assert_eq!(handle.stats().shed.load(Ordering::Relaxed), 1);
        assert_eq!(handle.stats().last_seq.load(Ordering::Relaxed), 0);
        // In time, the same command is executed and is the journal's first record.
        let on_time = run(Instant::now() + Duration::from_secs(60));
        assert_eq!(on_time.seq, 1);
        assert_eq!(handle.stats().shed.load(Ordering::Relaxed), 1);
        core.shutdown();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
