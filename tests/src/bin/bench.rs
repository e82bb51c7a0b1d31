//! Benchmarks of hotich-sync, each printing a table. Run in release mode:
//!
//!     cargo run --release -p hotich-tests --bin bench -- all
//!     cargo run --release -p hotich-tests --bin bench -- import --records 100000 --runs 3
//!     cargo run --release -p hotich-tests --bin bench -- xlsx
//!     cargo run --release -p hotich-tests --bin bench -- server
//!     cargo run --release -p hotich-tests --bin bench -- sync
//!     cargo run --release -p hotich-tests --bin bench -- hostile
//!     cargo run --release -p hotich-tests --bin bench -- heartbeats
//!
//! Set HOTICH_TEST_POSTGRES_URL to include PostgreSQL in the server benchmark.
//! Machines here are shared and noisy: each figure is the median of the runs.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use hotich_protocol::GENESIS;
use hotich_tests::batch::{batch, zstd};
use hotich_tests::harness::{
    Db, agent_bin, agent_cmd, peak_rss, server_bin, stderr, stdout, wait_until,
};
use hotich_tests::pg::{TempDatabase, postgres_url};
use hotich_tests::{FaultProxy, Mode, RecordGen, TestAgent, TestServer};
use serde_json::Value;

struct Args {
    what: String,
    out: Option<std::path::PathBuf>,
    commune: String,
    records: u64,
    runs: usize,
    agents: usize,
    batches: usize,
    batch_records: u64,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        what: "all".into(),
        out: None,
        commune: "00004".into(),
        records: 100_000,
        runs: 3,
        agents: 50,
        batches: 2,
        // As an agent with a backlog sends them (its batches double up to this).
        batch_records: hotich_agent::config::SyncSettings::default().batch_max as u64,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| -> Result<u64> {
            it.next()
                .with_context(|| format!("{name} needs a value"))?
                .parse()
                .with_context(|| format!("{name} needs a number"))
        };
        match a.as_str() {
            "--records" => args.records = value("--records")?,
            "--runs" => args.runs = value("--runs")?.max(1) as usize,
            "--agents" => args.agents = value("--agents")?.max(1) as usize,
            "--batches" => args.batches = value("--batches")?.max(1) as usize,
            "--batch-records" => args.batch_records = value("--batch-records")?.clamp(1, 10_000),
            "--out" => args.out = Some(it.next().context("--out needs a file")?.into()),
            "--commune" => args.commune = it.next().context("--commune needs a code")?,
            "import" | "xlsx" | "server" | "sync" | "scans" | "hostile" | "heartbeats" | "all"
            | "gen" | "stages" | "idle" => args.what = a,
            "-h" | "--help" => {
                println!(
                    "bench [import|xlsx|server|sync|scans|hostile|heartbeats|idle|stages|all] [--records N] [--runs R] [--agents A] [--batches B] [--batch-records N]"
                );
                println!(
                    "bench gen --records N --out FILE [--commune CODE]   (valid test records: JSON Lines, or an official's workbook if FILE ends in .xlsx)"
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}"),
        }
    }
    Ok(args)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() -> Result<()> {
    let args = parse_args()?;
    if args.what == "gen" {
        let out = args.out.context("gen needs --out FILE")?;
        if out.extension().is_some_and(|e| e == "xlsx") {
            let dir = tempfile::tempdir()?;
            std::fs::copy(officials_workbook(dir.path(), args.records)?, &out)?;
        } else {
            RecordGen::new(2026, &args.commune).write_jsonl(&out, 0, args.records)?;
        }
        println!("wrote {} records to {}", args.records, out.display());
        return Ok(());
    }
    if cfg!(debug_assertions) {
        eprintln!("note: this is a debug build; run with --release for meaningful figures");
    }
    if args.what == "stages" {
        return bench_stages(&args);
    }
    // Build (or find) the release binaries before timing anything.
    let _ = (agent_bin(), server_bin());
    let work = tempfile::tempdir()?;
    if matches!(args.what.as_str(), "import" | "all") {
        bench_import(&args, work.path())?;
    }
    if matches!(args.what.as_str(), "xlsx" | "all") {
        bench_xlsx_import(&args, work.path())?;
    }
    if matches!(args.what.as_str(), "server" | "all") {
        bench_server(&args)?;
    }
    if matches!(args.what.as_str(), "sync" | "all") {
        bench_sync(&args, work.path())?;
    }
    if matches!(args.what.as_str(), "scans" | "all") {
        bench_scans(&args, work.path())?;
    }
    if matches!(args.what.as_str(), "hostile" | "all") {
        bench_hostile(&args)?;
    }
    if matches!(args.what.as_str(), "heartbeats" | "all") {
        bench_heartbeats(&args)?;
    }
    if matches!(args.what.as_str(), "idle" | "all") {
        bench_idle(&args, work.path())?;
    }
    Ok(())
}

/// Every commune of the country since July 2025.
const COMMUNES: usize = 3_321;

/// The 34 provinces' codes (Decision 19/2025/QĐ-TTg).
const PROVINCE_CODES: [&str; 34] = [
    "01", "04", "08", "11", "12", "14", "15", "19", "20", "22", "24", "25", "31", "33", "37", "38",
    "40", "42", "44", "46", "48", "51", "52", "56", "66", "68", "75", "79", "80", "82", "86", "91",
    "92", "96",
];

/// A heartbeat as a commune's agent sends it; some communes are behind or
/// failing, with warnings from their log.
fn heartbeat_body(commune: usize, round: u64) -> Value {
    let now = hotich_protocol::Timestamp::now();
    let ago = |secs: i64| hotich_protocol::Timestamp(now.millis() - secs * 1000).to_rfc3339();
    let waiting = if commune.is_multiple_of(5) {
        40 + round
    } else {
        0
    };
    let mut body = serde_json::json!({
        "sent_at": now.to_rfc3339(),
        "agent_version": "0.1.0",
        "journal_seq": 5_000 + round,
        "pending": waiting,
        "acked": 5_000,
        "parked": commune % 13,
        "last_success_at": ago(120),
        "free_disk_bytes": 40_000_000_000u64,
        "journal_bytes": 9_000_000,
        "device": format!("journal-{commune}"),
    });
    if waiting > 0 {
        body["oldest_pending_at"] = ago(7_200).into();
    }
    if commune.is_multiple_of(11) {
        body["last_error"] = "không kết nối được máy chủ: connection refused".into();
        body["last_error_kind"] = "network".into();
        body["last_error_at"] = ago(30).into();
        body["warnings"] = (0..3)
            .map(|i| {
                serde_json::json!({"at": ago(30 + i * 60), "level": "WARN",
                    "message": "sync failed error=connection refused failures=3 retry_in_s=40"})
            })
            .collect();
    }
    body
}

/// Heartbeats from every commune of the country at once, then what a
/// national viewer's pages cost with all of them in the database.
fn bench_heartbeats(args: &Args) -> Result<()> {
    let rounds = 3u64;
    let senders = 64usize;
    println!(
        "\n## Monitoring: {COMMUNES} communes in 34 provinces, {rounds} heartbeats each from {senders} connections"
    );
    let mut backends = vec!["SQLite"];
    if postgres_url("the PostgreSQL heartbeat benchmark").is_some() {
        backends.push("PostgreSQL");
    }
    let mut pages: Vec<(String, String, Vec<f64>)> = Vec::new();
    println!("| backend | run | heartbeats | seconds | heartbeats/s |");
    println!("|---------|----:|-----------:|--------:|-------------:|");
    for backend in backends {
        let mut rates = Vec::new();
        for run in 1..=args.runs {
            let db = match backend {
                "SQLite" => Db::Sqlite,
                _ => Db::Postgres(TempDatabase::create(&postgres_url("").unwrap_or_default())),
            };
            let server = TestServer::start_with(db, &[]);
            let admin = server.add_viewer("it-quoc-gia", &["--admin"]);
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            let url = server.url();
            let (rate, timings) = runtime.block_on(async {
                let client = reqwest::Client::builder()
                    .timeout(Duration::from_secs(120))
                    .build()?;
                let tokens = register_communes(&client, &url, &admin).await?;
                let tokens = Arc::new(tokens);
                let t = Instant::now();
                let mut tasks = Vec::new();
                for sender in 0..senders {
                    let (client, url, tokens) = (client.clone(), url.clone(), tokens.clone());
                    tasks.push(tokio::spawn(async move {
                        let mut sent = 0u64;
                        for round in 0..rounds {
                            for commune in (sender..COMMUNES).step_by(senders) {
                                let resp = client
                                    .post(format!("{url}/api/v1/heartbeat"))
                                    .bearer_auth(&tokens[commune])
                                    .json(&heartbeat_body(commune, round))
                                    .send()
                                    .await?;
                                if !resp.status().is_success() {
                                    bail!("heartbeat answered {}", resp.status());
                                }
                                sent += 1;
                            }
                        }
                        Ok::<_, anyhow::Error>(sent)
                    }));
                }
                let mut sent = 0;
                for task in tasks {
                    sent += task.await??;
                }
                let secs = t.elapsed().as_secs_f64();
                println!(
                    "| {backend} | {run} | {sent} | {secs:.2} | {:.0} |",
                    sent as f64 / secs
                );
                let timings = time_pages(&client, &url, &admin).await?;
                Ok::<_, anyhow::Error>((sent as f64 / secs, timings))
            })?;
            rates.push(rate);
            for (page, ms) in timings {
                match pages
                    .iter_mut()
                    .find(|(b, p, _)| b == backend && *p == page)
                {
                    Some((_, _, all)) => all.push(ms),
                    None => pages.push((backend.to_string(), page, vec![ms])),
                }
            }
        }
        println!("| **{backend} median** | | | | **{:.0}** |", median(rates));
    }
    println!(
        "\nA national viewer's pages with all {COMMUNES} communes reporting (median ms, request to last byte over loopback):"
    );
    println!("| backend | page | ms |");
    println!("|---------|------|---:|");
    for (backend, page, ms) in pages {
        println!("| {backend} | `{page}` | {:.1} |", median(ms));
    }
    Ok(())
}

/// Registers every commune from the dashboard as an administrator would;
/// returns their tokens.
async fn register_communes(
    client: &reqwest::Client,
    url: &str,
    admin: &hotich_tests::harness::Login,
) -> Result<Vec<String>> {
    let mut tokens = Vec::with_capacity(COMMUNES);
    for i in 0..COMMUNES {
        let form = [
            ("commune", format!("{:05}", 10_000 + i)),
            ("province", PROVINCE_CODES[i % 34].to_string()),
            ("area", format!("Khu vực {}", i % 3 + 1)),
            ("name", format!("UBND xã số {i}")),
        ];
        let page = client
            .post(format!("{url}/agents"))
            .header("authorization", admin.basic())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_body(&form))
            .send()
            .await?;
        if !page.status().is_success() {
            bail!("registering commune {i}: {}", page.status());
        }
        let text = page.text().await?;
        let token = text
            .split("id=\"token\">")
            .nth(1)
            .and_then(|rest| rest.split('<').next())
            .context("no token on the page")?;
        tokens.push(token.to_string());
    }
    Ok(tokens)
}

