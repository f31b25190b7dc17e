//! Files users upload (KYC documents today; data sources and images later), stored under the
//! data directory so that no file exists without the journaled record that points at it.
//!
//! An upload is validated completely before anything is written; then its bytes go to
//! `NAME.part` beside their final name and are synced ([`Staged::write`]); the command that
//! records the file runs; only when it is acknowledged is the file renamed into place
//! ([`Staged::commit`]). A refused command, an error or a dropped request removes the
//! `.part` file. A crash can still leave a `.part` file (written, record unknown) or a final
//! file whose record never became durable: [`sweep`] runs at start-up and keeps exactly the
//! files records point at — renaming a `.part` file whose record exists, deleting the rest.
//!
//! At most [`UPLOADS_IN_FLIGHT_MAX`] uploads are handled at once, so staged files and the
//! request bodies held in memory are bounded too; quotas per user are the core's rules.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use tokio::sync::{Semaphore, SemaphorePermit};

/// Uploads handled at once across the gateway.
pub const UPLOADS_IN_FLIGHT_MAX: usize = 16;

const PART_SUFFIX: &str = ".part";

static IN_FLIGHT: Semaphore = Semaphore::const_new(UPLOADS_IN_FLIGHT_MAX);

/// A slot for one upload, or `None` when [`UPLOADS_IN_FLIGHT_MAX`] are being handled.
pub fn slot() -> Option<SemaphorePermit<'static>> {
    IN_FLIGHT.try_acquire().ok()
}

/// An upload written under its temporary name, waiting for its record.
#[derive(Debug)]
pub struct Staged {
    part: PathBuf,
    path: PathBuf,
    committed: bool,
}

impl Staged {
    /// Writes `bytes` to `data_dir/relative` + `.part` and syncs them.
    pub async fn write(data_dir: &Path, relative: &str, bytes: Vec<u8>) -> std::io::Result<Staged> {
        let path = data_dir.join(relative);
        let part = part_path(&path);
        let staged = Staged {
            part: part.clone(),
            path,
            committed: false,
        };
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            use std::io::Write;
            if let Some(parent) = part.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let mut out = std::fs::File::create(&part)?;
            out.write_all(&bytes)?;
            out.sync_all()
        })
        .await
        .map_err(std::io::Error::other)??;
        Ok(staged)
    }

    /// Moves the file into place (its record is durable) and syncs the directory.
    pub async fn commit(mut self) -> std::io::Result<()> {
        let (part, path) = (self.part.clone(), self.path.clone());
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            std::fs::rename(&part, &path)?;
            if let Some(parent) = path.parent() {
                std::fs::File::open(parent)?.sync_all()?;
            }
            Ok(())
        })
        .await
        .map_err(std::io::Error::other)??;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            // The record was refused or never made: the bytes must not stay.
            let _ = std::fs::remove_file(&self.part);
        }
    }
}

fn part_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(PART_SUFFIX);
    PathBuf::from(name)
}

/// What [`sweep`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub kept: usize,
    pub restored: usize,
    pub removed: usize,
}

/// Keeps exactly the files under `data_dir/area/OWNER/` that records point at. `referenced`
/// gives the relative paths (`area/OWNER/NAME`) the core's records name for one owner
/// directory, or `None` when it cannot tell (the owner's files are then left alone).
pub async fn sweep(
    data_dir: &Path,
    area: &str,
    referenced: impl AsyncFn(&str) -> Option<HashSet<String>>,
) -> std::io::Result<Swept> {
    let mut swept = Swept::default();
    let root = data_dir.join(area);
    let owners = match std::fs::read_dir(&root) {
        Ok(owners) => owners,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(swept),
        Err(e) => return Err(e),
    };
    for owner in owners {
        let owner = owner?;
        if !owner.file_type()?.is_dir() {
            continue;
        }
        let owner_name = owner.file_name().to_string_lossy().into_owned();
        let Some(wanted) = referenced(&owner_name).await else {
            continue;
        };
        for file in std::fs::read_dir(owner.path())? {
            let file = file?;
            let name = file.file_name().to_string_lossy().into_owned();
            let (final_name, staged) = match name.strip_suffix(PART_SUFFIX) {
                Some(stem) => (stem.to_owned(), true),
                None => (name.clone(), false),
            };
            let relative = format!("{area}/{owner_name}/{final_name}");
            match (wanted.contains(&relative), staged) {
                (true, false) => swept.kept += 1,
                (true, true) => {
                    std::fs::rename(file.path(), owner.path().join(&final_name))?;
                    swept.restored += 1;
                }
                (false, _) => {
                    std::fs::remove_file(file.path())?;
                    swept.removed += 1;
                }
            }
        }
    }
    Ok(swept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_staged_file_is_removed_unless_committed_and_sweep_keeps_only_referenced_ones() {
        let dir = tempfile::tempdir().unwrap();
        let kept = Staged::write(dir.path(), "kyc/7/a.png", b"a".to_vec())
            .await
            .unwrap();
        kept.commit().await.unwrap();
        let dropped = Staged::write(dir.path(), "kyc/7/b.png", b"b".to_vec())
            .await
            .unwrap();
        assert!(dir.path().join("kyc/7/b.png.part").exists());
        drop(dropped);
        assert!(!dir.path().join("kyc/7/b.png.part").exists());
        // A crash's leftovers: a staged file whose record exists, one whose record does not,
        // and a final file no record names.
        std::fs::write(dir.path().join("kyc/7/c.png.part"), b"c").unwrap();
        std::fs::write(dir.path().join("kyc/7/d.png.part"), b"d").unwrap();
        std::fs::write(dir.path().join("kyc/7/e.png"), b"e").unwrap();
        std::fs::create_dir_all(dir.path().join("kyc/8")).unwrap();
        std::fs::write(dir.path().join("kyc/8/f.png"), b"f").unwrap();
        let swept = sweep(dir.path(), "kyc", async |owner: &str| match owner {
            "7" => Some(HashSet::from([
                "kyc/7/a.png".to_owned(),
                "kyc/7/c.png".to_owned(),
            ])),
            _ => None,
        })
        .await
        .unwrap();
        assert_eq!(
            swept,
            Swept {
                kept: 1,
                restored: 1,
                removed: 2
            }
        );
        let mut left: Vec<_> = std::fs::read_dir(dir.path().join("kyc/7"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["a.png", "c.png"]);
        // An owner the core could not answer for is left alone.
        assert!(dir.path().join("kyc/8/f.png").exists());
    }
}
