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
