//! `book close` (a paper book is done: its count of entries, the ones lost
//! from the paper), `book report` (each book's completeness and checks, as
//! the centre sees every PC of the commune, or this PC alone when the
//! centre cannot be asked), and `review` (the discrepancies between first
//! and second keyings; `review confirm` records a third look).

use std::process::ExitCode;

use hotich_protocol::books::{BookClosure, BookId, BookReport, KeyingKind, ReviewResponse};
use hotich_protocol::{RecordKind, Timestamp};
use serde_json::{Value, json};

use crate::config::{AgentConfig, DataDir};
use crate::control;
use crate::error::AgentError;
use crate::journal::{Access, NewKeying};
use crate::tr;

/// What `book close` was asked.
pub(super) struct CloseArgs {
    pub kind: RecordKind,
    pub year: i64,
    pub book: String,
    pub entries: u32,
    pub missing: Vec<u32>,
    pub reason: Option<String>,
    pub former_commune: Option<String>,
    pub official: Option<String>,
}

fn runtime() -> Result<tokio::runtime::Runtime, AgentError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| AgentError::io("cannot start the async runtime", e))
}

/// A book as the official names it: "Khai sinh 1998, quyển 1".
fn book_name(book: &BookId) -> String {
    let text = tr!(
        "book-name",
        kind = crate::columns::kind_name(book.kind),
        year = book.year,
        book = book.book.as_str()
    );
    match &book.former_commune_code {
        Some(code) => format!(
            "{text} ({})",
            tr!("status-former-commune", code = code.as_str())
        ),
        None => text,
    }
}

fn numbers(ns: impl IntoIterator<Item = u32>) -> String {
    ns.into_iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// What is wrong with a declaration, in the reader's language.
fn closure_problem(c: &BookClosure) -> Option<String> {
    let max = hotich_protocol::books::MAX_BOOK_ENTRIES;
    if c.entries == 0 || c.entries > max {
        return Some(tr!("book-bad-entries", entries = c.entries, max = max));
    }
    if let Some(n) = c.missing.iter().find(|n| **n == 0 || **n > c.entries) {
        return Some(tr!("book-bad-missing", entry = *n, entries = c.entries));
    }
    if !c.missing.is_empty() && c.reason.is_none() {
        return Some(tr!("book-missing-needs-reason"));
    }
    if let Err(other) = c.check() {
        return Some(tr!("book-bad-book", detail = other));
    }
    None
}

pub(super) fn close(data_dir: &DataDir, args: CloseArgs) -> Result<ExitCode, AgentError> {
    let config = AgentConfig::load(data_dir)?;
    let official = crate::config::choose_official(&config, args.official.as_deref())
        .map_err(AgentError::Usage)?;
    let mut missing = args.missing;
    missing.sort_unstable();
    missing.dedup();
    let closure = BookClosure {
        book: BookId {
            former_commune_code: args.former_commune,
            commune_code: config.commune.clone(),
            kind: args.kind,
            year: args.year,
            book: args.book.trim().to_string(),
        }
        .normalized(),
        entries: args.entries,
        missing,
        reason: args
            .reason
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty()),
        official,
        closed_at: Timestamp::now(),
    };
    if let Some(problem) = closure_problem(&closure) {
        return Err(AgentError::Usage(tr!("book-close-bad", problem = problem)));
    }
    let mut journal = data_dir.open_journal(Access::ReadWrite)?;
    journal.close_book(&closure)?;
    journal.remember(data_dir.path())?;
    drop(journal);
    control::poke(data_dir);
    let lost = if closure.missing.is_empty() {
        String::new()
    } else {
        tr!(
            "book-closed-missing",
            entries = numbers(closure.missing.iter().copied()),
            reason = closure.reason.clone().unwrap_or_default()
        )
    };
    println!(
        "{}",
        tr!(
            "book-closed",
            book = book_name(&closure.book),
            entries = closure.entries,
            missing = lost
        )
    );
    Ok(ExitCode::SUCCESS)
}

/// One book's report on one line, in the reader's language.
fn report_line(b: &BookReport) -> String {
    let mut line = match b.declared {
        Some(declared) => tr!(
            "book-line-declared",
            book = book_name(&b.id()),
            captured = b.captured,
            declared = declared
        ),
        None => tr!(
            "book-line-open",
            book = book_name(&b.id()),
            captured = b.captured
        ),
    };
    if !b.missing.is_empty() {
        line.push_str("; ");
        line.push_str(&tr!(
            "book-line-missing",
            entries = numbers(b.missing.iter().copied())
        ));
    }
    if let Some(first) = b.declared_missing.first() {
        line.push_str("; ");
        line.push_str(&tr!(
            "book-line-lost",
            entries = numbers(b.declared_missing.iter().map(|d| d.entry)),
            reason = first.reason.as_str()
        ));
    }
    line.push_str("; ");
    line.push_str(&tr!(
        "book-line-checks",
        verified = b.verified,
        discrepancies = b.discrepancies,
        refused = b.refused,
        corrected = b.corrected
    ));
    line
}

