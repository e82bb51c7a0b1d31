//! The demo: a central server, three communes in two provinces as real agent
//! processes behind the fault proxy (one healthy, one on a flaky link, one
//! whose link is down for a while), thousands of generated Vietnamese
//! records with a few bad rows, the dashboard to watch, and a verified end.
//!
//!     bash tests/demo.sh                  # about a minute
//!     bash tests/demo.sh --keep-running   # then keep the dashboard up until Ctrl-C
//!     bash tests/demo.sh --short --json   # a few seconds; a JSON summary last

use std::collections::HashSet;
use std::io::Write;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use hotich_tests::harness::{Db, FAST_SYNC, Login, TestServer};
use hotich_tests::{FaultProxy, Mode, RecordGen, TestAgent};
use serde_json::{Value, json};

struct Args {
    short: bool,
    keep_running: bool,
    json: bool,
    records: u64,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        short: false,
        keep_running: false,
        json: false,
        records: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--short" => args.short = true,
            "--keep-running" => args.keep_running = true,
            "--json" => args.json = true,
            "--records" => {
                args.records = it
                    .next()
                    .context("--records needs a number")?
                    .parse()
                    .context("--records needs a number")?
            }
            "-h" | "--help" => {
                println!(
                    "hotich-demo [--short] [--keep-running] [--records N] [--json]\n\n\
                     Runs hotich-server and three hotich-agent processes behind fault proxies on\n\
                     this machine (loopback only, temporary directories), imports generated\n\
                     records with a few bad rows, waits until every good record is stored\n\
                     centrally, and checks the result.\n\n\
                     --short          a few hundred records and a short outage (seconds)\n\
                     --keep-running   keep the server, agents and dashboard up until Ctrl-C\n\
                     --records N      records per commune (default 3000; 300 with --short)\n\
                     --json           print the summary as one JSON object at the end"
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other} (try --help)"),
        }
    }
    if args.records == 0 {
        args.records = if args.short { 300 } else { 3_000 };
    }
    Ok(args)
}

/// How a commune's link behaves during the demo.
#[derive(Clone, Copy, PartialEq)]
enum Link {
    Healthy,
    /// Cut every 48–80 KB.
    Flaky,
    /// Refused until the outage ends.
    Down,
}

struct Commune {
    code: &'static str,
    name: &'static str,
    province: &'static str,
    area: &'static str,
    link: Link,
}

const COMMUNES: [Commune; 3] = [
    Commune {
        code: "00004",
        name: "Phường Ba Đình",
        province: "Hà Nội",
        area: "Ba Đình",
        link: Link::Healthy,
    },
    Commune {
        code: "00008",
        name: "Phường Ngọc Hà",
        province: "Hà Nội",
        area: "Ba Đình",
        link: Link::Flaky,
    },
    Commune {
        code: "24133",
        name: "Xã Hòa Phú",
        province: "Đắk Lắk",
        area: "Buôn Ma Thuột",
        link: Link::Down,
    },
];

/// One commune as the demo runs it.
struct Running {
    commune: &'static Commune,
    proxy: FaultProxy,
    agent: TestAgent,
    accepted: u64,
    refused: Vec<Value>,
}

