//! The simulated backend: an in-memory disk that can lose power.
//!
//! Every file keeps a *live* image (what the page cache holds) and a *durable* image (what is on
//! the platter), plus the set of 4 KiB pages written since they were last synced. A range sync
//! copies its dirty pages to the durable image; a failing sync (injected) drops them instead, the
//! way Linux marks pages clean after a failed writeback. Directory entries have the same split:
//! creating, renaming and removing a file changes the live directory, and only a directory sync
//! makes the change durable.
//!
//! [`SimStorage::crash_image`] builds the disk a machine would find after a power cut: every
//! durable directory entry with its durable image, plus a random subset of the dirty pages, each
//! written whole or torn at 512-byte sector granularity (some sectors new, some old). A file whose
//! size was never synced comes back either empty or at full length. The randomness is a seeded
//! SplitMix64 so every crash is reproducible from its seed.

use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::{SegmentView, SegmentWrite, Storage, StorageHandle, Syncer};
use crate::error::{JournalError, Result};
use crate::format::{PAGE_BYTES, TEMP_SUFFIX};

const SECTOR_BYTES: usize = 512;
const _: () = assert!(PAGE_BYTES.is_multiple_of(SECTOR_BYTES));

/// An in-memory journal directory with separate live and durable images. Clones share the disk.
#[derive(Clone, Debug, Default)]
pub struct SimStorage {
    disk: Arc<Mutex<Disk>>,
}

#[derive(Debug, Default)]
struct Disk {
    files: Vec<SimFile>,
    live: BTreeMap<String, usize>,
    durable: BTreeMap<String, usize>,
    fail_syncs: bool,
    capacity_bytes: Option<u64>,
    sync_delay: Option<std::time::Duration>,
    syncs: u64,
}

#[derive(Debug)]
struct SimFile {
    live: Vec<u8>,
    /// `None` until the file's size was first synced.
    durable: Option<Vec<u8>>,
    dirty: Vec<bool>,
}

impl SimFile {
    fn new(len: usize) -> SimFile {
        SimFile {
            live: vec![0; len],
            durable: None,
            dirty: vec![false; len.div_ceil(PAGE_BYTES)],
        }
    }

    fn write(&mut self, offset: usize, bytes: &[u8]) {
        assert!(
            offset <= self.live.len() && bytes.len() <= self.live.len() - offset,
            "segment write out of bounds"
        );
        if bytes.is_empty() {
            return;
        }
        self.live[offset..offset + bytes.len()].copy_from_slice(bytes);
        for page in offset / PAGE_BYTES..=(offset + bytes.len() - 1) / PAGE_BYTES {
            self.dirty[page] = true;
        }
    }

    /// Copies the dirty pages of `pages` to the durable image, or drops them when `fail`.
    fn sync_pages(&mut self, pages: std::ops::Range<usize>, fail: bool) {
        if !fail && self.durable.is_none() {
            self.durable = Some(vec![0; self.live.len()]);
        }
        for page in pages {
            if !self.dirty[page] {
                continue;
            }
            self.dirty[page] = false;
            if let Some(durable) = self.durable.as_mut().filter(|_| !fail) {
                let range = page * PAGE_BYTES..((page + 1) * PAGE_BYTES).min(self.live.len());
                durable[range.clone()].copy_from_slice(&self.live[range]);
            }
        }
    }
}

fn sim_io_error(name: &str, kind: io::ErrorKind) -> JournalError {
    JournalError::io(format!("sim:{name}"), io::Error::from(kind))
}

fn injected_failure(name: &str) -> JournalError {
    JournalError::io(
        format!("sim:{name}"),
        io::Error::other("injected sync failure (EIO)"),
    )
}

impl SimStorage {
    /// An empty simulated disk.
    pub fn new() -> SimStorage {
        SimStorage::default()
    }

    fn lock(&self) -> MutexGuard<'_, Disk> {
        // A panic while holding the lock can only come from a failed assertion, which already
        // fails the test; the disk itself is still consistent enough to inspect.
        self.disk.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes every later sync fail (or succeed again), like a disk returning EIO.
    pub fn set_fail_syncs(&self, fail: bool) {
        self.lock().fail_syncs = fail;
    }

    /// Makes every sync sleep this long first (outside the disk lock), as a real disk takes
    /// time; widens the windows in which concurrent syncs can overtake each other.
    pub fn set_sync_delay(&self, delay: Option<std::time::Duration>) {
        self.lock().sync_delay = delay;
    }