/// `application/x-www-form-urlencoded`, as a browser sends a form.
fn form_body(fields: &[(&str, String)]) -> String {
    let encode = |text: &str| -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    (b as char).to_string()
                }
                b' ' => "+".to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Median time of each national page, five requests each.
async fn time_pages(
    client: &reqwest::Client,
    url: &str,
    viewer: &hotich_tests::harness::Login,
) -> Result<Vec<(String, f64)>> {
    let mut out = Vec::new();
    for page in [
        "/",
        "/?partial=1",
        "/?state=failing",
        "/api/v1/status",
        "/api/v1/status?province=01",
        "/commune/10011",
        "/metrics",
    ] {
        let mut times = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            let resp = client
                .get(format!("{url}{page}"))
                .header("authorization", viewer.basic())
                .send()
                .await?;
            if !resp.status().is_success() {
                bail!("{page} answered {}", resp.status());
            }
            resp.bytes().await?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        out.push((page.to_string(), median(times)));
    }
    Ok(out)
}

/// What hostile bodies from an enrolled agent cost the server: CPU per
/// request (from /proc, so the client's work is not counted), the answer's
/// size and the server's peak memory.
fn bench_hostile(args: &Args) -> Result<()> {
    use hotich_tests::harness::cpu_time;
    use hotich_tests::http::request;
    use serde_json::json;

    println!("\n## Hostile upload bodies from an enrolled agent (server on SQLite)");
    println!(
        "| body | wire bytes | CPU ms per request (median) | answer bytes | server peak RSS (MB) |"
    );
    println!("|---|---:|---:|---:|---:|");
    let base = RecordGen::new(1, "00004").record(0);
    let one = |record: serde_json::Value| -> Result<Vec<u8>> {
        Ok(serde_json::to_vec(
            &json!({"entries": [{"seq": 1, "hash": "0".repeat(64), "record": record}]}),
        )?)
    };
    let scans = {
        let mut text = serde_json::to_string(&base)?;
        text.pop();
        text.push_str(",\"scans\":[");
        text.push_str(&vec!["{}"; 1_000_000].join(","));
        text.push_str("]}");
        one(serde_json::from_str(&text)?)?
    };
    let big_key = {
        let mut r = base.clone();
        r[&"k".repeat(16_000_000)] = json!(1);
        one(r)?
    };
    let many_keys = {
        let mut r = base.clone();
        for i in 0..3000 {
            r[format!("x{i}")] = json!(i);
        }
        one(r)?
    };
    let cases = [
        ("one record with 1,000,000 empty scans (zstd)", scans),
        ("one record with a 16 MB unknown key (zstd)", big_key),
        ("one record with 3,000 unknown keys (zstd)", many_keys),
    ];
    for (name, body) in cases {
        let server = TestServer::start();
        let token = server.add_agent("00004");
        let pid = server.pid().context("server pid")?;
        let wire = zstd::bulk::compress(&body, 19)?;
        let auth = format!("Bearer {token}");
        let headers = [
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/json"),
            ("Content-Encoding", "zstd"),
        ];
        let (mut cpu, mut answer) = (Vec::new(), 0);
        for _ in 0..args.runs.max(3) {
            let before = cpu_time(pid).context("cpu time")?;
            let a = request(server.addr, "POST", "/api/v1/upload", &headers, &wire)?;
            let after = cpu_time(pid).context("cpu time")?;
            cpu.push((after - before).as_secs_f64() * 1000.0);
            answer = a.body.len();
        }
        let rss = peak_rss(pid).unwrap_or(0) as f64 / (1024.0 * 1024.0);
        println!(
            "| {name} | {} | {:.0} | {answer} | {rss:.0} |",
            wire.len(),
            median(cpu)
        );
    }
    Ok(())
}

