//! One syncer per data directory: an exclusive OS file lock on `sync.lock`,
//! released by the kernel when the process dies, so a kill -9 never leaves a
//! stale lock behind.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::LockError;

pub const LOCK_FILE: &str = "sync.lock";

#[derive(Debug)]
pub struct SyncLock {
    _file: File,
    path: PathBuf,
}

impl SyncLock {
    /// Takes the lock or says who holds it.
    pub fn acquire(data_dir: &Path) -> Result<SyncLock, LockError> {
        let path = data_dir.join(LOCK_FILE);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(LockError::Held {
                    dir: data_dir.to_path_buf(),
                    holder: if holder.is_empty() {
                        String::new()
                    } else {
                        format!(" (pid {holder})")
                    },
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        // The pid only tells people who holds the lock; on a full disk it
        // cannot be written, and the lock holds all the same.
        let _ = file
            .set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| write!(file, "{}", std::process::id()));
        Ok(SyncLock { _file: file, path })
    }

    /// Whether some process holds the lock right now. Reads only: works in
    /// a read-only data directory and leaves the holder's pid in place.
    pub fn is_held(data_dir: &Path) -> bool {
        let Ok(file) = File::open(data_dir.join(LOCK_FILE)) else {
            return false;
        };
        matches!(file.try_lock_shared(), Err(TryLockError::WouldBlock))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}