    fn delay_sync(&self) {
        let delay = self.lock().sync_delay;
        if let Some(delay) = delay {
            std::thread::sleep(delay);
        }
    }

    /// Limits the total size of live files; creating a file beyond it fails with `NoSpace`.
    pub fn set_capacity(&self, bytes: Option<u64>) {
        self.lock().capacity_bytes = bytes;
    }

    /// How many syncs (range, file or directory) succeeded so far.
    pub fn sync_count(&self) -> u64 {
        self.lock().syncs
    }

    /// Names in the live directory, sorted.
    pub fn file_names(&self) -> Vec<String> {
        self.lock().live.keys().cloned().collect()
    }

    /// The live bytes of `name`, if it exists.
    pub fn file_bytes(&self, name: &str) -> Option<Vec<u8>> {
        let disk = self.lock();
        disk.live.get(name).map(|&id| disk.files[id].live.clone())
    }

    /// XORs `mask` into byte `offset` of `name` in both images, like media corruption.
    pub fn corrupt(&self, name: &str, offset: usize, mask: u8) {
        let mut disk = self.lock();
        let id = *disk.live.get(name).expect("corrupt: no such file");
        let file = &mut disk.files[id];
        file.live[offset] ^= mask;
        if let Some(durable) = file.durable.as_mut() {
            durable[offset] ^= mask;
        }
    }

    /// The disk as found after a power cut now, chosen by `seed`: durable directory entries with
    /// their durable images plus a random subset of dirty pages, each possibly torn at 512-byte
    /// sectors. Everything in the returned disk is durable.
    pub fn crash_image(&self, seed: u64) -> SimStorage {
        let disk = self.lock();
        let mut rng = SplitMix64(seed);
        let mut crashed = Disk {
            capacity_bytes: disk.capacity_bytes,
            ..Disk::default()
        };
        for (name, &id) in &disk.durable {
            let file = &disk.files[id];
            let mut image = match &file.durable {
                Some(durable) => durable.clone(),
                // The size was never synced: the metadata may or may not have reached the disk.
                None if rng.coin() => Vec::new(),
                None => vec![0; file.live.len()],
            };
            for (page, _) in file.dirty.iter().enumerate().filter(|(_, dirty)| **dirty) {
                let start = page * PAGE_BYTES;
                if start >= image.len() {
                    continue;
                }
                let end = ((page + 1) * PAGE_BYTES).min(image.len());
                match rng.next() % 3 {
                    // The page never left the page cache.
                    0 => {}
                    // The whole page was written.
                    1 => image[start..end].copy_from_slice(&file.live[start..end]),
                    // The write was torn: each sector is independently new or old.
                    _ => {
                        for sector in (start..end).step_by(SECTOR_BYTES) {
                            if rng.coin() {
                                let sector_end = (sector + SECTOR_BYTES).min(end);
                                image[sector..sector_end]
                                    .copy_from_slice(&file.live[sector..sector_end]);
                            }
                        }
                    }
                }
            }
            let pages = image.len().div_ceil(PAGE_BYTES);
            let new_id = crashed.files.len();
            crashed.files.push(SimFile {
                durable: Some(image.clone()),
                live: image,
                dirty: vec![false; pages],
            });
            crashed.live.insert(name.clone(), new_id);
            crashed.durable.insert(name.clone(), new_id);
        }
        SimStorage {
            disk: Arc::new(Mutex::new(crashed)),
        }
    }
}

impl Disk {
    fn live_bytes(&self) -> u64 {
        self.live
            .values()
            .map(|&id| self.files[id].live.len() as u64)
            .sum()
    }

    fn check_room(&self, name: &str, len: u64) -> Result<()> {
        match self.capacity_bytes {
            Some(capacity) if self.live_bytes() + len > capacity => Err(JournalError::NoSpace {
                path: format!("sim:{name}"),
                bytes: len,
            }),
            _ => Ok(()),
        }
    }

    fn new_file(&mut self, len: usize) -> usize {
        self.files.push(SimFile::new(len));
        self.files.len() - 1
    }

    fn sync_dir(&mut self) -> Result<()> {
        if self.fail_syncs {
            return Err(injected_failure("directory"));
        }
        self.durable = self.live.clone();
        self.syncs += 1;
        Ok(())
    }
}