fn records_file(dir: &Path, n: u64) -> Result<std::path::PathBuf> {
    let file = dir.join(format!("records-{n}.jsonl"));
    if !file.exists() {
        RecordGen::new(2026, "00004").write_jsonl(&file, 0, n)?;
    }
    Ok(file)
}

fn bench_import(args: &Args, dir: &Path) -> Result<()> {
    let n = args.records;
    let file = records_file(dir, n)?;
    let input_bytes = std::fs::metadata(&file)?.len();
    println!(
        "\n## Durable import: {n} records ({:.0} bytes each as JSON), fsync on commit",
        input_bytes as f64 / n as f64
    );
    println!("| run | seconds | records/s | journal bytes/record | peak RSS (MB) |");
    println!("|----:|--------:|----------:|---------------------:|--------------:|");
    let (mut rates, mut sizes, mut peaks) = (Vec::new(), Vec::new(), Vec::new());
    for run in 1..=args.runs {
        let agent = TestAgent::init_with_flags(
            "http://127.0.0.1:9",
            "hts_bench",
            "00004",
            "",
            &["--offline"],
        );
        let mut cmd = agent.command();
        cmd.arg("import").arg(&file);
        let (out, secs, peak) = timed_with_peak(cmd)?;
        if !out.status.success() {
            bail!("import failed: {}{}", stdout(&out), stderr(&out));
        }
        let stored = agent.journal_hashes().len() as u64;
        if stored != n {
            bail!("{stored} of {n} records stored: {}", stdout(&out));
        }
        let conn = rusqlite::Connection::open(agent.journal_path())?;
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
        drop(conn);
        let bytes = std::fs::metadata(agent.journal_path())?.len() as f64 / n as f64;
        let rate = n as f64 / secs;
        let peak_mb = peak as f64 / (1024.0 * 1024.0);
        println!("| {run} | {secs:.2} | {rate:.0} | {bytes:.0} | {peak_mb:.1} |");
        rates.push(rate);
        sizes.push(bytes);
        peaks.push(peak_mb);
    }
    println!(
        "| **median** | | **{:.0}** | **{:.0}** | **{:.1}** |",
        median(rates),
        median(sizes),
        median(peaks)
    );
    Ok(())
}

