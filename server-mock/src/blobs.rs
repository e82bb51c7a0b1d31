//! Page scans on the central side, content-addressed on disk behind
//! [`BlobBackend`] (an object store can implement it later):
//!
//! - `objects/ab/abcd…`: a scan, visible only once its bytes hashed to its name;
//! - `partial/<agent>/<sha256>`: an upload in progress, one per agent and scan,
//!   grown chunk by chunk (each synced before it is acknowledged), so an
//!   upload resumes from the last byte the server committed;
//! - `held/<commune>/<sha256>`: which commune holds which scan. A scan held
//!   for another commune only is uploaded again: the server must not tell
//!   one commune what another holds.
//!
//! The directory is beside the SQLite file by default; for PostgreSQL
//! replicas it is a shared path (`--blobs DIR`).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use hotich_protocol::ContentHash;

/// Unfinished scans one agent may have at once (each a file on disk).
pub const MAX_PARTIALS_PER_AGENT: usize = 8;

/// What appending a chunk led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// Committed; this many bytes are held so far.
    Partial(u64),
    /// The last chunk: the scan checked out and is stored.
    Complete,
    /// The offset is not where the upload stands (a chunk lost or sent
    /// twice): nothing written; resume from here.
    Elsewhere(u64),
    /// All bytes arrived but do not hash to the scan's name: discarded.
    Mismatch,
    /// Too many unfinished scans for this agent.
    TooManyPartials,
}

pub trait BlobBackend: Send + Sync + 'static {
    /// Whether `commune` holds the scan.
    fn held(&self, commune: &str, sha: &ContentHash) -> std::io::Result<bool>;
    /// Bytes of the scan `agent` has uploaded so far.
    fn partial_len(&self, agent: i64, sha: &ContentHash) -> std::io::Result<u64>;
    /// Appends `chunk` at `offset` of a scan of `length` bytes.
    fn append(
        &self,
        agent: i64,
        commune: &str,
        sha: &ContentHash,
        offset: u64,
        length: u64,
        chunk: &[u8],
    ) -> std::io::Result<Appended>;
    /// The scan's bytes, for export and checks.
    fn read(&self, sha: &ContentHash) -> std::io::Result<Vec<u8>>;
    /// The stored scan's size.
    fn len(&self, sha: &ContentHash) -> std::io::Result<u64>;
    /// Every (commune, scan) held, to bring the database's note of them
    /// up to date at start.
    fn all_held(&self) -> std::io::Result<Vec<(String, ContentHash)>>;
}

/// [`BlobBackend`] on a local (or shared) directory.
#[derive(Debug, Clone)]
pub struct BlobDir {
    root: PathBuf,
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

fn hash_file(path: &Path) -> std::io::Result<ContentHash> {
    ContentHash::of_reader(File::open(path)?)
}

impl BlobDir {
    pub fn open(root: impl Into<PathBuf>) -> std::io::Result<BlobDir> {
        let root = root.into();
        for sub in ["objects", "partial", "held"] {
            std::fs::create_dir_all(root.join(sub))?;
        }
        Ok(BlobDir { root })
    }

    /// The default place: beside the SQLite file (`central.db` →
    /// `central.blobs/`).
    pub fn beside(database: &Path) -> PathBuf {
        database.with_extension("blobs")
    }

    pub fn object_path(&self, sha: &ContentHash) -> PathBuf {
        let hex = sha.to_hex();
        self.root.join("objects").join(&hex[..2]).join(hex)
    }

    fn partial_dir(&self, agent: i64) -> PathBuf {
        self.root.join("partial").join(agent.to_string())
    }

    fn held_path(&self, commune: &str, sha: &ContentHash) -> PathBuf {
        self.root.join("held").join(commune).join(sha.to_hex())
    }

    fn mark_held(&self, commune: &str, sha: &ContentHash) -> std::io::Result<()> {
        let path = self.held_path(commune, sha);
        let dir = path.parent().unwrap_or(&self.root);
        std::fs::create_dir_all(dir)?;
        File::create(&path)?.sync_all()?;
        sync_dir(dir)
    }

    /// Checks the whole upload and moves it into place.
    fn finish(
        &self,
        commune: &str,
        sha: &ContentHash,
        partial: &Path,
    ) -> std::io::Result<Appended> {
        if hash_file(partial)? != *sha {
            std::fs::remove_file(partial)?;
            return Ok(Appended::Mismatch);
        }
        let object = self.object_path(sha);
        let dir = object.parent().unwrap_or(&self.root);
        std::fs::create_dir_all(dir)?;
        if object.exists() && hash_file(&object)? == *sha {
            std::fs::remove_file(partial)?;
        } else {
            std::fs::rename(partial, &object)?;
            sync_dir(dir)?;
        }
        self.mark_held(commune, sha)?;
        Ok(Appended::Complete)
    }
}

impl BlobBackend for BlobDir {
    fn held(&self, commune: &str, sha: &ContentHash) -> std::io::Result<bool> {
        Ok(self.held_path(commune, sha).exists() && self.object_path(sha).exists())
    }

    fn partial_len(&self, agent: i64, sha: &ContentHash) -> std::io::Result<u64> {
        match std::fs::metadata(self.partial_dir(agent).join(sha.to_hex())) {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(e),
        }
    }