impl Storage for SimStorage {
    type Segment = SimSegment;
    type Syncer = SimSyncer;
    type Handle = SimHandle;

    fn list(&self) -> Result<Vec<String>> {
        Ok(self.file_names())
    }

    fn create(&mut self, name: &str, len: u64) -> Result<SimSegment> {
        let mut disk = self.lock();
        if disk.live.contains_key(name) {
            return Err(sim_io_error(name, io::ErrorKind::AlreadyExists));
        }
        disk.check_room(name, len)?;
        let len =
            usize::try_from(len).map_err(|_| sim_io_error(name, io::ErrorKind::InvalidInput))?;
        let id = disk.new_file(len);
        disk.live.insert(name.to_owned(), id);
        Ok(SimSegment {
            storage: self.clone(),
            id,
            len,
            name: Arc::from(name),
        })
    }

    fn open_write(&mut self, name: &str) -> Result<SimSegment> {
        let disk = self.lock();
        let &id = disk
            .live
            .get(name)
            .ok_or_else(|| sim_io_error(name, io::ErrorKind::NotFound))?;
        let len = disk.files[id].live.len();
        drop(disk);
        Ok(SimSegment {
            storage: self.clone(),
            id,
            len,
            name: Arc::from(name),
        })
    }

    fn remove(&mut self, name: &str) -> Result<()> {
        let mut disk = self.lock();
        disk.live
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| sim_io_error(name, io::ErrorKind::NotFound))
    }

    fn read_file(&self, name: &str) -> Result<Vec<u8>> {
        self.file_bytes(name)
            .ok_or_else(|| sim_io_error(name, io::ErrorKind::NotFound))
    }

    fn write_atomic(&mut self, name: &str, parts: &[&[u8]]) -> Result<()> {
        let tmp = format!("{name}{TEMP_SUFFIX}");
        let mut disk = self.lock();
        disk.live.remove(&tmp);
        let len: usize = parts.iter().map(|part| part.len()).sum();
        disk.check_room(&tmp, len as u64)?;
        let id = disk.new_file(len);
        disk.live.insert(tmp.clone(), id);
        let mut offset = 0;
        for part in parts {
            disk.files[id].write(offset, part);
            offset += part.len();
        }
        let fail = disk.fail_syncs;
        let pages = disk.files[id].dirty.len();
        disk.files[id].sync_pages(0..pages, fail);
        if fail {
            return Err(injected_failure(&tmp));
        }
        disk.syncs += 1;
        disk.live.remove(&tmp);
        disk.live.insert(name.to_owned(), id);
        disk.sync_dir()
    }

    fn dir_syncer(&self) -> SimSyncer {
        SimSyncer {
            storage: self.clone(),
            target: None,
        }
    }

    fn handle(&self) -> SimHandle {
        SimHandle {
            storage: self.clone(),
        }
    }

    fn describe(&self, name: &str) -> String {
        format!("sim:{name}")
    }
}

/// A simulated segment open for writing.
#[derive(Debug)]
pub struct SimSegment {
    storage: SimStorage,
    id: usize,
    len: usize,
    name: Arc<str>,
}

impl SegmentWrite for SimSegment {
    type Syncer = SimSyncer;

    fn len(&self) -> usize {
        self.len
    }

    fn write(&mut self, offset: usize, bytes: &[u8]) {
        self.storage.lock().files[self.id].write(offset, bytes);
    }

    fn syncer(&self) -> SimSyncer {
        SimSyncer {
            storage: self.storage.clone(),
            target: Some((self.id, Arc::clone(&self.name))),
        }
    }
}

/// Syncs a simulated file range, whole file, or the directory.
#[derive(Clone, Debug)]
pub struct SimSyncer {
    storage: SimStorage,
    /// The file to sync, or `None` for the directory.
    target: Option<(usize, Arc<str>)>,
}

impl Syncer for SimSyncer {
    fn sync_range(&self, offset: usize, len: usize) -> Result<()> {
        let Some((id, name)) = &self.target else {
            return self.sync_all();
        };
        self.storage.delay_sync();
        let mut disk = self.storage.lock();
        let fail = disk.fail_syncs;
        let file = &mut disk.files[*id];
        let end = (offset + len).min(file.live.len());
        let pages = offset / PAGE_BYTES..end.div_ceil(PAGE_BYTES);
        file.sync_pages(pages, fail);
        if fail {
            return Err(injected_failure(name));
        }
        disk.syncs += 1;
        Ok(())
    }