/// An official's workbook: a sheet per register with the Vietnamese column
/// headers, registration dates as Excel date cells, other dates typed as
/// dd/mm/yyyy text, years and entries as numbers.
fn officials_workbook(dir: &Path, n: u64) -> Result<std::path::PathBuf> {
    use hotich_agent::columns::{header_of, kind_name};
    use hotich_protocol::RecordKind;
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

    fn flatten(prefix: &str, value: &Value, out: &mut Vec<(String, Value)>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    let path = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    flatten(&path, v, out);
                }
            }
            other => out.push((prefix.to_string(), other.clone())),
        }
    }
    let file = dir.join(format!("so-ho-tich-{n}.xlsx"));
    if file.exists() {
        return Ok(file);
    }
    let generator = RecordGen::new(2026, "00004");
    let mut book = Workbook::new();
    let date_format = Format::new().set_num_format("dd/mm/yyyy");
    for kind in RecordKind::ALL {
        // Constant-memory sheets are written row by row, header first.
        let rows = (0..n)
            .map(|i| generator.record(i))
            .filter(|r| r["kind"] == kind.as_str());
        let mut columns: Vec<String> = Vec::new();
        for record in rows.clone().take(200) {
            let mut cells = Vec::new();
            flatten("", &record, &mut cells);
            for (path, _) in cells {
                if path != "kind" && !columns.contains(&path) {
                    columns.push(path);
                }
            }
        }
        let sheet = book.add_worksheet_with_constant_memory()?;
        sheet.set_name(kind_name(kind))?;
        for (c, path) in columns.iter().enumerate() {
            sheet.write_string(0, c as u16, header_of(path, Some(kind)).unwrap_or(path))?;
        }
        for (r, record) in rows.enumerate() {
            let row = r as u32 + 1;
            let mut cells = Vec::new();
            flatten("", &record, &mut cells);
            for (path, value) in cells {
                let Some(c) = columns.iter().position(|p| *p == path) else {
                    continue;
                };
                let c = c as u16;
                match value {
                    Value::Number(x) => {
                        sheet.write_number(row, c, x.as_f64().unwrap_or_default())?;
                    }
                    Value::String(text) if path == "registered_on" => {
                        let date = ExcelDateTime::parse_from_str(&text)?;
                        sheet.write_datetime_with_format(row, c, &date, &date_format)?;
                    }
                    Value::String(text)
                        if path.ends_with("date_of_birth") || path == "date_of_death" =>
                    {
                        let mut parts = text.split('-');
                        let (y, m, d) = (parts.next(), parts.next(), parts.next());
                        let shown = match (y, m, d) {
                            (Some(y), Some(m), Some(d)) => format!("{d}/{m}/{y}"),
                            _ => text.clone(),
                        };
                        sheet.write_string(row, c, shown)?;
                    }
                    Value::String(text) => {
                        sheet.write_string(row, c, text)?;
                    }
                    other => bail!("unexpected value {other} at {path}"),
                }
            }
        }
    }
    book.save(&file)?;
    Ok(file)
}