    fn append(
        &self,
        agent: i64,
        commune: &str,
        sha: &ContentHash,
        offset: u64,
        length: u64,
        chunk: &[u8],
    ) -> std::io::Result<Appended> {
        let dir = self.partial_dir(agent);
        let partial = dir.join(sha.to_hex());
        let held = self.partial_len(agent, sha)?;
        if held != offset {
            return Ok(Appended::Elsewhere(held));
        }
        if held == 0 {
            std::fs::create_dir_all(&dir)?;
            let unfinished = std::fs::read_dir(&dir)?.count();
            if unfinished >= MAX_PARTIALS_PER_AGENT {
                return Ok(Appended::TooManyPartials);
            }
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&partial)?;
        file.write_all(chunk)?;
        // Acknowledged means on disk: a resumed upload starts after it.
        file.sync_data()?;
        if held == 0 {
            sync_dir(&dir)?;
        }
        let now = offset + chunk.len() as u64;
        if now < length {
            return Ok(Appended::Partial(now));
        }
        drop(file);
        self.finish(commune, sha, &partial)
    }

    fn read(&self, sha: &ContentHash) -> std::io::Result<Vec<u8>> {
        std::fs::read(self.object_path(sha))
    }

    fn len(&self, sha: &ContentHash) -> std::io::Result<u64> {
        Ok(std::fs::metadata(self.object_path(sha))?.len())
    }

    fn all_held(&self) -> std::io::Result<Vec<(String, ContentHash)>> {
        let mut out = Vec::new();
        for commune in std::fs::read_dir(self.root.join("held"))? {
            let commune = commune?;
            let Some(code) = commune.file_name().to_str().map(str::to_string) else {
                continue;
            };
            for scan in std::fs::read_dir(commune.path())? {
                let name = scan?.file_name();
                if let Some(sha) = name.to_str().and_then(|n| ContentHash::from_hex(n).ok())
                    && self.object_path(&sha).exists()
                {
                    out.push((code.clone(), sha));
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn hash(bytes: &[u8]) -> ContentHash {
        ContentHash::from_bytes(Sha256::digest(bytes).into())
    }

    #[test]
    fn a_scan_resumes_where_it_stopped_and_becomes_visible_only_when_whole() {
        let dir = tempfile::tempdir().expect("dir");
        let blobs = BlobDir::open(dir.path()).expect("open");
        let scan: Vec<u8> = (0..10_000u32).map(|i| (i % 253) as u8).collect();
        let sha = hash(&scan);
        assert_eq!(
            blobs
                .append(1, "00004", &sha, 0, 10_000, &scan[..4000])
                .expect("first"),
            Appended::Partial(4000)
        );
        assert!(!blobs.held("00004", &sha).expect("held"));
        assert_eq!(blobs.partial_len(1, &sha).expect("len"), 4000);
        // A chunk sent again, or one skipped, writes nothing.
        assert_eq!(
            blobs
                .append(1, "00004", &sha, 0, 10_000, &scan[..4000])
                .expect("again"),
            Appended::Elsewhere(4000)
        );
        assert_eq!(
            blobs
                .append(1, "00004", &sha, 8000, 10_000, &scan[8000..])
                .expect("skip"),
            Appended::Elsewhere(4000)
        );
        assert_eq!(
            blobs
                .append(1, "00004", &sha, 4000, 10_000, &scan[4000..])
                .expect("rest"),
            Appended::Complete
        );
        assert!(blobs.held("00004", &sha).expect("held"));
        assert!(!blobs.held("00005", &sha).expect("other commune"));
        assert_eq!(blobs.read(&sha).expect("read"), scan);
        assert_eq!(blobs.partial_len(1, &sha).expect("len"), 0);
    }

    #[test]
    fn bytes_that_do_not_hash_to_the_name_are_discarded() {
        let dir = tempfile::tempdir().expect("dir");
        let blobs = BlobDir::open(dir.path()).expect("open");
        let sha = hash(b"the real scan");
        assert_eq!(
            blobs
                .append(1, "00004", &sha, 0, 13, b"another scan!")
                .expect("append"),
            Appended::Mismatch
        );
        assert!(!blobs.held("00004", &sha).expect("held"));
        assert!(!blobs.object_path(&sha).exists());
        assert_eq!(blobs.partial_len(1, &sha).expect("len"), 0);
    }

    #[test]
    fn an_agent_has_a_bounded_number_of_unfinished_scans() {
        let dir = tempfile::tempdir().expect("dir");
        let blobs = BlobDir::open(dir.path()).expect("open");
        for i in 0..MAX_PARTIALS_PER_AGENT {
            let sha = hash(&[i as u8]);
            assert_eq!(
                blobs.append(7, "00004", &sha, 0, 100, b"x").expect("start"),
                Appended::Partial(1)
            );
        }
        let one_more = hash(b"one more");
        assert_eq!(
            blobs
                .append(7, "00004", &one_more, 0, 100, b"x")
                .expect("refused"),
            Appended::TooManyPartials
        );
        // Another agent is not affected.
        assert_eq!(
            blobs
                .append(8, "00004", &one_more, 0, 100, b"x")
                .expect("other"),
            Appended::Partial(1)
        );
    }
}
