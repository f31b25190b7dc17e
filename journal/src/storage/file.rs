//! The file backend: a directory of segment files mapped with `mmap`, plus snapshots.
//!
//! Segments are preallocated with `posix_fallocate` before they are mapped, so a full disk shows
//! up as `NoSpace` when a segment is created rather than as a `SIGBUS` when a page of the map is
//! first written; files are never shrunk while mapped. Writes go through a raw shared mapping
//! (`MmapRaw`) so no Rust reference ever covers bytes another thread may be reading or syncing.
//! An exclusive `flock` on `journal.lock` keeps a second process (or a second open in this
//! process) out of the directory.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::{MmapOptions, MmapRaw};

use super::{SegmentView, SegmentWrite, Storage, StorageHandle, Syncer};
use crate::error::{JournalError, Result};
use crate::format::TEMP_SUFFIX;

/// Name of the lock file inside a journal directory.
pub const LOCK_FILE_NAME: &str = "journal.lock";

/// A journal directory on a real file system.
#[derive(Debug)]
pub struct FileStorage {
    dir: Arc<PathBuf>,
    dir_file: Arc<File>,
    // Held for the storage's lifetime: closing the descriptor releases the flock.
    _lock: File,
}

impl FileStorage {
    /// Opens (creating if needed) the journal directory `dir` and takes its exclusive lock.
    pub fn open(dir: impl AsRef<Path>) -> Result<FileStorage> {
        let dir = dir.as_ref().to_path_buf();
        let show = dir.display().to_string();
        if !dir.is_dir() {
            fs::create_dir_all(&dir).map_err(|e| JournalError::io(&show, e))?;
            // The new directory's own entry must be durable before anything in it can be.
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                File::open(parent)
                    .and_then(|parent| parent.sync_all())
                    .map_err(|e| JournalError::io(parent.display().to_string(), e))?;
            }
        }
        let lock_path = dir.join(LOCK_FILE_NAME);
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|e| JournalError::io(lock_path.display().to_string(), e))?;
        lock_exclusive(&lock).map_err(|e| {
            if e.kind() == io::ErrorKind::WouldBlock {
                JournalError::Locked { dir: show.clone() }
            } else {
                JournalError::io(lock_path.display().to_string(), e)
            }
        })?;
        let dir_file = File::open(&dir).map_err(|e| JournalError::io(&show, e))?;
        Ok(FileStorage {
            dir: Arc::new(dir),
            dir_file: Arc::new(dir_file),
            _lock: lock,
        })
    }

    /// The journal directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

#[allow(unsafe_code)]
fn lock_exclusive(file: &File) -> io::Result<()> {
    // SAFETY: `flock` only reads the descriptor number, which `file` keeps open for the call.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[allow(unsafe_code)]
fn preallocate(file: &File, len: u64) -> io::Result<()> {
    let len =
        libc::off_t::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `posix_fallocate` only reads the descriptor number and two integers; `file` keeps
    // the descriptor open for the call.
    let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len) };
    // posix_fallocate returns the error number instead of setting errno.
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(rc))
    }
}

fn map_segment(file: &File, path: &Path) -> Result<MmapRaw> {
    MmapOptions::new()
        .map_raw(file)
        .map_err(|e| JournalError::io(path.display().to_string(), e))
}

impl Storage for FileStorage {
    type Segment = FileSegment;
    type Syncer = FileSyncer;
    type Handle = FileHandle;

    fn list(&self) -> Result<Vec<String>> {
        let show = || self.dir.display().to_string();
        let mut names = Vec::new();
        for entry in fs::read_dir(&*self.dir).map_err(|e| JournalError::io(show(), e))? {
            let entry = entry.map_err(|e| JournalError::io(show(), e))?;
            if let Some(name) = entry.file_name().to_str() {
                names.push(name.to_owned());
            }
        }
        Ok(names)
    }

    fn create(&mut self, name: &str, len: u64) -> Result<FileSegment> {
        let path = self.path(name);
        let show = path.display().to_string();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| JournalError::io(&show, e))?;
        if let Err(e) = preallocate(&file, len) {
            // A half-created segment must not be left behind for recovery to puzzle over.
            drop(file);
            let _ = fs::remove_file(&path);
            return Err(if e.raw_os_error() == Some(libc::ENOSPC) {
                JournalError::NoSpace {
                    path: show,
                    bytes: len,
                }
            } else {
                JournalError::io(show, e)
            });
        }
        let map = map_segment(&file, &path)?;
        assert_eq!(
            map.len() as u64,
            len,
            "a preallocated segment maps at its full length"
        );
        Ok(FileSegment::new(file, map, show))
    }

    fn open_write(&mut self, name: &str) -> Result<FileSegment> {
        let path = self.path(name);
        let show = path.display().to_string();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| JournalError::io(&show, e))?;
        let map = map_segment(&file, &path)?;
        Ok(FileSegment::new(file, map, show))
    }

    fn remove(&mut self, name: &str) -> Result<()> {
        let path = self.path(name);
        fs::remove_file(&path).map_err(|e| JournalError::io(path.display().to_string(), e))
    }

    fn read_file(&self, name: &str) -> Result<Vec<u8>> {
        let path = self.path(name);
        fs::read(&path).map_err(|e| JournalError::io(path.display().to_string(), e))
    }

    fn write_atomic(&mut self, name: &str, parts: &[&[u8]]) -> Result<()> {
        let tmp = self.path(&format!("{name}{TEMP_SUFFIX}"));
        let target = self.path(name);
        let show_tmp = tmp.display().to_string();
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|e| JournalError::io(&show_tmp, e))?;
        for part in parts {
            file.write_all(part)
                .map_err(|e| JournalError::io(&show_tmp, e))?;
        }
        file.sync_all()
            .map_err(|e| JournalError::io(&show_tmp, e))?;
        drop(file);
        fs::rename(&tmp, &target).map_err(|e| JournalError::io(target.display().to_string(), e))?;
        self.dir_syncer().sync_all()
    }

    fn dir_syncer(&self) -> FileSyncer {
        FileSyncer {
            map: None,
            file: Arc::clone(&self.dir_file),
            path: Arc::from(self.dir.display().to_string()),
        }
    }

    fn handle(&self) -> FileHandle {
        FileHandle {
            dir: Arc::clone(&self.dir),
        }
    }

    fn describe(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }
}