/// Durable import of an official's .xlsx: the rows go through the
/// Vietnamese header table and cell conversions, then the same journal.
fn bench_xlsx_import(args: &Args, dir: &Path) -> Result<()> {
    let n = args.records;
    let made = Instant::now();
    let file = officials_workbook(dir, n)?;
    println!(
        "\n## Durable import of an .xlsx: {n} rows on 3 sheets ({:.1} MB; written in {:.1} s), fsync on commit",
        std::fs::metadata(&file)?.len() as f64 / 1e6,
        made.elapsed().as_secs_f64()
    );
    println!("| run | seconds | rows/s | peak RSS MB |");
    println!("|----:|--------:|-------:|------------:|");
    let (mut rates, mut peaks) = (Vec::new(), Vec::new());
    for run in 1..=args.runs {
        let agent = TestAgent::init_with_flags(
            "http://127.0.0.1:9",
            "hts_bench",
            "00004",
            "",
            &["--offline"],
        );
        let mut cmd = agent.command();
        cmd.arg("import").arg(&file);
        let (out, secs, peak) = timed_with_peak(cmd)?;
        let peak_mb = peak as f64 / (1024.0 * 1024.0);
        if !out.status.success() {
            bail!("import failed: {}{}", stdout(&out), stderr(&out));
        }
        let stored = agent.journal_hashes().len() as u64;
        if stored != n {
            bail!("{stored} of {n} rows stored: {}", stdout(&out));
        }
        let rate = n as f64 / secs;
        println!("| {run} | {secs:.2} | {rate:.0} | {peak_mb:.0} |");
        rates.push(rate);
        peaks.push(peak_mb);
    }
    println!(
        "| **median** | | **{:.0}** | **{:.0}** |",
        median(rates),
        median(peaks)
    );
    Ok(())
}

fn bench_server(args: &Args) -> Result<()> {
    let (agents, batches) = (args.agents, args.batches);
    let per_batch = args.batch_records;
    let total = agents as u64 * batches as u64 * per_batch;
    println!(
        "\n## Central server: {agents} concurrent agents, {batches} batches of {per_batch} records each ({total} records), zstd bodies"
    );
    // Bodies are built once, outside the timing.
    let mut bodies: Vec<Vec<Vec<u8>>> = Vec::new();
    for a in 0..agents {
        let commune = format!("{:05}", 10_000 + a);
        let g = RecordGen::new(a as u64, &commune);
        let mut prev = GENESIS;
        let mut agent_bodies = Vec::new();
        for b in 0..batches as u64 {
            let recs: Vec<_> = (b * per_batch..(b + 1) * per_batch)
                .map(|i| g.record(i))
                .collect();
            let built = batch(&recs, b * per_batch + 1, prev);
            prev = built.last_chain;
            agent_bodies.push(zstd(&built.json));
        }
        bodies.push(agent_bodies);
    }
    let bodies = Arc::new(bodies);
    println!("| backend | run | seconds | records/s |");
    println!("|---------|----:|--------:|----------:|");
    let mut backends = vec!["SQLite"];
    if let Some(_url) = postgres_url("the PostgreSQL server benchmark") {
        backends.push("PostgreSQL");
    }
    for backend in backends {
        let mut rates = Vec::new();
        for run in 1..=args.runs {
            let db = match backend {
                "SQLite" => Db::Sqlite,
                _ => Db::Postgres(TempDatabase::create(&postgres_url("").unwrap_or_default())),
            };
            let server = TestServer::start_with(db, &[]);
            let tokens: Vec<String> = (0..agents)
                .map(|a| server.add_agent(&format!("{:05}", 10_000 + a)))
                .collect();
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            let url = server.url();
            let bodies = bodies.clone();
            let secs = runtime.block_on(async move {
                let client = reqwest::Client::builder()
                    .timeout(Duration::from_secs(300))
                    .build()?;
                let t = Instant::now();
                let mut tasks = Vec::new();
                for (a, token) in tokens.into_iter().enumerate() {
                    let (client, url, bodies) = (client.clone(), url.clone(), bodies.clone());
                    tasks.push(tokio::spawn(async move {
                        let mut stored = 0u64;
                        for body in &bodies[a] {
                            let resp = client
                                .post(format!("{url}/api/v1/upload"))
                                .bearer_auth(&token)
                                .header("content-encoding", "zstd")
                                .header("content-type", "application/json")
                                .body(body.clone())
                                .send()
                                .await?;
                            if !resp.status().is_success() {
                                bail!("upload answered {}", resp.status());
                            }
                            let out: hotich_protocol::wire::UploadResponse = resp.json().await?;
                            stored += out
                                .results
                                .iter()
                                .filter(|r| r.status == hotich_protocol::wire::EntryStatus::Stored)
                                .count() as u64;
                        }
                        Ok::<_, anyhow::Error>(stored)
                    }));
                }
                let mut stored = 0;
                for t in tasks {
                    stored += t.await??;
                }
                if stored != total {
                    bail!("only {stored} of {total} records were stored");
                }
                Ok::<_, anyhow::Error>(t.elapsed().as_secs_f64())
            })?;
            let rate = total as f64 / secs;
            println!("| {backend} | {run} | {secs:.2} | {rate:.0} |");
            rates.push(rate);
        }
        println!("| **{backend} median** | | | **{:.0}** |", median(rates));
    }
    Ok(())
}

