//! Storage behind a trait, so the journal runs on real files and on a simulated disk.
//!
//! The journal needs only a few things from storage: a directory of named files, fixed-size
//! segment files created preallocated and zero-filled, byte writes into a segment, read-only
//! views for scanning and tailing, small whole-file reads and atomic replacement for snapshots,
//! and syncs of a file range, a whole file or the directory. [`FileStorage`] does this with
//! `posix_fallocate`, `mmap` and `msync`/`fdatasync`; [`SimStorage`] keeps a durable and a live
//! image of every file so tests can cut the power at any point and look at what survives.
//!
//! Syncs go through a separate, cloneable [`Syncer`] so a group-commit leader can sync while
//! other threads keep appending (see [`crate::SharedJournal`]).

mod file;
mod sim;

pub use file::{FileHandle, FileSegment, FileStorage, FileSyncer, FileView};
pub use sim::{SimHandle, SimSegment, SimStorage, SimSyncer, SimView};

use crate::error::Result;

/// A directory of journal files.
pub trait Storage: Send + 'static {
    /// A segment open for writing.
    type Segment: SegmentWrite<Syncer = Self::Syncer>;
    /// Syncs a segment range, a whole segment or the directory.
    type Syncer: Syncer;
    /// Opens read-only views from any thread, independent of the writer.
    type Handle: StorageHandle;

    /// Names of the files in the directory, in no particular order.
    fn list(&self) -> Result<Vec<String>>;
    /// Creates a new file of `len` bytes, preallocated and zero-filled, and opens it for writing.
    /// The file's existence becomes durable only after a directory sync. Fails with
    /// [`crate::JournalError::NoSpace`] when there is no room for it.
    fn create(&mut self, name: &str, len: u64) -> Result<Self::Segment>;
    /// Opens an existing file for writing.
    fn open_write(&mut self, name: &str) -> Result<Self::Segment>;
    /// Removes a file; durable only after a directory sync.
    fn remove(&mut self, name: &str) -> Result<()>;
    /// Reads a whole (small) file.
    fn read_file(&self, name: &str) -> Result<Vec<u8>>;
    /// Replaces `name` atomically and durably with the concatenation of `parts`: write a
    /// temporary file, sync it, rename it over `name`, sync the directory.
    fn write_atomic(&mut self, name: &str, parts: &[&[u8]]) -> Result<()>;
    /// A syncer whose `sync_all` makes the directory's entries durable.
    fn dir_syncer(&self) -> Self::Syncer;
    /// A handle that opens read-only views.
    fn handle(&self) -> Self::Handle;
    /// A human-readable location of `name` for error messages (a path for files).
    fn describe(&self, name: &str) -> String;
}

/// Opens read-only views of files; cheap to clone and usable from any thread.
pub trait StorageHandle: Clone + Send + Sync + 'static {
    /// A read-only view of one file.
    type View: SegmentView;
    /// Opens a read-only view of `name`.
    fn open_read(&self, name: &str) -> Result<Self::View>;
    /// A human-readable location of `name` for error messages.
    fn describe(&self, name: &str) -> String;
}

/// A read-only view of one file.
pub trait SegmentView: Send + 'static {
    /// Length of the file when the view was opened.
    fn len(&self) -> usize;
    /// Whether the file is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Calls `f` with bytes `offset..offset + len`. Panics when the range is out of bounds.
    ///
    /// Callers only read ranges that nobody is writing: published records, or anything while the
    /// journal is being opened.
    fn read_at<R>(&self, offset: usize, len: usize, f: impl FnOnce(&[u8]) -> R) -> R;
}

/// A segment open for writing.
pub trait SegmentWrite: Send + 'static {
    /// Its syncer type.
    type Syncer: Syncer;
    /// Length of the file.
    fn len(&self) -> usize;
    /// Whether the file is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Writes `bytes` at `offset`. Panics when the range is out of bounds: the journal checks
    /// room before writing, so that would be a broken invariant.
    fn write(&mut self, offset: usize, bytes: &[u8]);
    /// A syncer for this segment, usable while more bytes are written.
    fn syncer(&self) -> Self::Syncer;
}

/// Makes written bytes durable.
pub trait Syncer: Clone + Send + Sync + 'static {
    /// Makes bytes `offset..offset + len` (and the file's size) durable, like `msync(MS_SYNC)`.
    fn sync_range(&self, offset: usize, len: usize) -> Result<()>;
    /// Makes the whole file durable, like `fdatasync`; for a directory syncer, its entries.
    fn sync_all(&self) -> Result<()>;
}