/// A segment file mapped for writing.
#[derive(Debug)]
pub struct FileSegment {
    map: Arc<MmapRaw>,
    syncer: FileSyncer,
}

impl FileSegment {
    fn new(file: File, map: MmapRaw, path: String) -> FileSegment {
        let map = Arc::new(map);
        let syncer = FileSyncer {
            map: Some(Arc::clone(&map)),
            file: Arc::new(file),
            path: Arc::from(path),
        };
        FileSegment { map, syncer }
    }
}

impl SegmentWrite for FileSegment {
    type Syncer = FileSyncer;

    fn len(&self) -> usize {
        self.map.len()
    }

    #[allow(unsafe_code)]
    #[inline]
    fn write(&mut self, offset: usize, bytes: &[u8]) {
        assert!(
            offset <= self.map.len() && bytes.len() <= self.map.len() - offset,
            "segment write out of bounds"
        );
        // SAFETY: the destination range lies inside the mapping (checked above), which stays
        // mapped while `self.map` is alive. The file is preallocated and never shrunk, so every
        // mapped page has backing blocks. No Rust reference covers these bytes: readers only
        // borrow records below the published watermark, which the writer never touches again,
        // and the source is a separate buffer, so the ranges cannot overlap.
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                self.map.as_mut_ptr().add(offset),
                bytes.len(),
            );
        }
    }

    fn syncer(&self) -> FileSyncer {
        self.syncer.clone()
    }
}

/// Syncs a segment (with `msync` over a range, or `fdatasync`) or the directory (`fsync`).
#[derive(Clone, Debug)]
pub struct FileSyncer {
    map: Option<Arc<MmapRaw>>,
    file: Arc<File>,
    path: Arc<str>,
}

impl Syncer for FileSyncer {
    fn sync_range(&self, offset: usize, len: usize) -> Result<()> {
        if len == 0 {
            return Ok(());
        }
        match &self.map {
            // memmap2 rounds the start down to a page boundary before calling msync(MS_SYNC).
            Some(map) => map.flush_range(offset, len),
            None => self.file.sync_data(),
        }
        .map_err(|e| JournalError::io(&*self.path, e))
    }

    fn sync_all(&self) -> Result<()> {
        // For a segment, fdatasync also covers the size set by fallocate; for the directory,
        // fsync makes created, renamed and removed entries durable.
        if self.map.is_some() {
            self.file.sync_data()
        } else {
            self.file.sync_all()
        }
        .map_err(|e| JournalError::io(&*self.path, e))
    }
}

/// Opens read-only maps of segment files from any thread.
#[derive(Clone, Debug)]
pub struct FileHandle {
    dir: Arc<PathBuf>,
}

impl StorageHandle for FileHandle {
    type View = FileView;

    fn open_read(&self, name: &str) -> Result<FileView> {
        let path = self.dir.join(name);
        let show = || path.display().to_string();
        let file = File::open(&path).map_err(|e| JournalError::io(show(), e))?;
        let len = file
            .metadata()
            .map_err(|e| JournalError::io(show(), e))?
            .len();
        if len == 0 {
            // mmap refuses empty files; an empty segment simply has no header.
            return Ok(FileView { map: None });
        }
        let map = MmapOptions::new()
            .map_raw_read_only(&file)
            .map_err(|e| JournalError::io(show(), e))?;
        Ok(FileView { map: Some(map) })
    }

    fn describe(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }
}

/// A read-only map of one segment file.
#[derive(Debug)]
pub struct FileView {
    map: Option<MmapRaw>,
}

impl SegmentView for FileView {
    fn len(&self) -> usize {
        self.map.as_ref().map_or(0, MmapRaw::len)
    }

    #[allow(unsafe_code)]
    #[inline]
    fn read_at<R>(&self, offset: usize, len: usize, f: impl FnOnce(&[u8]) -> R) -> R {
        let total = self.len();
        assert!(
            offset <= total && len <= total - offset,
            "segment read out of bounds"
        );
        let Some(map) = &self.map else {
            return f(&[]);
        };
        // SAFETY: the range lies inside the mapping (checked above), which lives as long as
        // `self`, and the file is never shrunk while mapped. Only this range is borrowed, and
        // callers only ask for bytes nobody writes while the borrow lasts: records below the
        // published watermark, or anything while the journal is opening; the directory lock keeps
        // other processes from writing at all.
        let bytes = unsafe { std::slice::from_raw_parts(map.as_ptr().add(offset), len) };
        f(bytes)
    }
}