/// A fresh agent of commune 00004 registered at `server`, reaching it at
/// `url` (the server itself or a proxy), with `file` imported.
fn agent_with_records(server: &TestServer, url: &str, file: &Path) -> Result<TestAgent> {
    let agent = TestAgent::init_with(url, &server.add_agent("00004"), "00004", "");
    let out = agent.import(file);
    if !out.status.success() {
        bail!("import failed: {}{}", stdout(&out), stderr(&out));
    }
    Ok(agent)
}

/// Runs a command to its end and returns its output, seconds, and peak RSS
/// in bytes. The peak is the process's own VmHWM, read until it exits
/// (getrusage's maxrss would include this benchmark's memory, inherited at
/// fork).
fn timed_with_peak(mut cmd: std::process::Command) -> Result<(std::process::Output, f64, u64)> {
    let t = Instant::now();
    let child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let pid = child.id();
    let peak = std::thread::spawn(move || {
        let mut peak = 0;
        while let Some(bytes) = peak_rss(pid) {
            peak = peak.max(bytes);
            std::thread::sleep(Duration::from_millis(20));
        }
        peak
    });
    let out = child.wait_with_output()?;
    let secs = t.elapsed().as_secs_f64();
    Ok((out, secs, peak.join().unwrap_or(0)))
}

/// Runs `hotich-agent sync` and returns (seconds, peak RSS in bytes).
fn timed_sync(agent: &TestAgent) -> Result<(f64, u64)> {
    let mut cmd = agent.command();
    cmd.arg("sync");
    let (out, secs, peak) = timed_with_peak(cmd)?;
    if !out.status.success() {
        bail!("sync failed: {}{}", stdout(&out), stderr(&out));
    }
    Ok((secs, peak))
}

fn metric(server: &TestServer, name: &str) -> Result<u64> {
    let text = server.metrics();
    text.lines()
        .find_map(|l| l.strip_prefix(name).map(str::trim))
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("metric {name} not found"))
}

fn bench_sync(args: &Args, dir: &Path) -> Result<()> {
    let n = args.records;
    let file = records_file(dir, n)?;
    println!(
        "\n## Sync over loopback: {n} records of ~1 KB, `hotich-agent sync` against hotich-server (SQLite)"
    );
    println!("| run | seconds | records/s | wire bytes/record | peak agent RSS (MB) |");
    println!("|----:|--------:|----------:|------------------:|--------------------:|");
    let (mut rates, mut wires, mut rss) = (Vec::new(), Vec::new(), Vec::new());
    for run in 1..=args.runs {
        // Timed runs go straight to the server; one more run through a
        // counting proxy measures the bytes on the wire.
        let server = TestServer::start();
        let agent = agent_with_records(&server, &server.url(), &file)?;
        let (secs, peak) = timed_sync(&agent)?;
        if agent.pending() != 0 || server.export().len() as u64 != n {
            bail!("sync did not deliver everything");
        }
        let rate = n as f64 / secs;
        let mb = peak as f64 / 1_048_576.0;
        let wire = if run == 1 {
            let server = TestServer::start();
            let proxy = FaultProxy::start(server.addr, Mode::Pass)?;
            let agent = agent_with_records(&server, &proxy.url(), &file)?;
            timed_sync(&agent)?;
            Some(proxy.bytes_total() as f64 / n as f64)
        } else {
            None
        };
        let wire_text = wire.map_or("".to_string(), |w| format!("{w:.0}"));
        println!("| {run} | {secs:.2} | {rate:.0} | {wire_text} | {mb:.1} |");
        rates.push(rate);
        wires.extend(wire);
        rss.push(mb);
    }
    println!(
        "| **median** | | **{:.0}** | **{:.0}** | **{:.1}** |",
        median(rates),
        median(wires),
        median(rss)
    );

    println!("\n## Records sent twice after a SIGKILL mid-sync ({n} records)");
    println!(
        "| run | killed after (stored) | sent twice | batches re-sent (at most) | all stored once |"
    );
    println!(
        "|----:|----------------------:|-----------:|--------------------------:|-----------------|"
    );
    for run in 1..=args.runs {
        let server = TestServer::start();
        let agent = agent_with_records(&server, &server.url(), &file)?;
        let mut child = agent
            .command()
            .arg("sync")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let half = n / 2;
        let reached = wait_until(Duration::from_secs(120), || {
            metric(&server, "hotich_entries_total{outcome=\"stored\"}").unwrap_or(0) >= half
        });
        child.kill()?; // SIGKILL
        child.wait()?;
        if !reached {
            bail!("sync never got half way");
        }
        let stored_at_kill = metric(&server, "hotich_entries_total{outcome=\"stored\"}")?;
        let out = agent_cmd()
            .arg("--data-dir")
            .arg(&agent.data_dir)
            .arg("sync")
            .output()?;
        if !out.status.success() {
            bail!("sync after the kill failed: {}", stderr(&out));
        }
        let twice = metric(&server, "hotich_entries_total{outcome=\"duplicate\"}")?;
        let exported = server.export_hashes();
        let unique: std::collections::HashSet<_> = exported.iter().collect();
        let once = exported.len() as u64 == n && unique.len() == exported.len();
        println!(
            "| {run} | {stored_at_kill} | {twice} | {:.2} | {} |",
            twice as f64 / hotich_agent::config::SyncSettings::default().batch_max as f64,
            if once { "yes" } else { "NO" }
        );
    }
    Ok(())
}

