//! Page scans on the agent: the files behind a record's `scans`, kept in
//! the data directory by their SHA-256 (`blobs/ab/abcd…`), so a scan named
//! by two records is stored once and a file is found by the hash the record
//! holds. A blob is written to a temporary file, synced, then renamed into
//! place: a power cut leaves the old state or the whole file, never half of
//! one under its final name. A record refers to a blob only once the blob
//! is in place (the import stores the file before the record).

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use hotich_protocol::ContentHash;
use sha2::{Digest, Sha256};

/// The largest scan taken: a 600 dpi colour page as TIFF is ~30 MB.
pub const MAX_SCAN_BYTES: u64 = 50 * 1024 * 1024;

const BLOBS_DIR: &str = "blobs";

/// What a scan file is, by its first bytes (its name may say anything).
pub fn media_type_of(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if head.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some("image/png")
    } else if head.starts_with(b"II*\0") || head.starts_with(b"MM\0*") {
        Some("image/tiff")
    } else if head.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else {
        None
    }
}

/// A scan file as a record names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    pub sha256: ContentHash,
    pub bytes: u64,
    pub media_type: &'static str,
}

/// Why a scan file was not taken; `code` names the catalog message.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("{path}: no such file")]
    Missing { path: PathBuf },
    #[error("{path}: cannot be read: {source}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a JPEG, PNG, TIFF or PDF file")]
    UnsupportedType { path: PathBuf },
    #[error("{path}: {bytes} bytes, more than the {max} a scan may have")]
    TooLarge { path: PathBuf, bytes: u64, max: u64 },
    #[error("cannot store the scan in {dir}: {source}")]
    Store {
        dir: PathBuf,
        source: std::io::Error,
    },
}

impl ScanError {
    pub fn code(&self) -> &'static str {
        match self {
            ScanError::Missing { .. } => "scan-missing",
            ScanError::Unreadable { .. } => "scan-unreadable",
            ScanError::UnsupportedType { .. } => "scan-type",
            ScanError::TooLarge { .. } => "scan-too-large",
            ScanError::Store { .. } => "scan-store",
        }
    }

    pub fn is_disk_full(&self) -> bool {
        // ENOSPC (28) on Unix, ERROR_DISK_FULL (112) on Windows.
        matches!(self, ScanError::Store { source, .. }
            if source.kind() == std::io::ErrorKind::StorageFull
                || matches!(source.raw_os_error(), Some(28) | Some(112)))
    }
}

/// Reads a scan file through, hashing it; `sink` gets every byte (the
/// blob store's temporary file, or nothing when only checking).
fn read_scan(
    path: &Path,
    mut sink: impl FnMut(&[u8]) -> std::io::Result<()>,
) -> Result<Scan, ScanError> {
    let unreadable = |source: std::io::Error| {
        if source.kind() == std::io::ErrorKind::NotFound {
            ScanError::Missing {
                path: path.to_path_buf(),
            }
        } else {
            ScanError::Unreadable {
                path: path.to_path_buf(),
                source,
            }
        }
    };
    let mut file = File::open(path).map_err(unreadable)?;
    let size = file.metadata().map_err(unreadable)?.len();
    if size > MAX_SCAN_BYTES {
        return Err(ScanError::TooLarge {
            path: path.to_path_buf(),
            bytes: size,
            max: MAX_SCAN_BYTES,
        });
    }
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    let mut media_type = None;
    loop {
        let n = file.read(&mut buf).map_err(unreadable)?;
        if n == 0 {
            break;
        }
        if total == 0 {
            media_type = media_type_of(&buf[..n]);
            if media_type.is_none() {
                return Err(ScanError::UnsupportedType {
                    path: path.to_path_buf(),
                });
            }
        }
        total += n as u64;
        if total > MAX_SCAN_BYTES {
            return Err(ScanError::TooLarge {
                path: path.to_path_buf(),
                bytes: total,
                max: MAX_SCAN_BYTES,
            });
        }
        hasher.update(&buf[..n]);
        sink(&buf[..n]).map_err(|source| ScanError::Store {
            dir: path.to_path_buf(),
            source,
        })?;
    }
    let Some(media_type) = media_type else {
        // An empty file.
        return Err(ScanError::UnsupportedType {
            path: path.to_path_buf(),
        });
    };
    let digest: [u8; 32] = hasher.finalize().into();
    Ok(Scan {
        sha256: ContentHash::from_bytes(digest),
        bytes: total,
        media_type,
    })
}

/// Checks a scan file without storing it (`validate`).
pub fn inspect(path: &Path) -> Result<Scan, ScanError> {
    read_scan(path, |_| Ok(()))
}

/// What `check` found for one blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobState {
    Intact,
    Missing,
    /// The file's bytes no longer hash to its name.
    Altered,
}

/// The agent's content-addressed scans, under `DATA/blobs`.
#[derive(Debug, Clone)]
pub struct BlobStore {
    dir: PathBuf,
}

impl BlobStore {
    pub fn new(data_dir: &Path) -> BlobStore {
        BlobStore {
            dir: data_dir.join(BLOBS_DIR),
        }
    }

    pub fn path_of(&self, hash: &ContentHash) -> PathBuf {
        let hex = hash.to_hex();
        self.dir.join(&hex[..2]).join(hex)
    }

