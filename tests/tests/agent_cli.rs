//! The agent's command line as users and scripts run it: hash, validate,
//! init, import, status, verify, and the durability of import under kill -9.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use hotich_tests::harness::{agent_cmd, run, stderr, stdout};
use hotich_tests::records::Rng;
use hotich_tests::{RecordGen, TestAgent};
use serde_json::{Value, json};

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../protocol/tests/vectors/canonical")
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// An agent whose server does not exist: enough for local commands.
fn offline_agent() -> TestAgent {
    TestAgent::init_offline("http://127.0.0.1:9", "hts_test", "00004")
}

fn one_line_error(out: &std::process::Output) -> String {
    let err = stderr(out);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line on stderr: {err}");
    err
}

#[test]
fn hash_prints_the_expected_hash_for_every_canonical_vector() {
    let expected: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(vectors().join("expected.json")).unwrap())
            .unwrap();
    assert!(expected.len() >= 24);
    for case in expected {
        let name = case["name"].as_str().unwrap();
        let out = run(agent_cmd()
            .arg("hash")
            .arg(vectors().join(format!("{name}.input.json"))));
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        assert_eq!(
            stdout(&out).trim(),
            case["sha256"].as_str().unwrap(),
            "{name}"
        );
    }
    // Standard input too.
    let mut child = agent_cmd()
        .args(["hash", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"{\"b\": 1, \"a\": \"Ha\xcc\x80\"}")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let nfc = run(agent_cmd().arg("hash").arg(write(
        tempfile::tempdir().unwrap().keep().as_path(),
        "x.json",
        "{\"a\":\"Hà\",\"b\":1}".as_bytes(),
    )));
    assert_eq!(
        stdout(&out),
        stdout(&nfc),
        "NFD on stdin hashes like NFC in a file"
    );
}

#[test]
fn hash_explains_bad_input_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes, expect) in [
        (
            "broken.json",
            &b"{\"a\": 1,\n \"b\": }"[..],
            "broken.json:2:",
        ),
        ("latin.json", &b"{\"a\": \"Nguy\xean\"}"[..], "not UTF-8"),
        ("empty.json", &b"  \n"[..], "empty"),
        ("dup.json", &b"{\"a\": 1, \"a\": 2}"[..], "duplicate key"),
    ] {
        let out = run(agent_cmd().arg("hash").arg(write(dir.path(), name, bytes)));
        assert_eq!(out.status.code(), Some(1), "{name}");
        let err = one_line_error(&out);
        assert!(err.contains(expect), "{name}: {err}");
    }
    let out = run(agent_cmd().args(["hash", "/no/such/file.json"]));
    assert!(!out.status.success());
    assert!(one_line_error(&out).contains("/no/such/file.json"));
}

fn valid_record(entry: u64) -> Value {
    let mut r = RecordGen::new(3, "00004").record(entry);
    r["kind"] = json!("birth");
    r
}

#[test]
fn validate_prints_one_line_per_problem_with_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let g = RecordGen::new(3, "00004");
    let mut bad = g.record(2);
    bad["registered_on"] = json!("1998-02-30");
    bad["commune_code"] = json!("4");
    let lines = format!("{}\n{}\n\n{}\n", g.record(1), bad, g.record(3));
    let file = write(dir.path(), "mixed.jsonl", lines.as_bytes());
    let out = run(agent_cmd().arg("validate").arg(&file));
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let name = file.display().to_string();
    assert!(
        text.contains(&format!(
            "{name}:2: registered_on: \"1998-02-30\" is not a real date"
        )),
        "{text}"
    );
    assert!(text.contains(&format!("{name}:2: commune_code:")), "{text}");
    assert!(
        text.contains("3 records checked: 2 valid, 1 with problems"),
        "{text}"
    );

    let ok = write(
        dir.path(),
        "ok.json",
        format!("[\n{},\n{}\n]", g.record(1), g.record(5)).as_bytes(),
    );
    let out = run(agent_cmd().arg("validate").arg(&ok));
    assert!(out.status.success(), "{}", stdout(&out));
}