/// One record naming a scan of `bytes` (a JPEG header and filler).
fn scan_book(dir: &Path, bytes: usize) -> Result<std::path::PathBuf> {
    let mut page = vec![
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0,
    ];
    let mut rng = fastrand::Rng::with_seed(bytes as u64);
    page.extend((0..bytes).map(|_| rng.u8(..)));
    std::fs::write(dir.join("trang.jpg"), &page)?;
    let book = dir.join("so.csv");
    std::fs::write(
        &book,
        "\u{feff}Loại;Mã xã;Năm;Quyển số;Số;Ngày đăng ký;Họ và tên;Giới tính;Ngày sinh;Ảnh trang sổ\r\n\
         Khai sinh;00004;1998;01;1;20/03/1998;Nguyễn Văn An;Nam;15/03/1998;trang.jpg\r\n",
    )?;
    Ok(book)
}

fn bench_scans(args: &Args, dir: &Path) -> Result<()> {
    const SCAN_MB: usize = 5;
    let size = SCAN_MB * 1024 * 1024;
    let dir = dir.join("scans");
    std::fs::create_dir_all(&dir)?;
    let book = scan_book(&dir, size)?;
    println!(
        "\n## Page scan upload: one {SCAN_MB} MB scan, `hotich-agent sync` against hotich-server (SQLite)"
    );
    println!("| run | link | seconds | MB/s | wire bytes up / file bytes | connections |");
    println!("|----:|------|--------:|-----:|---------------------------:|------------:|");
    let mut rows: Vec<(&str, Vec<f64>, Vec<f64>)> = vec![
        ("loopback", Vec::new(), Vec::new()),
        ("cut every 256 KB", Vec::new(), Vec::new()),
    ];
    for run in 1..=args.runs {
        for (link, rates, ratios) in rows.iter_mut() {
            let server = TestServer::start();
            let mode = if *link == "loopback" {
                Mode::Pass
            } else {
                Mode::CutAfter {
                    bytes: 256 * 1024,
                    jitter: 0,
                }
            };
            let proxy = FaultProxy::start(server.addr, mode)?;
            let agent = agent_with_records(&server, &proxy.url(), &book)?;
            let (secs, _) = timed_sync(&agent)?;
            if agent.status()["scans"]["stored"] != 1 {
                bail!("the scan was not stored");
            }
            let up = proxy.counters.up.load(std::sync::atomic::Ordering::Relaxed) as f64;
            let ratio = up / size as f64;
            let rate = size as f64 / 1_048_576.0 / secs;
            let connections = proxy
                .counters
                .connections
                .load(std::sync::atomic::Ordering::Relaxed);
            println!("| {run} | {link} | {secs:.2} | {rate:.1} | {ratio:.3} | {connections} |");
            rates.push(rate);
            ratios.push(ratio);
        }
    }
    for (link, rates, ratios) in rows {
        println!(
            "| **median** | {link} | | **{:.1}** | **{:.3}** | |",
            median(rates),
            median(ratios)
        );
    }
    println!(
        "(wire bytes include the record's upload, the have/lack exchange and the heartbeat: a few KB)"
    );
    Ok(())
}

