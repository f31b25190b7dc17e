//! A thread-safe journal with leader/follower group commit.
//!
//! Appends take a short mutex on the journal. A thread that needs its record durable joins the
//! commit: the first one to find no sync in flight becomes the leader, takes the sync plan (every
//! record appended so far) under the journal mutex, releases it, and runs the plan while other
//! threads keep appending; the others wait on a condition variable. When the plan finishes the
//! leader publishes the durable seq and wakes everyone; a follower whose record came after the
//! plan was taken leads the next round. No thread returns before a sync covering its record
//! returned, and a failed sync fails every waiter.

use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use crate::error::Result;
use crate::journal::{Journal, SyncItem, complete_sync, run_sync_plan};
use crate::storage::{FileStorage, Storage};
use crate::watch::{DurableWatch, Shared};

struct Commit<Y> {
    leader: bool,
    spare: Vec<SyncItem<Y>>,
}

/// A [`Journal`] shared between threads, with group commit.
pub struct SharedJournal<S: Storage = FileStorage> {
    journal: Mutex<Journal<S>>,
    shared: Arc<Shared>,
    commit: Mutex<Commit<S::Syncer>>,
    committed: Condvar,
}

impl<S: Storage> fmt::Debug for SharedJournal<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedJournal")
            .field("appended_seq", &self.shared.appended())
            .field("durable_seq", &self.shared.durable())
            .finish_non_exhaustive()
    }
}

/// Clears the leader flag even if the leader panics, so followers never wait forever.
struct LeaderGuard<'a, Y> {
    commit: &'a Mutex<Commit<Y>>,
    committed: &'a Condvar,
    spare: Option<Vec<SyncItem<Y>>>,
}

impl<Y> Drop for LeaderGuard<'_, Y> {
    fn drop(&mut self) {
        let mut commit = self.commit.lock().unwrap_or_else(PoisonError::into_inner);
        commit.leader = false;
        if let Some(mut spare) = self.spare.take() {
            spare.clear();
            commit.spare = spare;
        }
        self.committed.notify_all();
    }
}

impl<S: Storage> SharedJournal<S> {
    /// Wraps an open journal.
    pub fn new(journal: Journal<S>) -> SharedJournal<S> {
        let shared = Arc::clone(journal.shared());
        SharedJournal {
            journal: Mutex::new(journal),
            shared,
            commit: Mutex::new(Commit {
                leader: false,
                spare: Vec::with_capacity(32),
            }),
            committed: Condvar::new(),
        }
    }

    /// Exclusive access to the journal, for snapshots, pruning, readers and replay. A panic while
    /// holding it means a journal invariant broke, so the poison is passed on as a panic.
    pub fn lock(&self) -> MutexGuard<'_, Journal<S>> {
        self.journal
            .lock()
            .expect("a thread panicked while appending to the journal")
    }

    /// Unwraps the journal.
    pub fn into_inner(self) -> Journal<S> {
        self.journal
            .into_inner()
            .expect("a thread panicked while appending to the journal")
    }

    /// Appends a record without waiting for it to be durable; see [`SharedJournal::wait_durable`].
    pub fn append(&self, payload: &[u8]) -> Result<u64> {
        self.lock().append(payload)
    }

    /// Appends a record and returns its seq once a sync covering it returned.
    pub fn append_durable(&self, payload: &[u8]) -> Result<u64> {
        let seq = self.append(payload)?;
        self.wait_durable(seq)?;
        Ok(seq)
    }

    /// Makes every record appended so far durable and returns the durable seq.
    pub fn sync(&self) -> Result<u64> {
        let target = self.shared.appended();
        self.wait_durable(target)
    }

    /// Waits until `seq` is durable, leading a sync if none is in flight. Returns the durable seq.
    pub fn wait_durable(&self, seq: u64) -> Result<u64> {
        let mut commit = self.commit.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            let durable = self.shared.durable();
            if durable >= seq {
                return Ok(durable);
            }
            if self.shared.is_failed() {
                return Err(self.shared.failed_error());
            }
            if commit.leader {
                commit = self
                    .committed
                    .wait(commit)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            commit.leader = true;
            let items = std::mem::take(&mut commit.spare);
            drop(commit);
            let mut guard = LeaderGuard {
                commit: &self.commit,
                committed: &self.committed,
                spare: Some(items),
            };
            let items = guard.spare.as_mut().expect("the leader owns the plan");
            // The plan is taken under the journal mutex, which is then released so appends go
            // on while the plan runs; the in-flight lock keeps an owner's `sync` (say, from
            // `write_snapshot`) from publishing past this plan before it finished.
            let mut journal = self.lock();
            let in_flight = self.shared.sync_in_flight();
            let planned = journal.plan_sync(items);
            drop(journal);
            let outcome = match planned {
                Ok(target) => complete_sync(&self.shared, run_sync_plan(items).map(|()| target)),
                Err(e) => Err(e),
            };
            drop(in_flight);
            drop(guard);
            outcome?;
            commit = self.commit.lock().unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// A cloneable handle to learn and wait for the durable seq.
    pub fn durable_watch(&self) -> DurableWatch {
        DurableWatch {
            shared: Arc::clone(&self.shared),
        }
    }

    /// The highest durable seq.
    pub fn durable_seq(&self) -> u64 {
        self.shared.durable()
    }

    /// The highest appended seq.
    pub fn last_seq(&self) -> u64 {
        self.shared.appended()
    }
}
