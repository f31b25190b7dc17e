//! State the writer publishes to other threads: appended and durable sequence numbers, the
//! failed flag, and the segment table readers use to find a sequence number.
//!
//! The hot path publishes with a single atomic store; waking sleepers costs a lock and a futex
//! call, so the writer only pays for it when someone is actually waiting (a waiter registers in
//! `waiters` before it re-checks the watermark, which closes the lost-wake-up window).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::error::{JournalError, Result};

/// Which published sequence number a reader may read up to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Watermark {
    /// Records a completed sync covered (the default: what a reader sees is never rolled back).
    Durable,
    /// Records whose bytes are fully written, durable or not.
    Appended,
}

/// One segment as readers see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SegmentEntry {
    pub index: u64,
    pub first_seq: u64,
}

#[derive(Debug)]
pub(crate) struct Shared {
    appended: AtomicU64,
    durable: AtomicU64,
    failed: AtomicBool,
    failure: Mutex<Option<String>>,
    waiters: AtomicUsize,
    wake_lock: Mutex<()>,
    wake: Condvar,
    segments: Mutex<Vec<SegmentEntry>>,
    /// Held from taking a sync plan until its outcome is published, so two plans (the shared
    /// journal's leader and an owner's `sync`) never run at once: a later plan finishing first
    /// would publish a durable seq that the earlier, still running plan has not made durable.
    /// Lock order: the journal's mutex (if any) first, then this.
    sync_in_flight: Mutex<()>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The data behind these locks stays consistent even if a holder panicked (every update is a
    // single assignment), so a poisoned lock is still usable.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn new(last_seq: u64, segments: Vec<SegmentEntry>) -> Shared {
        Shared {
            appended: AtomicU64::new(last_seq),
            durable: AtomicU64::new(last_seq),
            failed: AtomicBool::new(false),
            failure: Mutex::new(None),
            waiters: AtomicUsize::new(0),
            wake_lock: Mutex::new(()),
            wake: Condvar::new(),
            segments: Mutex::new(segments),
            sync_in_flight: Mutex::new(()),
        }
    }

    #[inline]
    pub(crate) fn appended(&self) -> u64 {
        self.appended.load(Ordering::Acquire)
    }

    #[inline]
    pub(crate) fn durable(&self) -> u64 {
        self.durable.load(Ordering::Acquire)
    }

    #[inline]
    pub(crate) fn watermark(&self, watermark: Watermark) -> u64 {
        match watermark {
            Watermark::Durable => self.durable(),
            Watermark::Appended => self.appended(),
        }
    }

    #[inline]
    pub(crate) fn is_failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    pub(crate) fn failure(&self) -> Option<String> {
        lock(&self.failure).clone()
    }

    pub(crate) fn failed_error(&self) -> JournalError {
        JournalError::Failed {
            reason: self.failure().unwrap_or_else(|| "unknown".to_owned()),
        }
    }

    /// Publishes that every record up to `seq` is fully written.
    #[inline]
    pub(crate) fn publish_appended(&self, seq: u64) {
        self.appended.store(seq, Ordering::SeqCst);
        self.wake_waiters();
    }

    /// Publishes that every record up to `seq` is durable.
    pub(crate) fn publish_durable(&self, seq: u64) {
        self.durable.fetch_max(seq, Ordering::SeqCst);
        self.wake_waiters();
    }

    /// Stops the journal for good; the first failure's reason is kept.
    pub(crate) fn fail(&self, reason: String) {
        {
            let mut failure = lock(&self.failure);
            if failure.is_none() {
                *failure = Some(reason);
            }
        }
        self.failed.store(true, Ordering::SeqCst);
        self.wake_waiters();
    }

    #[inline]
    fn wake_waiters(&self) {
        if self.waiters.load(Ordering::SeqCst) > 0 {
            let _guard = lock(&self.wake_lock);
            self.wake.notify_all();
        }
    }

    /// Waits until the `watermark` reaches `seq`, the journal fails, or `timeout` passes.
    /// Returns whether the watermark reached `seq`.
    pub(crate) fn wait_for(&self, watermark: Watermark, seq: u64, timeout: Duration) -> bool {
        if self.watermark(watermark) >= seq {
            return true;
        }
        let deadline = Instant::now().checked_add(timeout);
        let mut guard = lock(&self.wake_lock);
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let reached = loop {
            if self.watermark(watermark) >= seq {
                break true;
            }
            if self.is_failed() {
                break false;
            }
            let left = match deadline {
                Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => left,
                    _ => break false,
                },
                None => Duration::from_secs(3600),
            };
            guard = self
                .wake
                .wait_timeout(guard, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        };
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        drop(guard);
        reached
    }

    pub(crate) fn sync_in_flight(&self) -> MutexGuard<'_, ()> {
        lock(&self.sync_in_flight)
    }

    pub(crate) fn segments(&self) -> MutexGuard<'_, Vec<SegmentEntry>> {
        lock(&self.segments)
    }
}

/// A cloneable handle other threads use to learn and wait for the durable sequence number.
#[derive(Clone, Debug)]
pub struct DurableWatch {
    pub(crate) shared: Arc<Shared>,
}

impl DurableWatch {
    /// The highest sequence number a completed sync covered.
    pub fn durable_seq(&self) -> u64 {
        self.shared.durable()
    }

    /// The highest sequence number whose bytes are fully written.
    pub fn appended_seq(&self) -> u64 {
        self.shared.appended()
    }

    /// Waits until every record up to `seq` is durable. Returns `Ok(true)` when it is,
    /// `Ok(false)` when `timeout` passed first, and [`JournalError::Failed`] when the journal
    /// failed before `seq` became durable (so `seq` must never be acknowledged).
    pub fn wait_durable(&self, seq: u64, timeout: Duration) -> Result<bool> {
        if self.shared.wait_for(Watermark::Durable, seq, timeout) {
            return Ok(true);
        }
        if self.shared.is_failed() && self.shared.durable() < seq {
            return Err(self.shared.failed_error());
        }
        Ok(self.shared.durable() >= seq)
    }

    /// Whether the journal has failed.
    pub fn is_failed(&self) -> bool {
        self.shared.is_failed()
    }
}