/// Microseconds per record in each CPU stage of the sync path, timed in
/// this process on the bench's records (one core): what the agent and the
/// server each spend before SQLite and the network.
fn bench_stages(args: &Args) -> Result<()> {
    use hotich_protocol::canonical::hash_canonical;
    use hotich_protocol::record::normalize;
    use hotich_protocol::{CivilDate, Timestamp, jcs, parse_strict, validate_record};
    let n = args.records.min(50_000) as usize;
    let g = RecordGen::new(2026, &args.commune);
    let today = CivilDate::today_in_vietnam(Timestamp::now());
    let texts: Vec<String> = (0..n as u64)
        .map(|i| serde_json::to_string(&g.record(i)))
        .collect::<Result<_, _>>()?;
    let built = batch(
        &(0..1000).map(|i| g.record(i)).collect::<Vec<_>>(),
        1,
        GENESIS,
    );
    let compressed = zstd(&built.json);
    println!("\n## CPU per record by stage ({n} records of the bench, one core)");
    println!("| stage | run | µs/record |");
    println!("|-------|----:|----------:|");
    let stage = |name: &str, f: &mut dyn FnMut() -> Result<usize>| -> Result<()> {
        let mut per = Vec::new();
        for run in 1..=args.runs {
            let t = Instant::now();
            let count = f()?;
            let us = t.elapsed().as_secs_f64() * 1e6 / count as f64;
            println!("| {name} | {run} | {us:.2} |");
            per.push(us);
        }
        println!("| **{name} median** | | **{:.2}** |", median(per));
        Ok(())
    };
    stage("parse (strict JSON)", &mut || {
        for t in &texts {
            std::hint::black_box(parse_strict(t)?);
        }
        Ok(n)
    })?;
    let values: Vec<Value> = texts
        .iter()
        .map(|t| parse_strict(t))
        .collect::<Result<_, _>>()?;
    stage("normalize (trim, NFC)", &mut || {
        for v in &values {
            std::hint::black_box(normalize(v.clone()).map_err(|e| anyhow::anyhow!("{e:?}"))?);
        }
        Ok(n)
    })?;
    stage(
        "clone of a parsed record (in normalize's figure)",
        &mut || {
            for v in &values {
                std::hint::black_box(v.clone());
            }
            Ok(n)
        },
    )?;
    stage("validate", &mut || {
        for v in &values {
            std::hint::black_box(validate_record(v, today).map_err(|e| anyhow::anyhow!("{e:?}"))?);
        }
        Ok(n)
    })?;
    stage("canonicalize (RFC 8785)", &mut || {
        for v in &values {
            std::hint::black_box(jcs(v)?);
        }
        Ok(n)
    })?;
    let canonical: Vec<String> = values.iter().map(jcs).collect::<Result<_, _>>()?;
    stage("sha256", &mut || {
        for c in &canonical {
            std::hint::black_box(hash_canonical(c));
        }
        Ok(n)
    })?;
    stage("prepare_record (all of the above but parse)", &mut || {
        for v in &values {
            std::hint::black_box(
                hotich_protocol::prepare_record(v.clone(), today)
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?,
            );
        }
        Ok(n)
    })?;
    stage("zstd level 3 compress (batches of 1000)", &mut || {
        for _ in 0..10 {
            std::hint::black_box(zstd(&built.json));
        }
        Ok(10_000)
    })?;
    for level in [1, 2] {
        stage(&format!("zstd level {level} compress"), &mut || {
            for _ in 0..10 {
                std::hint::black_box(zstd::bulk::compress(&built.json, level)?);
            }
            Ok(10_000)
        })?;
    }
    for level in [1, 2, 3] {
        println!(
            "| zstd level {level}: body bytes per record | | {:.1} |",
            zstd::bulk::compress(&built.json, level)?.len() as f64 / 1000.0
        );
    }
    stage("zstd decompress", &mut || {
        for _ in 0..10 {
            std::hint::black_box(zstd::bulk::decompress(&compressed, 64 << 20)?);
        }
        Ok(10_000)
    })?;
    Ok(())
}

/// A process's resident memory now (VmRSS), in bytes.
fn rss_now(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// User and system CPU ticks a process has used (/proc/PID/stat).
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// The service (`hotich-agent run`) at rest: fresh, and after it has sent
/// `--records` records; RSS and CPU ticks over 60 s of idling.
fn bench_idle(args: &Args, dir: &Path) -> Result<()> {
    let n = args.records;
    let file = records_file(dir, n)?;
    println!("\n## The service at rest (`hotich-agent run`), before and after sending {n} records");
    println!(
        "| run | RSS fresh (MB) | peak RSS while sending (MB) | RSS idle after (MB) | CPU ticks idle over 60 s |"
    );
    println!(
        "|----:|---------------:|----------------------------:|--------------------:|-------------------------:|"
    );
    let (mut fresh_mb, mut peak_mb, mut after_mb, mut ticks) = (vec![], vec![], vec![], vec![]);
    for run in 1..=args.runs {
        let server = TestServer::start();
        let agent = TestAgent::init_with(&server.url(), &server.add_agent("00004"), "00004", "");
        let mut service = agent
            .command()
            .arg("run")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let pid = service.id();
        std::thread::sleep(Duration::from_secs(5));
        let fresh = rss_now(pid).context("the service is not running")?;
        let out = agent.import(&file);
        if !out.status.success() {
            bail!("import failed: {}{}", stdout(&out), stderr(&out));
        }
        let sent = wait_until(Duration::from_secs(600), || agent.pending() == 0);
        if !sent || server.export().len() as u64 != n {
            let _ = service.kill();
            bail!("the service did not send everything");
        }
        // The round's end: memory is given back when the service goes idle.
        std::thread::sleep(Duration::from_secs(5));
        let peak = peak_rss(pid).context("the service stopped")?;
        let after = rss_now(pid).context("the service stopped")?;
        let t0 = cpu_ticks(pid).context("the service stopped")?;
        std::thread::sleep(Duration::from_secs(60));
        let t1 = cpu_ticks(pid).context("the service stopped")?;
        service.kill()?;
        service.wait()?;
        let mb = |b: u64| b as f64 / 1_048_576.0;
        println!(
            "| {run} | {:.1} | {:.1} | {:.1} | {} |",
            mb(fresh),
            mb(peak),
            mb(after),
            t1 - t0
        );
        fresh_mb.push(mb(fresh));
        peak_mb.push(mb(peak));
        after_mb.push(mb(after));
        ticks.push((t1 - t0) as f64);
    }
    println!(
        "| **median** | **{:.1}** | **{:.1}** | **{:.1}** | **{:.0}** |",
        median(fresh_mb),
        median(peak_mb),
        median(after_mb),
        median(ticks)
    );
    Ok(())
}