/// Writes `n` records of `commune`, three of them bad in the ways officials'
/// files are: a date that does not exist, a date left out, a line cut off.
fn write_records(path: &std::path::Path, commune: &str, seed: u64, n: u64) -> Result<()> {
    let generator = RecordGen::new(seed, commune);
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for i in 0..n {
        let mut record = generator.record(i);
        let line = match i {
            7 => {
                record["registered_on"] = "2019-02-30".into();
                record.to_string()
            }
            23 => {
                if let Some(fields) = record.as_object_mut() {
                    fields.remove("registered_on");
                }
                record.to_string()
            }
            41 => {
                let text = record.to_string();
                let half = text.char_indices().nth(text.chars().count() / 2);
                text[..half.map_or(0, |(at, _)| at)].to_string()
            }
            _ => record.to_string(),
        };
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    Ok(())
}

/// Imports `file`; returns (accepted, the rejected rows' problems, in the
/// officials' language).
fn import(agent: &TestAgent, file: &std::path::Path) -> Result<(u64, Vec<Value>)> {
    let out = agent
        .command()
        .env("HOTICH_LANG", "vi")
        .args(["import", "--json"])
        .arg(file)
        .output()?;
    let mut accepted = None;
    let mut refused = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(event) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        match event["event"].as_str() {
            Some("problem") => refused.push(event),
            Some("summary") => accepted = event["accepted"].as_u64(),
            _ => {}
        }
    }
    match accepted {
        Some(n) => Ok((n, refused)),
        None => bail!(
            "import of {} failed: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// A national administrator for the dashboard.
fn viewer(server: &TestServer) -> Login {
    server.add_viewer("demo", &["--admin"])
}

/// The dashboard's view of each commune, from the status API.
fn dashboard(server: &TestServer, login: &Login) -> Vec<Value> {
    let answer = server.get_as(login, "/api/v1/status");
    if answer.status != 200 {
        return Vec::new();
    }
    answer.json()["communes"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn pending(agent: &TestAgent) -> Option<u64> {
    let out = agent.command().args(["status", "--json"]).output().ok()?;
    let v: Value = serde_json::from_slice(&out.stdout).ok()?;
    v["pending"].as_u64()
}

fn start_service(agent: &mut TestAgent, log: &std::path::Path) -> Result<()> {
    let log = std::fs::File::create(log)?;
    let child = agent
        .command()
        .arg("run")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .context("start hotich-agent run")?;
    agent.service = Some(child);
    let control = agent.data_dir.join("control.json");
    let t = Instant::now();
    while !control.exists() {
        if t.elapsed() > Duration::from_secs(20) {
            bail!("the agent service did not start");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let interrupted = Arc::new(AtomicBool::new(false));
    {
        let interrupted = interrupted.clone();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        // Handlers installed now, inside the runtime; waited for on a thread.
        let signal = {
            let _inside = runtime.enter();
            hotich_protocol::signals::shutdown_signal()
        };
        std::thread::spawn(move || {
            runtime.block_on(signal);
            interrupted.store(true, Ordering::SeqCst);
        });
    }
    let outage = if args.short {
        Duration::from_secs(4)
    } else {
        // Long enough for the dashboard to call the commune silent (the
        // demo's server says so after 11 s without contact).
        Duration::from_secs(30)
    };
    let limit = if args.short {
        Duration::from_secs(180)
    } else {
        Duration::from_secs(600)
    };
    let say = |text: String| {
        if !args.json {
            println!("{text}");
        }
    };

    say("Starting hotich-server (SQLite, in a temporary directory)…".into());
    let server = TestServer::start_with(Db::Sqlite, &["--silent-after-hours", "0.003"]);
    let login = viewer(&server);
    // The dashboard address goes out first, in JSON mode too (on stderr),
    // so a person can open it while the demo runs.
    eprintln!(
        "Dashboard: {}/  (name: {}  password: {})",
        server.url(),
        login.name,
        login.password
    );

    let work = tempfile::tempdir()?;
    let mut communes = Vec::new();
    for commune in &COMMUNES {
        let token = server.add_agent_with(
            commune.code,
            &[
                "--province",
                commune.province,
                "--area",
                commune.area,
                "--name",
                commune.name,
            ],
        );
        // Every link works at first, so each commune is seen once; the
        // one that goes down does so before its records arrive.
        let proxy = FaultProxy::start(server.addr, Mode::Pass)?;
        let mut agent = TestAgent::init_with(&proxy.url(), &token, commune.code, FAST_SYNC);
        let log = work.path().join(format!("agent-{}.log", commune.code));
        start_service(&mut agent, &log)?;
        communes.push(Running {
            commune,
            proxy,
            agent,
            accepted: 0,
            refused: Vec::new(),
        });
    }
    let t = Instant::now();
    while dashboard(&server, &login)
        .iter()
        .filter(|row| row["state"] != "never_seen")
        .count()
        < COMMUNES.len()
    {
        if t.elapsed() > Duration::from_secs(30) {
            bail!("the agents did not reach the server");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    say("Three agents running as services and seen by the server.".into());
    for (i, running) in communes.iter_mut().enumerate() {
        let commune = running.commune;
        running.proxy.set_mode(match commune.link {
            Link::Healthy => Mode::Pass,
            Link::Flaky => Mode::CutAfter {
                bytes: 48 * 1024,
                jitter: 32 * 1024,
            },
            Link::Down => Mode::Reset,
        });
        let file = work.path().join(format!("{}.jsonl", commune.code));
        write_records(&file, commune.code, 100 + i as u64, args.records)?;
        let (accepted, refused) = import(&running.agent, &file)?;
        say(format!(
            "{} ({}, {}): imported {accepted} records, {} bad rows refused",
            commune.name,
            commune.province,
            describe(commune.link),
            refused.len()
        ));
        running.accepted = accepted;
        running.refused = refused;
    }
    say("Syncing; watch the dashboard.".into());

    let accepted: u64 = communes.iter().map(|c| c.accepted).sum();
    let started = Instant::now();
    let mut link_back = false;
    let drained = loop {
        std::thread::sleep(Duration::from_secs(1));
        if interrupted.load(Ordering::SeqCst) {
            say("Interrupted.".into());
            break false;
        }
        let elapsed = started.elapsed();
        if !link_back && elapsed >= outage {
            for c in &communes {
                if c.commune.link == Link::Down {
                    c.proxy.set_mode(Mode::Pass);
                    say(format!(
                        "[{:>3}s] the link of {} is back",
                        elapsed.as_secs(),
                        c.commune.name
                    ));
                }
            }
            link_back = true;
        }
        let rows = dashboard(&server, &login);
        let mut line = format!("[{:>3}s]", elapsed.as_secs());
        let mut all_done = link_back;
        for c in &communes {
            let row = rows.iter().find(|r| r["commune"] == c.commune.code);
            let stored = row.and_then(|r| r["records_stored"].as_u64()).unwrap_or(0);
            let state = row.and_then(|r| r["state"].as_str()).unwrap_or("?");
            let waiting = pending(&c.agent);
            all_done &= waiting == Some(0) && stored == c.accepted;
            line.push_str(&format!(
                "  {}: {stored}/{} stored, {} waiting, {state}",
                c.commune.name,
                c.accepted,
                waiting.map_or("?".into(), |w| w.to_string()),
            ));
        }
        say(line);
        if all_done {
            break true;
        }
        if elapsed > limit {
            say(format!("Not done after {}s.", limit.as_secs()));
            break false;
        }
    };

    // The verified end: the central store against every journal.
    let exported = server.export_hashes();
    let unique: HashSet<&String> = exported.iter().collect();
    let duplicates = exported.len() - unique.len();
    let journal: HashSet<String> = communes
        .iter()
        .flat_map(|c| c.agent.journal_hashes())
        .collect();
    let missing = journal.iter().filter(|h| !unique.contains(h)).count();
    let unknown = unique.iter().filter(|h| !journal.contains(**h)).count();
    let cuts: u64 = communes
        .iter()
        .map(|c| c.proxy.counters.connections.load(Ordering::Relaxed))
        .sum();
    let verified = drained && duplicates == 0 && missing == 0 && unknown == 0;
    let refused: Vec<Value> = communes
        .iter()
        .flat_map(|c| {
            c.refused.iter().map(|p| {
                json!({
                    "commune": c.commune.code,
                    "line": p["line"],
                    "field": p["field"],
                    "reason": p["message"],
                })
            })
        })
        .collect();
    let summary = json!({
        "verified": verified,
        "accepted": accepted,
        "stored_centrally": unique.len(),
        "duplicates": duplicates,
        "missing": missing,
        "unknown_at_server": unknown,
        "refused": refused,
        "connections": cuts,
        "seconds": started.elapsed().as_secs_f64().round(),
        "dashboard": format!("{}/", server.url()),
    });
    if args.json {
        println!("{summary}");
    } else {
        println!();
        println!("Records accepted by the agents:  {accepted}");
        println!("Stored centrally:                {}", unique.len());
        println!("Stored twice:                    {duplicates}");
        println!("Missing at the server:           {missing}");
        println!("Refused at import, with reasons:");
        for r in &refused {
            println!(
                "  {} line {}: {}",
                r["commune"].as_str().unwrap_or("?"),
                r["line"],
                r["reason"].as_str().unwrap_or("?")
            );
        }
        println!(
            "{}",
            if verified {
                "Verified: every accepted record is stored centrally exactly once."
            } else {
                "NOT verified: see the figures above."
            }
        );
    }
    if args.keep_running && !interrupted.load(Ordering::SeqCst) {
        eprintln!(
            "Dashboard still up at {}/ (name: {}  password: {}); Ctrl-C to stop.",
            server.url(),
            login.name,
            login.password
        );
        while !interrupted.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    for c in &mut communes {
        c.agent.stop_service();
    }
    if !verified {
        std::process::exit(1);
    }
    Ok(())
}

fn describe(link: Link) -> &'static str {
    match link {
        Link::Healthy => "healthy link",
        Link::Flaky => "flaky link, cut every 48-80 KB",
        Link::Down => "link down for a while",
    }
}