    fn sync_all(&self) -> Result<()> {
        self.storage.delay_sync();
        let mut disk = self.storage.lock();
        let Some((id, name)) = &self.target else {
            return disk.sync_dir();
        };
        let fail = disk.fail_syncs;
        let file = &mut disk.files[*id];
        let pages = file.dirty.len();
        file.sync_pages(0..pages, fail);
        if fail {
            return Err(injected_failure(name));
        }
        disk.syncs += 1;
        Ok(())
    }
}

/// Opens read-only views of simulated files from any thread.
#[derive(Clone, Debug)]
pub struct SimHandle {
    storage: SimStorage,
}

impl StorageHandle for SimHandle {
    type View = SimView;

    fn open_read(&self, name: &str) -> Result<SimView> {
        let disk = self.storage.lock();
        let &id = disk
            .live
            .get(name)
            .ok_or_else(|| sim_io_error(name, io::ErrorKind::NotFound))?;
        let len = disk.files[id].live.len();
        drop(disk);
        Ok(SimView {
            storage: self.storage.clone(),
            id,
            len,
        })
    }

    fn describe(&self, name: &str) -> String {
        format!("sim:{name}")
    }
}

/// A read-only view of a simulated file's live image.
#[derive(Debug)]
pub struct SimView {
    storage: SimStorage,
    id: usize,
    len: usize,
}

impl SegmentView for SimView {
    fn len(&self) -> usize {
        self.len
    }

    fn read_at<R>(&self, offset: usize, len: usize, f: impl FnOnce(&[u8]) -> R) -> R {
        assert!(
            offset <= self.len && len <= self.len - offset,
            "segment read out of bounds"
        );
        let disk = self.storage.lock();
        f(&disk.files[self.id].live[offset..offset + len])
    }
}

/// SplitMix64: tiny, seedable and good enough to pick pages and sectors.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn coin(&mut self) -> bool {
        self.next() & 1 == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsynced_writes_and_entries_do_not_survive_every_crash() {
        let mut sim = SimStorage::new();
        let mut seg = sim.create("a", 8192).unwrap();
        seg.write(0, &[1; 100]);
        // The entry was never made durable, so no crash image contains the file.
        for seed in 0..20 {
            assert!(sim.crash_image(seed).file_names().is_empty());
        }
        sim.dir_syncer().sync_all().unwrap();
        seg.syncer().sync_range(0, 100).unwrap();
        seg.write(5000, &[2; 10]);
        let mut saw_new = false;
        let mut saw_old = false;
        for seed in 0..50 {
            let crashed = sim.crash_image(seed);
            let bytes = crashed.file_bytes("a").unwrap();
            assert_eq!(&bytes[..100], &[1; 100][..], "synced bytes always survive");
            if bytes[5000] == 2 {
                saw_new = true
            } else {
                saw_old = true
            }
        }
        assert!(
            saw_new && saw_old,
            "dirty pages survive in some crashes and not in others"
        );
    }

    #[test]
    fn torn_pages_mix_sectors() {
        let mut sim = SimStorage::new();
        let mut seg = sim.create("a", 4096).unwrap();
        sim.dir_syncer().sync_all().unwrap();
        seg.syncer().sync_all().unwrap();
        seg.write(0, &[9; 4096]);
        let torn = (0..200).any(|seed| {
            let bytes = sim.crash_image(seed).file_bytes("a").unwrap();
            let new_sectors = bytes.chunks(SECTOR_BYTES).filter(|s| s[0] == 9).count();
            new_sectors > 0 && new_sectors < PAGE_BYTES / SECTOR_BYTES
        });
        assert!(torn);
    }

    #[test]
    fn failed_sync_drops_dirty_pages() {
        let mut sim = SimStorage::new();
        let mut seg = sim.create("a", 4096).unwrap();
        sim.dir_syncer().sync_all().unwrap();
        seg.syncer().sync_all().unwrap();
        seg.write(0, &[7; 8]);
        sim.set_fail_syncs(true);
        assert!(seg.syncer().sync_range(0, 8).is_err());
        for seed in 0..20 {
            assert_eq!(sim.crash_image(seed).file_bytes("a").unwrap()[0], 0);
        }
    }
}
