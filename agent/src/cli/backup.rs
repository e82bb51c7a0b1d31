//! `backup FILE` and `restore FILE`.

use std::path::Path;
use std::process::ExitCode;

use crate::config::{AgentConfig, DataDir};
use crate::error::{AgentError, JournalError};
use crate::journal::{Access, Journal};
use crate::lock::SyncLock;
use crate::tr;

pub(super) fn backup(data_dir: &DataDir, dest: &Path) -> Result<ExitCode, AgentError> {
    AgentConfig::load(data_dir)?;
    let journal = data_dir.open_journal(Access::ReadOnly)?;
    if dest.exists() {
        return Err(AgentError::Usage(tr!(
            "backup-exists",
            path = dest.display().to_string()
        )));
    }
    let report = journal.backup_to(dest)?;
    let counts = Journal::open(dest)?.counts()?;
    println!(
        "{}",
        tr!(
            "backup-done",
            path = dest.display().to_string(),
            entries = report.entries,
            waiting = counts.pending
        )
    );
    Ok(ExitCode::SUCCESS)
}

pub(super) fn restore(
    data_dir: &DataDir,
    source: &Path,
    force: bool,
) -> Result<ExitCode, AgentError> {
    AgentConfig::load(data_dir)?;
    // Neither the service nor a sync may use the journal meanwhile.
    let _lock = SyncLock::acquire(data_dir.path())?;
    let current = data_dir.journal_path();
    let held = match Journal::open(&current) {
        Ok(j) => j.counts()?.total,
        Err(_) => 0,
    };
    if held > 0 && !force {
        return Err(AgentError::Usage(tr!(
            "restore-not-empty",
            dir = data_dir.path().display().to_string(),
            count = held
        )));
    }
    // Check a copy, never the backup itself (opening migrates the schema).
    let incoming = data_dir.path().join("journal.db.restoring");
    let _ = std::fs::remove_file(&incoming);
    std::fs::copy(source, &incoming)
        .map_err(|e| AgentError::io(format!("cannot copy {}", source.display()), e))?;
    let checked = Journal::open(&incoming).and_then(|j| {
        let report = j.verify()?;
        match report.first_broken {
            None => Ok((report.entries, j.counts()?.pending)),
            Some((seq, detail)) => Err(JournalError::Corrupt {
                path: source.to_path_buf(),
                seq,
                detail,
            }),
        }
    });
    let (entries, waiting) = match checked {
        Ok(v) => v,
        Err(e) => {
            let _ = std::fs::remove_file(&incoming);
            return Err(AgentError::Failed(tr!(
                "restore-not-a-journal",
                path = source.display().to_string(),
                detail = e.to_string()
            )));
        }
    };
    // The journal replaced is kept beside it, never deleted.
    if held > 0 {
        let aside = data_dir.path().join("journal.db.before-restore");
        Journal::open(&current)?.checkpoint()?;
        std::fs::rename(&current, &aside)
            .map_err(|e| AgentError::io(format!("cannot move {} aside", current.display()), e))?;
    }
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", current.display()));
    }
    std::fs::rename(&incoming, &current)
        .map_err(|e| AgentError::io(format!("cannot put {} in place", current.display()), e))?;
    crate::config::share_with_group(&current)
        .map_err(|e| AgentError::io(format!("cannot share {}", current.display()), e))?;
    let journal = Journal::open(&current)?;
    journal.remember(data_dir.path())?;
    println!(
        "{}",
        tr!(
            "restore-done",
            path = source.display().to_string(),
            entries = entries,
            waiting = waiting
        )
    );
    Ok(ExitCode::SUCCESS)
}

/// `recover --code CODE`: rebuilds this journal from the server's copy of
/// it, every hash and link checked, so a dead disk loses only what never
/// left the PC. Resumes where an interrupted recovery stopped.
pub(super) fn recover(data_dir: &DataDir, code: &str) -> Result<ExitCode, AgentError> {
    use hotich_protocol::canonical::hash_canonical;
    use hotich_protocol::wire::JOURNAL_PAGE_MAX;
    use hotich_protocol::{GENESIS, chain_hash, parse_strict, prepare_record};
    let config = AgentConfig::load(data_dir)?;
    let _lock = SyncLock::acquire(data_dir.path())?;
    let client = crate::client::ApiClient::new(&config)?;
    let mut journal = Journal::create(data_dir.path(), &data_dir.journal_path())?;
    crate::config::share_with_group(journal.path())
        .map_err(|e| AgentError::io(format!("cannot share {}", journal.path().display()), e))?;
    let (head, head_chain) = journal.head()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| AgentError::io("cannot start the async runtime", e))?;
    let today = hotich_protocol::CivilDate::today_in_vietnam(hotich_protocol::Timestamp::now());
    let differs = |seq: u64| AgentError::Failed(tr!("recover-differs", seq = seq));
    // The page starts at the local head, to check the two agree there.
    let mut from = head.max(1);
    let mut prev = if head == 0 { GENESIS } else { head_chain };
    let (mut recovered, mut refused) = (0u64, 0u64);
    loop {
        let page = runtime.block_on(client.journal_page(code, from, JOURNAL_PAGE_MAX))?;
        let full = page.entries.len() == JOURNAL_PAGE_MAX;
        let mut batch = Vec::with_capacity(page.entries.len());
        for e in page.entries {
            if e.seq <= head {
                if e.seq == head && e.chain != head_chain {
                    return Err(differs(e.seq));
                }
                continue;
            }
            let expected = head + recovered + batch.len() as u64 + 1;
            if e.seq != expected {
                return Err(differs(expected));
            }
            let Some(text) = e.record else {
                return Err(AgentError::Failed(tr!("recover-missing", seq = e.seq)));
            };
            if hash_canonical(&text) != e.hash || chain_hash(&prev, e.seq, &e.hash) != e.chain {
                return Err(differs(e.seq));
            }
            let prepared = parse_strict(&text)
                .ok()
                .and_then(|v| prepare_record(v, today).ok());
            batch.push(crate::journal::RecoveredEntry {
                seq: e.seq,
                hash: e.hash,
                chain: e.chain,
                nat_key: prepared
                    .as_ref()
                    .map_or_else(|| format!("refused/{}", e.seq), |p| p.storage_key.clone()),
                supersedes: prepared.and_then(|p| p.supersedes),
                record: text,
                stored: e.stored,
            });
            prev = e.chain;
        }
        refused += batch.iter().filter(|e| !e.stored).count() as u64;
        journal.insert_recovered(&batch)?;
        recovered += batch.len() as u64;
        from = head + recovered + 1;
        if !full {
            break;
        }
    }
    journal.remember(data_dir.path())?;
    println!(
        "{}",
        tr!(
            "recover-done",
            entries = head + recovered,
            recovered = recovered,
            refused = refused
        )
    );
    Ok(ExitCode::SUCCESS)
}