#[test]
fn bad_inputs_each_get_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let header = "kind,commune_code,register.year,register.book,register.entry,registered_on,child.full_name,child.sex,child.date_of_birth";
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "broken.jsonl",
            format!("{}\n{{\"kind\": \"birth\",\n", valid_record(1)).into_bytes(),
            "broken.jsonl:2: (record): invalid JSON",
        ),
        (
            "excel.csv",
            format!("{header}\nbirth,00004,1998,01,1,1998-03-20,Nguy\u{1ec5}n,male,1998-03-15\n")
                .replace("\u{1ec5}", "\u{0}")
                .into_bytes()
                .iter()
                .map(|b| if *b == 0 { 0xD5 } else { *b })
                .collect(),
            "excel.csv:2: byte 0xD5 at column",
        ),
        (
            "missing.csv",
            b"kind,commune_code,child.full_name\nbirth,00004,An\n".to_vec(),
            "missing.csv:1: missing required columns register.year, register.book, register.entry, registered_on",
        ),
        (
            "empty.jsonl",
            b"\n\n".to_vec(),
            "empty.jsonl: the file is empty",
        ),
        (
            "dup.csv",
            format!("{header},child.sex\n").into_bytes(),
            "dup.csv:1: column \"child.sex\" appears twice",
        ),
        (
            "typo.csv",
            format!("{header},child.hometwn\n").into_bytes(),
            "did you mean child.hometown?",
        ),
        (
            "array.json",
            b"[{\"kind\": \"birth\"},\n {\"kind\" \"x\"}]".to_vec(),
            "array.json:2: invalid JSON",
        ),
    ];
    for (name, bytes, expect) in cases {
        let file = write(dir.path(), name, &bytes);
        let out = run(agent_cmd().arg("validate").arg(&file));
        assert_eq!(out.status.code(), Some(1), "{name}: {}", stdout(&out));
        let text = stdout(&out) + &stderr(&out);
        assert!(
            text.contains(expect),
            "{name}: expected {expect:?} in:\n{text}"
        );
        assert!(!text.contains("panicked"), "{text}");
    }
    // The encoding message says what to do about it.
    let out = run(agent_cmd()
        .arg("validate")
        .arg(dir.path().join("excel.csv")));
    assert!(
        stdout(&out).contains("Windows-1258") && stdout(&out).contains("UTF-8"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn init_is_private_never_prints_the_token_and_refuses_to_overwrite() {
    let agent = TestAgent::init_offline("http://127.0.0.1:9", "hts_secret_token_value", "00004");
    let config = std::fs::read_to_string(agent.data_dir.join("config.toml")).unwrap();
    assert!(config.contains("hts_secret_token_value"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(agent.data_dir.join("config.toml"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "config is owner-only: {mode:o}");
        let mode = std::fs::metadata(&agent.data_dir)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "data dir is owner-only: {mode:o}");
    }
    let again = agent.cmd(&[
        "init",
        "--server",
        "http://127.0.0.1:9",
        "--token",
        "hts_other",
        "--commune",
        "00004",
    ]);
    assert_eq!(again.status.code(), Some(2));
    assert!(one_line_error(&again).contains("--force"));
    let forced = agent.cmd(&[
        "init",
        "--server",
        "http://127.0.0.1:1",
        "--token",
        "hts_other",
        "--commune",
        "00004",
        "--force",
        "--offline",
    ]);
    assert!(forced.status.success(), "{}", stderr(&forced));
    assert!(!stdout(&forced).contains("hts_other") && !stderr(&forced).contains("hts_other"));
    let bad = agent.cmd(&[
        "init",
        "--server",
        "x",
        "--token",
        "t",
        "--commune",
        "4",
        "--force",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    // Status shows the server but never the token.
    let status = agent.cmd(&["status"]);
    assert!(status.status.success());
    assert!(!stdout(&status).contains("hts_other"));
}

#[test]
fn import_keeps_the_valid_and_writes_every_refused_record_to_a_rejects_file() {
    let agent = offline_agent();
    let g = RecordGen::new(4, "00004");
    let mut invalid = g.record(1);
    invalid["registered_on"] = json!("2099-01-01");
    let foreign = RecordGen::new(4, "00005").record(2);
    let mut conflicting = g.record(0);
    conflicting["notes"] = json!("a different version of entry 0");
    let lines = [
        g.record(0).to_string(),
        invalid.to_string(),
        "{not json".into(),
        foreign.to_string(),
        conflicting.to_string(),
        g.record(3).to_string(),
    ];
    let file = write(
        agent.dir.path(),
        "batch.jsonl",
        (lines.join("\n") + "\n").as_bytes(),
    );
    let out = agent.import(&file);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("batch.jsonl:2: registered_on:"), "{text}");
    assert!(
        text.contains("batch.jsonl:3: (record): invalid JSON"),
        "{text}"
    );
    assert!(
        text.contains("batch.jsonl:4: commune_code: 00005 is not this office's commune (00004)"),
        "{text}"
    );
    assert!(
        text.contains("batch.jsonl:5: register:") && text.contains("supersedes"),
        "{text}"
    );
    assert!(
        text.contains("Import finished: 2 accepted, 0 already present, 4 rejected"),
        "{text}"
    );
    let rejects = agent.dir.path().join("batch.rejects.jsonl");
    assert!(text.contains(&rejects.display().to_string()), "{text}");
    let rejected: Vec<Value> = std::fs::read_to_string(&rejects)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        rejected
            .iter()
            .map(|r| r["line"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        vec![2, 3, 4, 5]
    );
    assert_eq!(
        rejected[0]["record"], invalid,
        "the user's record is kept as given"
    );
    assert_eq!(rejected[1]["record"], json!("{not json"));
    assert_eq!(agent.pending(), 2);

    // A correction that names the entry it replaces is accepted.
    let hash = {
        let f = write(
            agent.dir.path(),
            "orig.json",
            g.record(0).to_string().as_bytes(),
        );
        stdout(&agent.cmd(&["hash", f.to_str().unwrap()]))
            .trim()
            .to_string()
    };
    // `hash` hashes the document as written; the journal hashes the normalized record, the same here.
    conflicting["supersedes"] = json!(hash);
    conflicting["correction_reason"] = json!("ghi sai khi nhập");
    let fix = write(
        agent.dir.path(),
        "fix.jsonl",
        format!("{conflicting}\n").as_bytes(),
    );
    let out = agent.import(&fix);
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(stdout(&out).contains("1 accepted"));
}

#[test]
fn csv_with_bom_and_semicolons_imports_and_rejects_come_back_as_csv() {
    let agent = offline_agent();
    let header = "kind;commune_code;register.year;register.book;register.entry;registered_on;child.full_name;child.sex;child.date_of_birth;mother.full_name;mother.birth_year";
    let body = format!(
        "\u{feff}{header}\nbirth;00004;1998;01;1;1998-03-20;Nguyễn Văn An;male;1998-03-15;Trần Thị Bình;1970\nbirth;00004;1998;01;2;1998-03-20;Lê Thị Chi;X;1998-03-16;;\n"
    );
    let file = write(agent.dir.path(), "so-01.csv", body.as_bytes());
    let out = agent.import(&file);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("so-01.csv:3: child.sex: \"X\" is not male or female"),
        "{}",
        stdout(&out)
    );
    let rejects = std::fs::read_to_string(agent.dir.path().join("so-01.rejects.csv")).unwrap();
    // The same dialect as the input (BOM, ';'), with a Lỗi column.
    let rejects = rejects
        .strip_prefix('\u{feff}')
        .expect("a BOM, as the input had");
    let mut lines = rejects.lines();
    assert!(lines.next().unwrap().ends_with(";Lỗi"), "{rejects}");
    assert!(lines.next().unwrap().contains("Lê Thị Chi"), "{rejects}");
    // The official fixes the cell and imports the rejects file as it is.
    let fixed = rejects.replace(";X;", ";Nữ;");
    let fixed_file = write(agent.dir.path(), "so-01-fixed.csv", fixed.as_bytes());
    let out = agent.import(&fixed_file);
    assert!(out.status.success(), "{}", stdout(&out));
    assert_eq!(agent.pending(), 2);
}

#[test]
fn status_reports_counts_and_the_oldest_waiting_record() {
    let agent = offline_agent();
    let file = agent.dir.path().join("r.jsonl");
    RecordGen::new(5, "00004")
        .write_jsonl(&file, 0, 25)
        .unwrap();
    assert!(agent.import(&file).status.success());
    let s = agent.status();
    assert_eq!(s["pending"], 25);
    assert_eq!(s["journal_entries"], 25);
    assert_eq!(s["parked"], 0);
    assert_eq!(s["commune"], "00004");
    assert_eq!(s["service_running"], false);
    assert!(s["oldest_pending_age_secs"].as_i64().unwrap() >= 0);
    assert!(s["last_success_at"].is_null() && s["last_error"].is_null());
    let text = stdout(&agent.cmd(&["status"]));
    assert!(
        text.contains("25 in the journal: 0 sent, 25 waiting"),
        "{text}"
    );
}

#[test]
fn verify_fails_naming_the_entry_edited_with_sql() {
    let agent = offline_agent();
    let file = agent.dir.path().join("r.jsonl");
    RecordGen::new(6, "00004")
        .write_jsonl(&file, 0, 50)
        .unwrap();
    assert!(agent.import(&file).status.success());
    let out = agent.cmd(&["verify"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("50 entries"));
    {
        let conn = rusqlite::Connection::open(agent.journal_path()).unwrap();
        conn.execute_batch("DROP TRIGGER entries_are_append_only")
            .unwrap();
        conn.execute(
            "UPDATE entries SET record = replace(record, 'Việt Nam', 'Viet Nam') WHERE seq = 17",
            [],
        )
        .unwrap();
    }
    let out = agent.cmd(&["verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        one_line_error(&out).contains("entry #17"),
        "{}",
        stderr(&out)
    );
}

/// Imports files in several processes at once into one journal.
#[test]
fn concurrent_imports_keep_one_linear_chain() {
    let agent = offline_agent();
    let g = RecordGen::new(7, "00004");
    let files: Vec<PathBuf> = (0..4)
        .map(|i| {
            let f = agent.dir.path().join(format!("part{i}.jsonl"));
            g.write_jsonl(&f, i * 3_000, (i + 1) * 3_000).unwrap();
            f
        })
        .collect();
    let children: Vec<_> = files
        .iter()
        .map(|f| {
            agent
                .command()
                .arg("import")
                .arg(f)
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stdout(&out));
    }
    let out = agent.cmd(&["verify", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["entries"], 12_000);
    assert_eq!(v["intact"], true);
}

/// Kills `import` with SIGKILL at random moments; every record it reported
/// accepted (a `committed` event) must be in the journal, and the chain must
/// verify, every time.
#[test]
fn import_killed_at_random_moments_keeps_everything_it_reported() {
    let agent = offline_agent();
    let g = RecordGen::new(8, "00004");
    let per_file = 8_000u64;
    let mut rng = Rng::new(2026);
    let mut kills = 0;
    let mut reported_total = 0usize;
    // How long a whole import takes here, so kills land inside it.
    let calibration = agent.dir.path().join("calibrate.jsonl");
    g.write_jsonl(&calibration, 24 * per_file, 25 * per_file)
        .unwrap();
    let started = std::time::Instant::now();
    assert!(agent.import(&calibration).status.success());
    let mut max_delay_ms = started.elapsed().as_millis().max(20) as u64;
    let mut rounds = 0u64;
    // At least 20 kills mid-way; a run that finished first shortens the next delays.
    while kills < 20 && rounds < 60 {
        let round = rounds;
        rounds += 1;
        let file = agent.dir.path().join(format!("k{round}.jsonl"));
        g.write_jsonl(&file, (round + 1) * per_file, (round + 2) * per_file)
            .unwrap();
        let mut child = agent
            .command()
            .args(["import", "--json"])
            .arg(&file)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut through = 0u64;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let Ok(v) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if v["event"] == "committed" {
                    through = v["through_line"].as_u64().unwrap();
                }
            }
            through
        });
        std::thread::sleep(Duration::from_millis(rng.below(max_delay_ms * 9 / 10)));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        } else {
            max_delay_ms = (max_delay_ms * 2 / 3).max(10);
        }
        child.wait().unwrap();
        let through = reader.join().unwrap();
        // Every record on lines 1..=through was reported accepted.
        let journal: std::collections::HashSet<String> =
            agent.journal_hashes().into_iter().collect();
        let reported = g.hashes((round + 1) * per_file, (round + 1) * per_file + through);
        let missing = reported.iter().filter(|h| !journal.contains(*h)).count();
        assert_eq!(
            missing, 0,
            "round {round}: {missing} reported records are not in the journal"
        );
        reported_total += reported.len();
        let out = agent.cmd(&["verify"]);
        assert!(out.status.success(), "round {round}: {}", stderr(&out));
    }
    assert!(kills >= 20, "only {kills} imports were killed mid-way");
    assert!(reported_total > 0, "no import got as far as a commit");
    // Importing everything again completes the journal without duplicates.
    for round in 0..rounds {
        let out = agent.import(&agent.dir.path().join(format!("k{round}.jsonl")));
        assert!(out.status.success(), "{}", stdout(&out));
    }
    let out = agent.cmd(&["verify", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["entries"], (rounds + 1) * per_file);
    assert_eq!(v["intact"], true);
}

#[test]
fn only_one_syncing_service_per_data_dir() {
    let server = hotich_tests::TestServer::start();
    let token = server.add_agent("00004");
    let mut agent = TestAgent::init(&server.url(), &token, "00004");
    agent.start_service();
    let out = agent.cmd(&["run"]);
    assert_eq!(out.status.code(), Some(2));
    let err = one_line_error(&out);
    assert!(err.contains("already running"), "{err}");
    assert!(
        err.contains(&agent.service_pid().unwrap().to_string()),
        "names the holder: {err}"
    );
    assert!(agent.stop_service());
}

#[test]
fn a_journal_keeps_its_commune() {
    let agent = offline_agent();
    let file = agent.dir.path().join("r.jsonl");
    RecordGen::new(11, "00004")
        .write_jsonl(&file, 0, 3)
        .unwrap();
    assert!(agent.import(&file).status.success());
    let out = agent.cmd(&[
        "init",
        "--server",
        "http://127.0.0.1:9",
        "--token",
        "t",
        "--commune",
        "00005",
        "--force",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = one_line_error(&out);
    assert!(
        err.contains("holds records of commune 00004") && err.contains("new data directory"),
        "{err}"
    );
    assert_eq!(agent.status()["commune"], "00004");
}

#[test]
fn hash_of_a_record_is_the_hash_it_is_stored_under() {
    let agent = offline_agent();
    let mut record = RecordGen::new(12, "00004").record(1);
    record["notes"] = json!("  written with spaces around  ");
    record["father"]["residence"] = json!("");
    let file = write(agent.dir.path(), "one.json", record.to_string().as_bytes());
    let plain = stdout(&agent.cmd(&["hash", file.to_str().unwrap()]));
    let as_record = stdout(&agent.cmd(&["hash", "--record", file.to_str().unwrap()]));
    assert_ne!(plain, as_record, "normalization changes this record");
    let jsonl = write(
        agent.dir.path(),
        "one.jsonl",
        format!("{record}\n").as_bytes(),
    );
    assert!(agent.import(&jsonl).status.success());
    assert_eq!(agent.journal_hashes(), vec![as_record.trim().to_string()]);
    let mut bad = record.clone();
    bad["registered_on"] = json!("2099-01-01");
    let bad_file = write(agent.dir.path(), "bad.json", bad.to_string().as_bytes());
    let out = agent.cmd(&["hash", "--record", bad_file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(one_line_error(&out).contains("registered_on"));
}

/// `config show` prints what is in use (the file, then the environment),
/// every setting, and never the token.
#[test]
fn config_show_prints_the_effective_settings_without_the_token() {
    let agent = TestAgent::init_offline("http://127.0.0.1:9", "hts_secret_token_value", "00004");
    let out = run(agent
        .command()
        .env("HOTICH_SERVER", "https://hotich.example.vn")
        .args(["config", "show", "--json"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(!text.contains("secret_token_value"), "{text}");
    let shown: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(shown["server"], "https://hotich.example.vn");
    assert_eq!(shown["token"], "hts_***");
    assert_eq!(shown["commune"], "00004");
    assert_eq!(shown["sync"]["probe_secs"], 5);
    let toml = stdout(&agent.cmd(&["config", "show"]));
    assert!(
        toml.contains("[sync]")
            && toml.contains("token = \"hts_***\"")
            && !toml.contains("secret_token_value"),
        "{toml}"
    );
    // A bad value is an error at start that names the key.
    let config = agent.data_dir.join("config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("[sync]\n", "[sync]\nprobe_secs = 0\n"),
    )
    .unwrap();
    let out = agent.cmd(&["config", "show"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains("probe_secs"), "{}", stderr(&out));
}