    /// Copies a scan file in (once: a blob already held intact is not
    /// written again; a damaged one is replaced) and says what it is.
    pub fn put_file(&self, path: &Path) -> Result<Scan, ScanError> {
        let store_err = |source: std::io::Error| ScanError::Store {
            dir: self.dir.clone(),
            source,
        };
        std::fs::create_dir_all(&self.dir).map_err(store_err)?;
        let mut name = [0u8; 8];
        getrandom::fill(&mut name).map_err(|e| store_err(std::io::Error::other(e.to_string())))?;
        let tmp = self.dir.join(format!(".incoming-{}", hex::encode(name)));
        let mut out = File::create(&tmp).map_err(store_err)?;
        let written = read_scan(path, |chunk| out.write_all(chunk));
        let scan = match written {
            Ok(scan) => scan,
            Err(e) => {
                drop(out);
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
        };
        let finish = || -> std::io::Result<()> {
            out.sync_all()?;
            let target = self.path_of(&scan.sha256);
            // Held already: keep it, unless it was damaged since (then the
            // fresh copy repairs it).
            if self.check(&scan.sha256)? == BlobState::Intact {
                return std::fs::remove_file(&tmp);
            }
            let parent = target.parent().unwrap_or(&self.dir);
            std::fs::create_dir_all(parent)?;
            std::fs::rename(&tmp, &target)?;
            // The rename itself must survive a power cut.
            File::open(parent)?.sync_all()
        };
        finish().map_err(|source| {
            let _ = std::fs::remove_file(&tmp);
            store_err(source)
        })?;
        Ok(scan)
    }

    /// Whether the blob is here and still hashes to its name.
    pub fn check(&self, hash: &ContentHash) -> std::io::Result<BlobState> {
        let path = self.path_of(hash);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BlobState::Missing),
            Err(e) => return Err(e),
        };
        let digest = ContentHash::of_reader(file)?;
        Ok(if digest == *hash {
            BlobState::Intact
        } else {
            BlobState::Altered
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JPEG: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F', 0];

    #[test]
    fn a_scan_is_known_by_its_first_bytes_not_its_name() {
        assert_eq!(media_type_of(JPEG), Some("image/jpeg"));
        assert_eq!(media_type_of(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(media_type_of(b"II*\0...."), Some("image/tiff"));
        assert_eq!(media_type_of(b"MM\0*...."), Some("image/tiff"));
        assert_eq!(media_type_of(b"%PDF-1.7"), Some("application/pdf"));
        assert_eq!(media_type_of(b"PK\x03\x04"), None);
        assert_eq!(media_type_of(b""), None);
    }

    #[test]
    fn a_blob_is_stored_once_under_its_hash_and_an_altered_one_is_found() {
        let dir = tempfile::tempdir().expect("dir");
        let store = BlobStore::new(dir.path());
        let page = dir.path().join("trang-12.jpg");
        let mut bytes = JPEG.to_vec();
        bytes.extend(std::iter::repeat_n(7u8, 300_000));
        std::fs::write(&page, &bytes).expect("write");
        let first = store.put_file(&page).expect("stored");
        assert_eq!(first.bytes, bytes.len() as u64);
        let digest: [u8; 32] = Sha256::digest(&bytes).into();
        assert_eq!(first.sha256, ContentHash::from_bytes(digest));
        assert_eq!(first.media_type, "image/jpeg");
        let again = store.put_file(&page).expect("stored again");
        assert_eq!(again, first);
        let held: Vec<_> = std::fs::read_dir(dir.path().join("blobs"))
            .expect("blobs")
            .flatten()
            .collect();
        assert_eq!(held.len(), 1, "one directory, no temporary files left");
        assert_eq!(
            store.check(&first.sha256).expect("check"),
            BlobState::Intact
        );
        let blob = store.path_of(&first.sha256);
        let mut altered = std::fs::read(&blob).expect("read");
        altered[5000] ^= 1;
        std::fs::write(&blob, altered).expect("alter");
        assert_eq!(
            store.check(&first.sha256).expect("check"),
            BlobState::Altered
        );
        std::fs::remove_file(&blob).expect("remove");
        assert_eq!(
            store.check(&first.sha256).expect("check"),
            BlobState::Missing
        );
    }

    #[test]
    fn missing_unsupported_and_empty_files_are_refused_and_nothing_is_left_behind() {
        let dir = tempfile::tempdir().expect("dir");
        let store = BlobStore::new(dir.path());
        let missing = store.put_file(&dir.path().join("none.jpg"));
        assert_eq!(missing.expect_err("missing").code(), "scan-missing");
        let zip = dir.path().join("trang.jpg");
        std::fs::write(&zip, b"PK\x03\x04 not an image").expect("write");
        assert_eq!(store.put_file(&zip).expect_err("zip").code(), "scan-type");
        let empty = dir.path().join("empty.pdf");
        std::fs::write(&empty, b"").expect("write");
        assert_eq!(
            store.put_file(&empty).expect_err("empty").code(),
            "scan-type"
        );
        let left: Vec<_> = std::fs::read_dir(dir.path().join("blobs"))
            .expect("blobs")
            .flatten()
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
}