pub(super) fn report(data_dir: &DataDir, json: bool, local: bool) -> Result<ExitCode, AgentError> {
    let config = AgentConfig::load(data_dir)?;
    let central = if local {
        None
    } else {
        let client = crate::client::ApiClient::new(&config)?;
        Some(runtime()?.block_on(client.book_reports()))
    };
    let (books, note) = match central {
        Some(Ok(books)) => (books, None),
        other => {
            let journal = data_dir.open_journal(Access::ReadOnly)?;
            let note = match other {
                Some(Err(e)) => Some(tr!("books-local", error = e.to_string())),
                _ => None,
            };
            (journal.local_book_reports()?, note)
        }
    };
    if json {
        for b in &books {
            println!("{}", json!(b));
        }
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(note) = note {
        println!("{note}");
    }
    if books.is_empty() {
        println!("{}", tr!("books-none"));
    }
    for b in &books {
        println!("{}", report_line(b));
    }
    Ok(ExitCode::SUCCESS)
}

fn value_text(v: &Option<Value>) -> String {
    match v {
        None => tr!("review-empty"),
        Some(Value::String(s)) => format!("\"{s}\""),
        Some(other) => other.to_string(),
    }
}

fn fetch_review(config: &AgentConfig) -> Result<ReviewResponse, AgentError> {
    let client = crate::client::ApiClient::new(config)?;
    Ok(runtime()?.block_on(client.review())?)
}

pub(super) fn review(data_dir: &DataDir, json: bool) -> Result<ExitCode, AgentError> {
    let config = AgentConfig::load(data_dir)?;
    let review = fetch_review(&config)?;
    if json {
        println!("{}", json!(review));
        return Ok(ExitCode::SUCCESS);
    }
    for d in &review.discrepancies {
        println!(
            "{}",
            tr!(
                "review-entry",
                entry = crate::status::book_entry_text(&d.nat_key),
                first = d.first_official.clone().unwrap_or_else(|| "?".into()),
                second = d.second_official.as_str()
            )
        );
        let kind = RecordKind::parse(d.nat_key.split('/').nth(1).unwrap_or_default());
        for f in &d.fields {
            let field = crate::columns::header_of(&f.field, kind)
                .map(|h| format!("{h} ({})", f.field))
                .unwrap_or_else(|| f.field.clone());
            println!(
                "    {}",
                tr!(
                    "review-field",
                    field = field,
                    first = value_text(&f.first),
                    second = value_text(&f.second)
                )
            );
        }
        println!("    {}", tr!("review-how", key = d.nat_key.as_str()));
    }
    println!(
        "{}",
        tr!(
            "review-summary",
            discrepancies = review.discrepancies.len(),
            verified = review.verified,
            own = review.own_keyings,
            waiting = review.waiting_for_first
        )
    );
    Ok(if review.discrepancies.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::error::EXIT_PROBLEMS)
    })
}

/// A third look: the official confirms the first keying of a discrepancy
/// is right as it stands. Kept in the journal, sent with the next sync.
pub(super) fn confirm(
    data_dir: &DataDir,
    key: &str,
    official: Option<String>,
) -> Result<ExitCode, AgentError> {
    let config = AgentConfig::load(data_dir)?;
    let official = crate::config::choose_official(&config, official.as_deref())
        .map_err(AgentError::Usage)?
        .ok_or_else(|| AgentError::Usage(tr!("second-keying-needs-official")))?;
    let key = key.trim();
    let review = fetch_review(&config)?;
    let Some(d) = review.discrepancies.iter().find(|d| d.nat_key == key) else {
        return Err(AgentError::Usage(tr!("review-confirm-unknown", key = key)));
    };
    if hotich_protocol::books::same_official(&official, d.first_official.as_deref()) {
        return Err(AgentError::Usage(tr!(
            "review-confirm-own",
            official = official.as_str()
        )));
    }
    let mut journal = data_dir.open_journal(Access::ReadWrite)?;
    journal.add_keyings(&[NewKeying {
        kind: KeyingKind::Confirm,
        nat_key: &d.nat_key,
        hash: d.first_hash,
        record: None,
        official: &official,
        file: None,
        line: None,
    }])?;
    journal.remember(data_dir.path())?;
    drop(journal);
    control::poke(data_dir);
    println!(
        "{}",
        tr!(
            "review-confirmed",
            official = official.as_str(),
            entry = crate::status::book_entry_text(&d.nat_key)
        )
    );
    Ok(ExitCode::SUCCESS)
}
